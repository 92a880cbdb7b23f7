"""Run the app under uvicorn with uvloop, httptools and the raw fan-out WebSocket protocol."""

from __future__ import annotations

import asyncio
import copy
import gc
import math
import socket
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.app import create_app
from coinapi_emulator.server.transport.raw import FanoutWebSocketProtocol


class EmulatorServer(uvicorn.Server):
    """uvicorn's server, plus CoinAPI's ``reconnect`` notice to every client before a shutdown closes them."""

    def __init__(self, config: uvicorn.Config, emulator: Emulator) -> None:
        super().__init__(config)
        self.emulator = emulator

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        grace_s = self.emulator.settings.shutdown_grace_s
        # uvicorn closes WebSockets (1012) before the app's lifespan shutdown runs, so the notice goes out here.
        self.emulator.announce_reconnect(math.ceil(grace_s))
        await asyncio.sleep(grace_s)
        await super().shutdown(sockets)


def uvicorn_config(settings: Settings, emulator: Emulator) -> uvicorn.Config:
    """The uvicorn configuration serving ``emulator``."""
    return uvicorn.Config(
        create_app(settings, emulator=emulator),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws=FanoutWebSocketProtocol,
        # uvicorn negotiates (window 2**12, memLevel 5) and keeps websockets' own zlib state per such connection;
        # RawSink compresses the shared frames per connection with zlib-ng (server/transport/deflate.py).
        ws_per_message_deflate=settings.compression == "auto",
        ws_ping_interval=settings.ws_ping_interval_s or None,
        ws_ping_timeout=settings.ws_ping_timeout_s,
        log_level=settings.log_level,
        log_config=_log_config(settings),
        lifespan="on",
    )


def _log_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's logging setup, extended to this package's loggers."""
    config = copy.deepcopy(LOGGING_CONFIG)
    level = settings.log_level.upper() if settings.log_level != "trace" else "DEBUG"
    for name in ("coinapi_emulator",):
        config["loggers"][name] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def run(settings: Settings) -> None:
    """Serve until interrupted."""
    emulator = Emulator(settings)  # validates the settings (e.g. the API key file) before anything listens
    # The catalogue, the market's state and the app live as long as the process: moved out of the collector's
    # reach, they no longer make every full collection a pause of tens of ms on the event loop.
    gc.freeze()
    EmulatorServer(uvicorn_config(settings, emulator), emulator).run()
