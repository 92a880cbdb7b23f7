"""Run the app under uvicorn with uvloop, httptools (heads limited) and the raw fan-out WebSocket protocol."""

from __future__ import annotations

import asyncio
import copy
import gc
import logging
import math
import socket
import time
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.admin_access import is_loopback
from coinapi_emulator.server.http.app import create_app
from coinapi_emulator.server.protocol.keys import redact
from coinapi_emulator.server.transport.http import HeadLimits, head_limited_protocol
from coinapi_emulator.server.transport.raw import FanoutWebSocketProtocol

logger = logging.getLogger(__name__)


#: exit status when the shared market stopped after repeated failures, so that an orchestrator restarts the process
#: (a signal ends the process with that signal, as uvicorn does; 1: it could not start; 2: bad settings)
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

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
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


def uvicorn_config(settings: Settings, emulator: Emulator) -> uvicorn.Config:
    """The uvicorn configuration serving ``emulator``."""
    return uvicorn.Config(
        create_app(settings, emulator=emulator),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
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
        log_config=_log_config(settings),
        lifespan="on",
    )


class RedactKeys(logging.Filter):
    """Replaces the API keys in a log line with ``***``: uvicorn's access and upgrade lines quote the request target
    (``?apikey=``, ``/APIKEY-``), and at debug level the WebSocket library logs handshake headers and messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            # its formatter takes the request's parts from ``args``; the target is one of them
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        else:
            # a header's name and value may be two arguments: the whole line is redacted
            record.msg, record.args = redact(record.getMessage()), None
        return True


def _log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's logging setup, extended to this package's loggers, with keys redacted from every line."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_keys": {"()": RedactKeys}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_keys"]
    level = settings.log_level.upper() if settings.log_level != "trace" else "DEBUG"
    for name in ("coinapi_emulator",):
        config["loggers"][name] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


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


def run(settings: Settings) -> None:
    """Serve until interrupted."""
    emulator = Emulator(settings)  # validates the settings (e.g. the API key file) before anything listens
    # The catalogue, the market's state and the app live as long as the process: moved out of the collector's
    # reach, they no longer make every full collection a pause of tens of ms on the event loop.
    gc.freeze()
    server = EmulatorServer(uvicorn_config(settings, emulator), emulator)
    _warn_of_exposure(settings)
    server.run()
    if server.exit_code:
        raise SystemExit(server.exit_code)
