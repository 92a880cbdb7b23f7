"""Run the app under uvicorn with uvloop (when installed), httptools (heads limited) and the raw fan-out WebSocket
protocol.

Exit statuses: 0 after a clean stop (uvicorn re-raises SIGTERM or SIGINT once it has shut down, so a shell sees
143 or 130; as a container's PID 1 the re-raised signal is ignored and the status is 0), 1 the server could not
start (e.g. the port is taken), 2 bad settings, 3 the shared market failed (``EXIT_MARKET_FAILED``).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import socket
import time
from collections.abc import Sequence
from types import FrameType

import uvicorn

from coinapi_emulator.server.cli.logs import log_config
from coinapi_emulator.server.cli.open_files import log_open_files_limit, raise_open_files_limit
from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.admin_access import is_loopback
from coinapi_emulator.server.http.app import Service, create_app
from coinapi_emulator.server.plane.implementation import implementations, package_version
from coinapi_emulator.server.transport.http import HeadLimits, head_limited_protocol
from coinapi_emulator.server.transport.raw import FanoutWebSocketProtocol

logger = logging.getLogger(__name__)


#: exit status when the shared market stopped after repeated failures, so that an orchestrator restarts the process
EXIT_MARKET_FAILED = 3
#: how often the grace period looks for a second signal
_GRACE_POLL_S = 0.05


class EmulatorServer(uvicorn.Server):
    """uvicorn's server, plus a drain on shutdown: stop accepting, ``/ready`` 503, CoinAPI's ``reconnect`` notice to
    every client, the grace period (a second signal of any kind cuts it short), then uvicorn's close. It also exits,
    with ``EXIT_MARKET_FAILED``, when the shared market has failed."""

    def __init__(self, config: uvicorn.Config, emulator: Emulator) -> None:
        super().__init__(config)
        self.emulator = emulator
        self.exit_code = 0

    async def on_tick(self, counter: int) -> bool:
        if self.emulator.failed and not self.should_exit:
            logger.error("the shared market failed: shutting down, exit status %d", EXIT_MARKET_FAILED)
            self.exit_code = EXIT_MARKET_FAILED
            self.should_exit = True
        return await super().on_tick(counter)

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._log_endpoints()

    def _log_endpoints(self) -> None:
        """Where to connect, with the port really bound (``--port 0`` picks one) and what implementation runs."""
        settings = self.emulator.settings
        host, port = settings.host, self.servers[0].sockets[0].getsockname()[1]
        netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        ws, http = ("wss", "https") if settings.tls else ("ws", "http")
        logger.info(
            "CoinAPI WebSocket on %s://%s/v1/, REST on %s://%s/v1/%s%s",
            ws,
            netloc,
            http,
            netloc,
            ", admin API on /admin" if settings.admin else "",
            f", dashboard on {http}://{netloc}/dashboard" if settings.dashboard else "",
        )
        running = implementations()
        logger.info(
            "coinapi-emulator %s: simulator %s, codec %s, loop %s",
            package_version(),
            running["simulator"],
            running["codec"],
            running["loop"],
        )

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # from the first signal on, /ready answers 503 so that a load balancer stops sending new clients at once
        self.emulator.draining = True
        # uvicorn cuts a graceful shutdown short on a second SIGINT only; orchestrators send SIGTERM twice
        if self.should_exit:
            self._captured_signals.append(sig)
            self.force_exit = True
        else:
            super().handle_exit(sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()  # new connections are refused from now on; uvicorn would only stop after the grace
        self.emulator.draining = True
        grace_s = self.emulator.settings.shutdown_grace_s
        # uvicorn closes WebSockets (1012) before the app's lifespan shutdown runs, so the notice goes out here.
        self.emulator.announce_reconnect(math.ceil(grace_s))
        deadline_s = time.monotonic() + grace_s
        while not self.force_exit and time.monotonic() < deadline_s:
            await asyncio.sleep(min(_GRACE_POLL_S, max(0.0, deadline_s - time.monotonic())))
        await super().shutdown(sockets)


def uvicorn_config(settings: Settings, emulator: Emulator, services: Sequence[Service] = ()) -> uvicorn.Config:
    """The uvicorn configuration serving ``emulator`` (and starting ``services`` with it)."""
    return uvicorn.Config(
        create_app(settings, emulator=emulator, services=services),
        host=settings.host,
        port=settings.port,
        # uvloop when installed (not on Windows), else asyncio's own loop
        loop="auto",
        http=head_limited_protocol(
            HeadLimits(settings.max_header_size, settings.max_header_count, settings.header_timeout_s)
        ),
        ws=FanoutWebSocketProtocol,
        # the hard limit, checked at a frame's header; the app answers messages over --max-message-size itself
        ws_max_size=4 * settings.max_message_size,
        # uvicorn negotiates (window 2**12, memLevel 5) and keeps websockets' own zlib state per such connection;
        # RawSink compresses the shared frames per connection with zlib-ng (server/transport/deflate.py).
        ws_per_message_deflate=settings.compression == "auto",
        ws_ping_interval=settings.ws_ping_interval_s or None,
        ws_ping_timeout=settings.ws_ping_timeout_s,
        log_level=settings.log_level,
        log_config=log_config(settings),
        access_log=settings.access_log,
        ssl_certfile=settings.ssl_certfile,
        ssl_keyfile=settings.ssl_keyfile,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        lifespan="on",
    )


def _warn_of_exposure(settings: Settings) -> None:
    """Say so when the admin API listens beyond this machine: anyone who reaches the port can stop the market."""
    if not settings.admin or is_loopback(settings.host):
        return
    if settings.admin_token is None and settings.admin_token_file is None:
        logger.warning(
            "the admin API is on and --host %s is not loopback: it answers this machine only; "
            "give --admin-token(-file) to let other machines call it",
            settings.host,
        )
    else:
        logger.warning(
            "the admin API is on and --host %s is not loopback: it answers any address with the token", settings.host
        )


def run(settings: Settings, *, emulator: Emulator | None = None, services: Sequence[Service] = ()) -> None:
    """Serve until interrupted (``emulator``: one built with a bus; ``services``: its bus link)."""
    open_files = raise_open_files_limit(settings.max_connections)
    # building the emulator validates the settings (e.g. the API key file) before anything listens
    emulator = emulator or Emulator(settings)
    # The catalogue, the market's state and the app live as long as the process: moved out of the collector's
    # reach, they no longer make every full collection a pause of tens of ms on the event loop.
    gc.freeze()
    server = EmulatorServer(uvicorn_config(settings, emulator, services), emulator)
    log_open_files_limit(open_files, settings.max_connections)  # the config above set the logging up
    _warn_of_exposure(settings)
    server.run()
    if server.exit_code:
        raise SystemExit(server.exit_code)
