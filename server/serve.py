"""Run the app under uvicorn with uvloop, httptools and the raw fan-out WebSocket protocol."""

from __future__ import annotations

import copy
from typing import Any

import uvicorn
from uvicorn.config import LOGGING_CONFIG

from .app import create_app
from .config import Settings
from .uvicorn_protocol import FanoutWebSocketProtocol


def uvicorn_config(settings: Settings) -> uvicorn.Config:
    """The uvicorn configuration for ``settings`` (building the app validates the settings)."""
    app = create_app(settings)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws=FanoutWebSocketProtocol,
        # Data frames bypass the per-connection compressor (see uvicorn_protocol.py), so negotiating
        # permessage-deflate would only cost each connection a zlib context.
        ws_per_message_deflate=False,
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
    for name in ("server", "simulator"):
        config["loggers"][name] = {"handlers": ["default"], "level": level, "propagate": False}
    return config


def run(settings: Settings) -> None:
    """Serve until interrupted."""
    uvicorn.Server(uvicorn_config(settings)).run()
