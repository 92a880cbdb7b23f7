"""The starlette application: routes only; the market side comes wired from ``Emulator``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.routing import BaseRoute, WebSocketRoute

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.admin import admin_routes
from coinapi_emulator.server.http.admin_access import AdminAccess, admin_token
from coinapi_emulator.server.http.contracts import contract_routes
from coinapi_emulator.server.http.dashboard import dashboard_routes
from coinapi_emulator.server.http.responses import not_found
from coinapi_emulator.server.http.rest import rest_routes
from coinapi_emulator.server.http.websocket import WebSocketEndpoint

#: PROTOCOL.md §1.1: SDKs dial the root (C#), /v1 (Python example) or /v1/ (Go, Java, Node), and §1.3 allows a
#: trailing /APIKEY-<key> segment.
WEBSOCKET_PATHS = ("/", "/v1", "/v1/", "/APIKEY-{key}", "/v1/APIKEY-{key}")


class Service(Protocol):
    """Something the app starts before it serves and stops after (a gateway's or simulator's bus link)."""

    async def start(self) -> None:
        """Start; raising fails the start-up."""

    async def stop(self) -> None:
        """Stop (after the emulator)."""


def create_app(
    settings: Settings | None = None, *, emulator: Emulator | None = None, services: Sequence[Service] = ()
) -> Starlette:
    """The ASGI app for ``settings`` (or for a prepared ``emulator``, e.g. with a test clock); ``services`` start
    before the emulator and stop after it."""
    emulator = emulator or Emulator(settings or Settings())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        for service in services:
            await service.start()
        emulator.start()
        try:
            yield
        finally:
            emulator.stop()
            for service in reversed(services):
                await service.stop()

    endpoint = WebSocketEndpoint(emulator)
    routes: list[BaseRoute] = [WebSocketRoute(path, endpoint.serve) for path in WEBSOCKET_PATHS]
    routes += rest_routes(emulator) + contract_routes(emulator.settings)
    access = AdminAccess(admin_token(emulator.settings))  # checked even when off: a token without --admin is a mistake
    if emulator.settings.admin:
        routes += admin_routes(emulator, access)
    if emulator.settings.dashboard:
        routes += dashboard_routes(emulator)
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: not_found},
        # REST bodies compressed for clients that accept gzip (CoinAPI encourages Accept-Encoding); WebSocket scopes
        # pass through untouched. Level 5, not starlette's 9: a 320 kB candle history compresses in 3 ms instead of
        # 14 ms, and only 4% larger
        middleware=[Middleware(GZipMiddleware, minimum_size=1024, compresslevel=5)],
    )
    app.state.emulator = emulator
    return app
