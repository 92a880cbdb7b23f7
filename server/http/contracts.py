"""The API's contracts: ``GET /openapi.json`` (HTTP, ``openapi.py``) and ``GET /asyncapi.json`` (WebSocket,
``protocol/asyncapi.py``), without a key. ``make contracts`` writes the second as ``docs/asyncapi.yaml``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.http.openapi import openapi_document
from coinapi_emulator.server.http.responses import JsonResponse
from coinapi_emulator.server.plane.implementation import package_version
from coinapi_emulator.server.protocol.asyncapi import asyncapi_document


def contract_routes(settings: Settings) -> list[BaseRoute]:
    """``/openapi.json`` (with the admin and dashboard paths when they are served) and ``/asyncapi.json``."""
    version = package_version()
    # built once: neither changes while the server runs
    openapi = orjson.dumps(openapi_document(version, admin=settings.admin, dashboard=settings.dashboard))
    asyncapi = orjson.dumps(asyncapi_document(version))

    return [Route("/openapi.json", _serve(openapi)), Route("/asyncapi.json", _serve(asyncapi))]


def _serve(body: bytes) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return Response(body, media_type=JsonResponse.media_type)

    return endpoint
