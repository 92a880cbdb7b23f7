"""What one client may send, against a real server: message size, binary and broken text, the handshake version,
the first hello's deadline (issue 14, items 6, 8 and 12). Each refusal is CoinAPI's ``error`` and a close code
the client sees, or an HTTP answer for the handshake."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Iterator

import pytest
from websockets.exceptions import ConnectionClosed

from .processes import START_TIME, RunningServer, run_server
from .rawws import OP_TEXT, frame, open_websocket, read_until_close
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
    with open_websocket(limited.port) as sock:
        sock.sendall(frame(OP_TEXT, b'{"type":"hello","apikey":"k\xff"}'))
        _, code = read_until_close(sock)
    assert code == 1007


def test_a_websocket_version_other_than_13_gets_426_naming_13(limited: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", limited.port), timeout=5) as sock:
        sock.sendall(websocket_handshake(limited.port, version="8"))
        head = sock.recv(65536).split(b"\r\n\r\n")[0].decode()
    assert head.startswith("HTTP/1.1 426") and "Sec-WebSocket-Version: 13" in head
