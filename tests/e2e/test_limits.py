"""What one client may send, against a real server: message size, binary and broken text, the handshake version,
the first hello's deadline (issue 14, items 6, 8 and 12). Each refusal is CoinAPI's ``error`` and a close code
the client sees, or an HTTP answer for the handshake."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed

from .processes import START_TIME, RunningServer, run_server
from .support import expect_error_and_close, hello, websocket_handshake, ws_connect

pytestmark = pytest.mark.e2e

MIB = 1 << 20


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    args = ["--start-time", START_TIME, "--exchanges", "3", "--max-symbols-per-exchange", "3", "--hello-timeout", "1"]
    with run_server(args, tmp_path_factory.mktemp("limited")) as running:
        yield running


def test_a_message_over_the_limit_gets_the_error_and_1009(limited: RunningServer) -> None:
    async def scenario() -> tuple[str, int | None]:
        big = hello(["trade"], symbols=["BINANCE_SPOT_BTC_USDT$", "X" * (2 * MIB)])
        async with ws_connect(limited.ws_url(), big) as ws:
            error, code, _ = await expect_error_and_close(ws)
        return error["message"], code

    message, code = asyncio.run(scenario())
    assert message.startswith("Message too big: ") and message.endswith("characters, at most 1048576")
    assert code == 1009


def test_a_message_over_four_times_the_limit_is_refused_unread_and_the_client_sees_1009(
    limited: RunningServer,
) -> None:
    async def scenario() -> int | None:
        async with ws_connect(limited.ws_url()) as ws:
            try:
                await ws.send("x" * (6 * MIB))
                await asyncio.wait_for(ws.recv(), timeout=10)
            except ConnectionClosed as closed:
                return closed.rcvd.code if closed.rcvd is not None else None
        raise AssertionError("still open")

    assert asyncio.run(scenario()) == 1009, "a reset instead of the close frame (issue 14, item 12)"


def test_a_binary_message_gets_the_error_and_1003(limited: RunningServer) -> None:
    async def scenario() -> tuple[str, int | None]:
        async with ws_connect(limited.ws_url()) as ws:
            await ws.send(json.dumps(hello(["trade"])).encode())
            error, code, _ = await expect_error_and_close(ws)
        return error["message"], code

    assert asyncio.run(scenario()) == ("Binary messages are not accepted: send JSON text", 1003)


def test_no_hello_in_time_gets_the_error_and_1008(limited: RunningServer) -> None:
    async def scenario() -> tuple[str, int | None]:
        async with ws_connect(limited.ws_url()) as ws:
            error, code, _ = await expect_error_and_close(ws, timeout=5)
        return error["message"], code

    assert asyncio.run(scenario()) == ("No hello or subscribe within 1 s", 1008)


def test_invalid_utf8_in_a_text_frame_gets_1007(limited: RunningServer) -> None:
    with _raw_websocket(limited.port) as sock:
        sock.sendall(_masked_frame(0x1, b'{"type":"hello","apikey":"k\xff"}'))
        opcode, payload = _read_frame(sock)
    assert opcode == 0x8 and struct.unpack("!H", payload[:2])[0] == 1007


def test_a_websocket_version_other_than_13_gets_426_naming_13(limited: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=5) as sock:
        sock.sendall(websocket_handshake(limited.port, version="8"))
        head = sock.recv(65536).split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 426") and "Sec-WebSocket-Version: 13" in head


# -- a bare WebSocket client, for what a library client refuses to send -----------------------------------------


class _raw_websocket:
    """A socket past the 101 answer."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.sendall(websocket_handshake(port))
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(4096)
        assert response.startswith(b"HTTP/1.1 101"), response

    def __enter__(self) -> socket.socket:
        return self.sock

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def _masked_frame(opcode: int, payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    assert len(payload) < 126
    return bytes((0x80 | opcode, 0x80 | len(payload))) + mask + masked


def _read_frame(sock: socket.socket) -> tuple[int, bytes]:
    head = _read_exactly(sock, 2)
    length = head[1] & 0x7F
    if length == 126:
        length = struct.unpack("!H", _read_exactly(sock, 2))[0]
    return head[0] & 0x0F, _read_exactly(sock, length)


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data
