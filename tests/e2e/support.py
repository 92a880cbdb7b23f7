"""Helpers for the end-to-end tests: JSON Schema validation, client frames, WebSocket receive loops, REST lookups.

Nothing here starts a process (``conftest.py`` does). Every receive has a timeout, and a wait that runs out fails
with what was awaited, so a hung server shows up as a readable failure, never as a hung test run.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, Final

import httpx2 as httpx
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from coinapi_emulator.server.protocol.json_schemas import load_schema, schema_dir, schema_names

#: the JSON Schemas shipped with the package (server/protocol/schemas/), which the contracts are built from
SCHEMA_DIR: Final = Path(str(schema_dir()))

#: the key every test sends where the server accepts any non-empty key, and the one listed in --api-keys files
API_KEY: Final = "5b1e7c3a-2f4d-4e8a-9c61-0d3f8a7b2e45"
BAD_KEY: Final = "00000000-0000-0000-0000-00000000dead"

#: close codes from server/protocol/errors.py (PROTOCOL.md §1.4; the real codes are UNVERIFIED)
CLOSE_UNSUPPORTED_DATA: Final = 1003
CLOSE_POLICY_VIOLATION: Final = 1008

#: the symbol the sequence and book tests follow (a big market on the top exchange)
BUSY_SYMBOL: Final = "BINANCE_SPOT_BTC_USDT"

Frame = dict[str, Any]


# -- JSON Schema ------------------------------------------------------------------------------------------------


@cache
def _registry() -> Registry[Any]:
    resources = [(contents["$id"], Resource.from_contents(contents)) for contents in map(load_schema, schema_names())]
    return Registry().with_resources(resources)


def schema(name: str) -> dict[str, Any]:
    """The parsed ``server/protocol/schemas/<name>.json``."""
    return load_schema(name)


@cache
def validator(name: str) -> Draft202012Validator:
    """A validator for schema ``name`` that resolves references between the schema files."""
    return Draft202012Validator(schema(name), registry=_registry())


def assert_valid(name: str, instance: object) -> None:
    """Fail with the most relevant schema error if ``instance`` does not match schema ``name``."""
    error = best_match(validator(name).iter_errors(instance))
    if error is not None:
        path = "/".join(str(part) for part in error.absolute_path)
        raise AssertionError(f"{name} schema: {error.message} at /{path} in {json.dumps(instance)[:600]}")


def assert_frames_valid(frames: Iterable[Frame]) -> None:
    """Validate each frame against the schema named by its ``type``."""
    for frame in frames:
        assert_valid(frame["type"], frame)


# -- client frames ----------------------------------------------------------------------------------------------


def client_message(
    verb: str,
    data_types: Iterable[str],
    *,
    symbols: Iterable[str] | None = None,
    exchanges: Iterable[str] | None = None,
    assets: Iterable[str] | None = None,
    periods: Iterable[str] | None = None,
    heartbeat: bool | None = None,
    apikey: str | None = API_KEY,
) -> Frame:
    """A hello / subscribe / unsubscribe frame (PROTOCOL.md §2.1); unset fields are left out."""
    message: Frame = {"type": verb, "subscribe_data_type": list(data_types)}
    if apikey is not None:
        message["apikey"] = apikey
    if heartbeat is not None:
        message["heartbeat"] = heartbeat
    for field, values in (
        ("subscribe_filter_symbol_id", symbols),
        ("subscribe_filter_exchange_id", exchanges),
        ("subscribe_filter_asset_id", assets),
        ("subscribe_filter_period_id", periods),
    ):
        if values is not None:
            message[field] = list(values)
    return message


def hello(data_types: Iterable[str], **kwargs: Any) -> Frame:
    """A hello frame; see ``client_message``."""
    return client_message("hello", data_types, **kwargs)


# -- WebSocket --------------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def ws_connect(
    url: str, first: Frame | None = None, *, headers: Mapping[str, str] | None = None
) -> AsyncIterator[ClientConnection]:
    """A connection to ``url`` that sends ``first`` (if given) once open; closed on exit.

    ``max_queue=None``: the client never stops reading. With websockets' default (16 frames) a test that stops
    reading a busy stream and then closes cannot see the server's close frame behind the unread data, and
    the close times out (1006) after ``close_timeout``: a client-side effect, not a server fault.
    """
    async with connect(
        url, additional_headers=headers, open_timeout=10, close_timeout=5, max_size=None, max_queue=None
    ) as ws:
        if first is not None:
            await ws.send(json.dumps(first))
        yield ws


async def send(ws: ClientConnection, message: Frame) -> None:
    """Send one client frame as JSON text."""
    await ws.send(json.dumps(message))


async def receive_text(ws: ClientConnection, timeout: float) -> str:
    """The next frame, which must be text; ``TimeoutError`` after ``timeout`` seconds."""
    message = await asyncio.wait_for(ws.recv(), timeout)
    assert isinstance(message, str), f"expected a text frame, got {len(message)} binary bytes"
    return message


async def collect_texts(ws: ClientConnection, *, seconds: float, limit: int | None = None) -> list[str]:
    """The text frames received within ``seconds`` (fewer if ``limit`` is reached first)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    texts: list[str] = []
    while limit is None or len(texts) < limit:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        try:
            texts.append(await receive_text(ws, remaining))
        except TimeoutError:
            break
    return texts


async def collect(ws: ClientConnection, *, seconds: float, limit: int | None = None) -> list[Frame]:
    """Like ``collect_texts``, parsed."""
    return [json.loads(text) for text in await collect_texts(ws, seconds=seconds, limit=limit)]


async def collect_until(
    ws: ClientConnection,
    done: Callable[[list[Frame]], bool],
    *,
    timeout: float,
    what: str,
    texts: list[str] | None = None,
) -> list[Frame]:
    """Frames until ``done(frames)`` holds; fails naming ``what`` after ``timeout`` s. Raw texts go to ``texts``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    frames: list[Frame] = []
    while not done(frames):
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; got {_summary(frames)}")
        try:
            text = await receive_text(ws, remaining)
        except TimeoutError:
            continue
        if texts is not None:
            texts.append(text)
        frames.append(json.loads(text))
    return frames


def _summary(frames: list[Frame]) -> str:
    counts: dict[str, int] = {}
    for frame in frames:
        counts[frame.get("type", "?")] = counts.get(frame.get("type", "?"), 0) + 1
    return f"{len(frames)} frames {counts}" + (f", last {json.dumps(frames[-1])[:300]}" if frames else "")


def count_at_least(n: int, data_type: str | None = None) -> Callable[[list[Frame]], bool]:
    """A ``collect_until`` condition: at least ``n`` frames (of ``data_type`` if given)."""
    return lambda frames: sum(1 for f in frames if data_type is None or f.get("type") == data_type) >= n


async def expect_error_and_close(ws: ClientConnection, timeout: float = 10) -> tuple[Frame, int | None, list[Frame]]:
    """Read until the server closes: (the ``error`` frame, the close code, frames before the error).

    Fails if no ``error`` frame came, or if any frame followed it (errors are terminal, PROTOCOL.md §3.11).
    """
    before: list[Frame] = []
    error: Frame | None = None
    try:
        while True:
            frame = json.loads(await receive_text(ws, timeout))
            assert error is None, f"frame after the error frame: {frame}"
            if frame.get("type") == "error":
                error = frame
            else:
                before.append(frame)
    except ConnectionClosed as closed:
        code = closed.rcvd.code if closed.rcvd is not None else None
    except TimeoutError:
        raise AssertionError(f"server did not close within {timeout} s; error frame: {error}") from None
    assert error is not None, f"closed with {code} without an error frame; got {_summary(before)}"
    return error, code, before


# -- REST lookups -----------------------------------------------------------------------------------------------


def rest_get(base_url: str, path: str, **params: str) -> Any:
    """GET ``path`` with the test key and return the parsed JSON body (status must be 200)."""
    response = httpx.get(base_url + path, params=params, headers={"X-CoinAPI-Key": API_KEY}, timeout=30)
    assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text[:300]}"
    return response.json()


def parse_raw_numbers(text: str) -> Any:
    """Parse JSON keeping every number as its raw token text (``"0.10"`` stays ``"0.10"``), tagged as ``RawNumber``."""
    return json.loads(text, parse_float=RawNumber, parse_int=RawNumber)


class RawNumber(str):
    """A JSON number token exactly as the server wrote it."""

    __slots__ = ()


def websocket_handshake(port: int, version: str = "13", extra_headers: str = "") -> bytes:
    """A WebSocket upgrade request for ``/v1/``, as bytes, for what a library client refuses to send."""
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET /v1/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: {version}\r\n{extra_headers}\r\n"
    ).encode()


def raw_http_answer(port: int, request: bytes, timeout_s: float = 15) -> bytes:
    """Send ``request`` as raw bytes (the server may answer and close before it is all sent) and return everything
    the server sends until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(request)
        return read_to_close(sock)


def read_to_close(sock: socket.socket) -> bytes:
    """Everything the server sends on ``sock`` until it closes the connection."""
    received = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received
