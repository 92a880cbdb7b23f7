"""API keys: where an HTTP request or WebSocket upgrade carries one (PROTOCOL.md §1.3).

The same rules serve the WebSocket upgrade and REST. A key is never logged.
"""

from __future__ import annotations

import base64
import binascii
from urllib.parse import parse_qs

from starlette.datastructures import Headers

from coinapi_emulator.server.protocol.keys import KEY_PATH_PREFIX


def key_from_request(scope_headers: Headers, query_string: bytes, path: str) -> str | None:
    """The key sent with an HTTP request or WebSocket upgrade, in the order of PROTOCOL.md §1.3, or None.

    ``X-CoinAPI-Key`` header, ``?apikey=``, a trailing ``/APIKEY-<key>`` path segment, then ``Authorization``
    (a bare key, Basic ``coinapi:<key>``, or ``Bearer <token>``: CoinAPI's bearer tokens are JWTs the emulator
    cannot verify, so the token counts as the key).
    """
    key = scope_headers.get("x-coinapi-key")
    if key:
        return key
    query = parse_qs(query_string.decode("latin-1"))
    if query.get("apikey", [""])[0]:
        return query["apikey"][0]
    last_segment = path.rstrip("/").rsplit("/", 1)[-1]
    if last_segment.startswith(KEY_PATH_PREFIX) and len(last_segment) > len(KEY_PATH_PREFIX):
        return last_segment[len(KEY_PATH_PREFIX) :]
    return _key_from_authorization(scope_headers.get("authorization", ""))


def _key_from_authorization(value: str) -> str | None:
    scheme, _, credentials = value.partition(" ")
    if not credentials:
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, _, password = decoded.partition(":")
        return password or user or None
    if scheme.lower() == "bearer":
        return credentials.strip() or None
    return None
