"""The raw data plane's hand-over, in process: uvicorn's protocol object on a fake transport, no sockets."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import os
import socket
import time
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import pytest
import uvicorn
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode

from coinapi_emulator.server.fanout.hub import Hub
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.transport.deflate import FrameDeflater
from coinapi_emulator.server.transport.frames import text_frame
from coinapi_emulator.server.transport.raw import (
    CLOSE_TIMEOUT_S,
    RAW_EXTENSION,
    FanoutWebSocketProtocol,
    RawSink,
    _unsent,
)
from tests.server.fakes import FakeClock
from tests.server.transport.test_deflate import extensions, receive

HANDSHAKE = (
    b"GET /v1/ HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: " + base64.b64encode(b"0123456789abcdef") + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


class FakeTransport(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.written = bytearray()
        self.chunks: list[bytes | bytearray | memoryview] = []
        self.closed = False
        self.aborted = False
        self.reading = True
        #: what the transport would still hold of the writes (``get_write_buffer_size``)
        self.buffer_size = 0

    def get_write_buffer_size(self) -> int:
        return self.buffer_size

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written += data
        self.chunks.append(data)

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8765), "peername": ("127.0.0.1", 50000)}.get(name, default)


def client_frame(text: str) -> bytes:
    frame = Frame(Opcode.TEXT, text.encode())
    return frame.serialize(mask=True, extensions=[])


def client_frame_of(opcode: Opcode, data: bytes) -> bytes:
    return Frame(opcode, data).serialize(mask=True, extensions=[])


def close_code(written: bytes | bytearray) -> int:
    """The code of the one close frame ``written`` holds (an unmasked server frame)."""
    frame = bytes(written)
    assert frame[:2] == bytes((0x88, len(frame) - 2)), frame
    return int.from_bytes(frame[2:4], "big")


class Handler:
    """Records what the hand-over delivers."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.messages: list[str | bytes] = []
        self.disconnects = 0
        self.fail_on = fail_on

    def on_message(self, data: str | bytes) -> None:
        if self.fail_on is not None and self.fail_on in str(data):
            raise RuntimeError("boom")
        self.messages.append(data)

    def on_disconnect(self) -> None:
        self.disconnects += 1


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


def handing_over_app(handler: Handler, before: asyncio.Event | None = None) -> Any:
    """An ASGI app that accepts, optionally waits for ``before``, hands the connection over and returns."""

    async def app(scope: dict[str, Any], receive: Receive, send: Send) -> None:
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        if before is not None:
            await before.wait()
        sink = scope["extensions"][RAW_EXTENSION]
        assert isinstance(sink, RawSink)
        await sink.serve(handler.on_message, handler.on_disconnect)

    return app


async def connected(app: Any, **config_kwargs: Any) -> tuple[FanoutWebSocketProtocol, FakeTransport]:
    config = uvicorn.Config(
        app, ws=FanoutWebSocketProtocol, ws_per_message_deflate=False, lifespan="off", log_config=None, **config_kwargs
    )
    protocol = FanoutWebSocketProtocol(config=config, server_state=ServerState(), app_state={})
    transport = FakeTransport()
    protocol.connection_made(transport)
    protocol.data_received(HANDSHAKE)
    for _ in range(5):
        await asyncio.sleep(0)
    assert transport.written.startswith(b"HTTP/1.1 101")
    return protocol, transport


def test_after_the_hand_over_messages_reach_the_callback_and_the_app_has_returned() -> None:
    async def scenario() -> None:
        handler = Handler()
        protocol, transport = await connected(handing_over_app(handler))
        assert not protocol.tasks, "the ASGI app should have returned"
        assert not transport.closed, "returning from the app must not close a handed-over connection"
        protocol.data_received(client_frame('{"type":"hello"}') + client_frame('{"type":"subscribe"}'))
        assert handler.messages == ['{"type":"hello"}', '{"type":"subscribe"}']
        assert transport.reading
        protocol.shutdown()  # uvicorn's server shutdown: a 1012 close, then the transport goes
        protocol.connection_lost(None)
        assert handler.disconnects == 1

    asyncio.run(scenario())


def test_a_message_queued_before_the_hand_over_is_delivered_by_it() -> None:
    async def scenario() -> None:
        handler, gate = Handler(), asyncio.Event()
        protocol, transport = await connected(handing_over_app(handler, gate))
        protocol.data_received(client_frame('{"type":"early"}'))
        assert not transport.reading, "uvicorn pauses reading until the app receives"
        gate.set()
        for _ in range(5):
            await asyncio.sleep(0)
        assert handler.messages == ['{"type":"early"}']
        assert transport.reading

    asyncio.run(scenario())


def test_an_exception_in_the_callback_closes_that_connection_with_1011(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        handler = Handler(fail_on="bad")
        protocol, transport = await connected(handing_over_app(handler))
        before = len(transport.written)
        protocol.data_received(client_frame('{"type":"bad"}'))
        assert close_code(transport.written[before:]) == 1011
        assert not transport.closed and protocol.close_timer is not None, "aborted later, not closed unread"

    asyncio.run(scenario())
    assert "Exception handling a WebSocket message" in caplog.text


def test_a_group_shares_one_joined_buffer_but_each_compressing_connection_compresses_for_itself() -> None:
    async def scenario() -> None:
        server_extension, client_extension = extensions(no_context_takeover=False)
        connections = [await connected(handing_over_app(Handler())) for _ in range(3)]
        deflater = FrameDeflater(server_extension)
        sinks = [RawSink(connections[0][0]), RawSink(connections[1][0]), RawSink(connections[2][0], deflater)]
        hub, key = Hub(max_messages=10, max_bytes=1 << 20, clock=FakeClock()), (DataType.TRADE, "X")
        for sink in sinks:
            hub.set_routes(hub.attach(sink, "peer"), frozenset({key}), throttles_ms={}, heartbeat=False)
        payloads = [b'{"type":"trade","n":%d}' % n for n in range(3)]
        for payload in payloads:
            hub.deliver(hub.routes[key], key, text_frame(payload), 0)
        hub.flush()
        plain_a, plain_b, compressed = (transport.chunks[-1] for _, transport in connections)
        assert plain_a is plain_b
        assert plain_a == b"".join(text_frame(payload) for payload in payloads)
        assert compressed[0] == 0xC1, "FIN, RSV1 (compressed), text"
        assert [data for _, data in receive(client_extension, bytes(compressed))] == payloads

    asyncio.run(scenario())


def test_the_transports_pause_and_resume_reach_the_flow_callbacks_and_writable_follows() -> None:
    async def scenario() -> None:
        protocol, transport = await connected(handing_over_app(Handler()))
        sink, calls = RawSink(protocol), []
        sink.set_flow_control(lambda: calls.append("pause"), lambda: calls.append("resume"))
        assert sink.writable()
        transport.buffer_size = 70_000
        protocol.pause_writing()  # what asyncio calls above the transport's high-water mark
        assert calls == ["pause"] and not sink.writable() and sink.buffered() == 70_000
        protocol.resume_writing()
        assert calls == ["pause", "resume"] and sink.writable()

    asyncio.run(scenario())


def test_what_the_peer_has_not_read_counts_the_sockets_send_queue() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname()) as client:
        sending, _ = server.accept()
        with sending:
            sending.setblocking(False)
            with contextlib.suppress(BlockingIOError):
                while True:
                    sending.send(b"x" * 65536)  # until the kernel's buffers on both sides are full
            queued = _unsent(sending)
            assert queued > 0
            read = 0
            while read < 3 * queued // 4:
                read += len(client.recv(1 << 20))
            for _ in range(100):  # the kernel moves what the reader made room for
                if _unsent(sending) < queued:
                    break
                time.sleep(0.01)
            assert _unsent(sending) < queued
    assert _unsent(None) == 0
    with open(os.devnull, "rb") as not_a_socket:
        assert _unsent(not_a_socket) == 0


def run_with_the_collector_off(scenario: Coroutine[Any, Any, None]) -> None:
    """``asyncio.run`` with the cyclic garbage collector disabled: what is freed is freed by reference counting."""
    gc.disable()
    try:
        asyncio.run(scenario)
    finally:
        gc.enable()


def test_a_closed_connection_keeps_no_callback_into_the_app() -> None:
    # The app's callbacks point back at the connection, whose sink points at this protocol: kept past the close,
    # that cycle held a closed connection's session and scope until a full garbage collection (issue 14, item 1).
    async def scenario() -> None:
        protocol, _ = await connected(handing_over_app(Handler()))
        connection = Handler()  # stands for the endpoint's connection: only the protocol's callbacks reach it
        protocol.on_message = connection.on_message
        RawSink(protocol).set_flow_control(connection.on_disconnect, connection.on_disconnect)
        marker = weakref.ref(connection)
        del connection
        protocol.connection_lost(None)
        assert protocol.on_message is None and protocol.on_pause is None and protocol.on_resume is None
        assert marker() is None, "something still holds the app's callbacks"

    run_with_the_collector_off(scenario())


@pytest.mark.parametrize("closed_by", ["client", "server", "network"])
def test_a_closed_connection_is_freed_without_waiting_for_a_full_collection(closed_by: str) -> None:
    # websockets' parser is a generator that refers to its protocol; left suspended after the close, that cycle kept
    # every closed connection's zlib streams until a full collection (the soak's server grew ~3 MB a minute).
    async def scenario() -> None:
        protocol, transport = await connected(handing_over_app(Handler()))
        if closed_by == "client":
            protocol.data_received(client_frame_of(Opcode.CLOSE, b"\x03\xe8"))
        elif closed_by == "server":
            RawSink(protocol).close(1000, "bye")
        protocol.connection_lost(None)
        websocket = weakref.ref(protocol.conn)
        del protocol, transport
        assert websocket() is None, "the closed connection's websockets protocol is still alive"

    run_with_the_collector_off(scenario())


def test_a_socket_the_server_closed_is_aborted_if_the_client_does_not_answer() -> None:
    # A client that stopped reading never takes the close frame: closing the transport would wait to flush to it
    # forever (10 such clients held 10 fds and ~3 MB of kernel buffers each; issue 14, item 4).
    async def scenario() -> None:
        protocol, transport = await connected(handing_over_app(Handler()))
        RawSink(protocol).close(1013, "Reached maximum allowed buffered messages for this connection.")
        timer = protocol.close_timer
        assert timer is not None and not transport.closed
        assert timer.when() - asyncio.get_running_loop().time() == pytest.approx(CLOSE_TIMEOUT_S, abs=0.1)
        timer._run()
        assert transport.aborted

    asyncio.run(scenario())


def test_text_arrives_as_str_and_binary_as_bytes() -> None:
    async def scenario() -> None:
        handler = Handler()
        protocol, _ = await connected(handing_over_app(handler))
        protocol.data_received(client_frame_of(Opcode.BINARY, b'{"type":"hello"}') + client_frame("é"))
        assert handler.messages == [b'{"type":"hello"}', "é"]

    asyncio.run(scenario())


def test_invalid_utf8_in_a_text_message_fails_the_connection_with_1007() -> None:
    async def scenario() -> None:
        handler = Handler()
        protocol, transport = await connected(handing_over_app(handler))
        before = len(transport.written)
        protocol.data_received(client_frame_of(Opcode.TEXT, b"\xff\xfe"))
        assert handler.messages == [] and handler.disconnects == 1
        assert close_code(transport.written[before:]) == 1007
        assert not transport.closed and protocol.close_timer is not None

    asyncio.run(scenario())


def test_a_version_the_server_does_not_speak_gets_426_and_the_one_it_does() -> None:
    async def scenario() -> None:
        config = uvicorn.Config(Handler, ws=FanoutWebSocketProtocol, lifespan="off", log_config=None)
        protocol = FanoutWebSocketProtocol(config=config, server_state=ServerState(), app_state={})
        transport = FakeTransport()
        protocol.connection_made(transport)
        protocol.data_received(HANDSHAKE.replace(b"Sec-WebSocket-Version: 13", b"Sec-WebSocket-Version: 8"))
        head, _, body = bytes(transport.written).partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 426 Upgrade Required") and b"Sec-WebSocket-Version: 13" in head
        assert b"this server speaks 13" in body and transport.closed

    asyncio.run(scenario())


def test_a_message_over_the_hard_limit_gets_1009_and_the_socket_waits_for_the_client() -> None:
    # Closed at once with the rest of the message unread, the kernel answered with a reset and the client never saw
    # the 1009 (issue 14, item 12).
    async def scenario() -> None:
        protocol, transport = await connected(handing_over_app(Handler()), ws_max_size=1024)
        before = len(transport.written)
        big = client_frame_of(Opcode.TEXT, b"x" * 4096)
        protocol.data_received(big[:100])
        assert close_code(transport.written[before:]) == 1009
        protocol.data_received(big[100:])  # the rest is read and dropped
        assert not transport.closed and protocol.close_timer is not None

    asyncio.run(scenario())
