from __future__ import annotations

import base64

import pytest
from starlette.datastructures import Headers

from coinapi_emulator.server.http.auth import key_from_request


def key(headers: dict[str, str] | None = None, query: bytes = b"", path: str = "/v1/") -> str | None:
    return key_from_request(Headers(headers or {}), query, path)


@pytest.mark.parametrize(
    ("headers", "query", "path", "expected"),
    [
        ({"X-CoinAPI-Key": "h"}, b"apikey=q", "/v1/APIKEY-p", "h"),
        ({}, b"apikey=q", "/v1/APIKEY-p", "q"),
        ({}, b"", "/v1/APIKEY-p", "p"),
        ({}, b"", "/APIKEY-p/", "p"),
        ({"Authorization": "plain-key"}, b"", "/v1/", "plain-key"),
        ({"Authorization": "Basic " + base64.b64encode(b"coinapi:basic-key").decode()}, b"", "/", "basic-key"),
        ({"Authorization": "Basic !!!"}, b"", "/", None),
        ({"Authorization": "Bearer eyJhbGciOi"}, b"", "/", "eyJhbGciOi"),
        ({"Authorization": "Bearer  "}, b"", "/", None),
        ({}, b"apikey=", "/v1/APIKEY-", None),
        ({}, b"", "/v1/", None),
    ],
    ids=[
        "header-first",
        "query",
        "path",
        "path-trailing-slash",
        "authorization",
        "basic",
        "bad-basic",
        "bearer",
        "empty-bearer",
        "empty",
        "none",
    ],
)
def test_key_sources_in_documented_order(
    headers: dict[str, str], query: bytes, path: str, expected: str | None
) -> None:
    assert key(headers, query, path) == expected
