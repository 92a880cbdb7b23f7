"""Responses in CoinAPI's REST shape, shared by REST, the admin API and the app's error handler.

Errors are a non-200 status with ``{"error": "<text>"}`` (PROTOCOL.md §7); bodies are encoded with orjson, which keeps
``orjson.Fragment`` decimal tokens intact.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response


class JsonResponse(Response):
    """orjson-encoded JSON (keeps ``orjson.Fragment`` decimal tokens intact)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


#: PROTOCOL.md §7: the status of CoinAPI's "no data" answers (an unknown id)
NO_DATA = 550


class RestError(Exception):
    """A request that gets CoinAPI's error body: raised by REST handlers, answered by the REST guard."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


def error_response(status_code: int, message: str) -> JsonResponse:
    """CoinAPI's error body."""
    return JsonResponse({"error": message}, status_code=status_code)


async def not_found(request: Request, exc: Exception) -> Response:
    """404 (and other HTTP errors) in CoinAPI's error shape instead of starlette's plain text."""
    status_code = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Internal error"
    return error_response(status_code, f"{detail}: {request.url.path}")
