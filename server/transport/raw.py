"""A uvicorn WebSocket protocol with a raw data plane: the hub writes pre-framed bytes straight to the transport.

Why: ASGI has one ``websocket.send`` per message, which costs a coroutine hop and a frame serialization per
message per client; measured before this design was chosen (2026-11-25, docs/ARCHITECTURE.md "Fan-out"), it
delivered 0.86-0.92x of a coalescing picows server, per-message ASGI sends ~0.05x. The handshake, auth and the
upgrade's query parameters go through uvicorn and starlette; server->client data frames bypass them.

Hand-over: once the app has accepted and registered a connection it calls ``RawSink.serve``: from then on
client messages and the disconnect go straight to the app's callbacks, and the ASGI coroutine returns while the
connection stays open. An idle connection then holds no coroutine stack, no ASGI queue and no handshake
headers (~11 KiB of its ~28 KiB, measured with tracemalloc). Pings, pongs and closes stay uvicorn's.

The subclass exposes itself to the app through ``scope["extensions"][RAW_EXTENSION]``; an app running under
any other ASGI server simply does not find it and falls back to ``asgi.AsgiTransport``. It touches uvicorn internals
(``conn``, ``transport``, ``writable``, ``close_sent``, ``queue``, ``frames``, ``read_paused``, ``close_timer``,
``run_asgi``), so uvicorn is pinned to 0.54.x in pyproject.toml and the close/pause paths are covered by tests.
"""

from __future__ import annotations

import fcntl
import struct
import termios
from collections.abc import Callable
from typing import Any

from uvicorn._types import ASGIReceiveEvent
from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from coinapi_emulator.server.transport.deflate import FrameDeflater, deflater_for
from coinapi_emulator.server.transport.frames import SharedFrames

RAW_EXTENSION = "coinapi_emulator.raw"
#: after the server's close frame, how long the client has to answer before its socket is aborted: a client that
#: stopped reading never takes the frame, and a graceful close would wait to flush to it for good
CLOSE_TIMEOUT_S = 5.0


class FanoutWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol plus ``RawSink`` support (pass as ``uvicorn.run(ws=...)``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_pause: Callable[[], None] | None = None
        self.on_resume: Callable[[], None] | None = None
        #: set by ``hand_over``: where client messages go instead of the ASGI queue (text as str, binary as bytes)
        self.on_message: Callable[[str | bytes], None] | None = None

    def handle_connect(self, event: Request) -> None:
        version = event.headers.get("Sec-WebSocket-Version")
        if version is not None and version != "13":
            self._refuse_version()
            return
        super().handle_connect(event)
        if self.response.status_code == 101:
            extensions: dict[str, object] = self.scope["extensions"]  # type: ignore[assignment]
            extensions[RAW_EXTENSION] = RawSink(self, deflater_for(self.conn.extensions))

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.handshake_exc is not None and not self.handshake_initiated and not self.transport.is_closing():
            # websockets refused the handshake's request (431 or 414 queued, or nothing when it was not HTTP) but
            # uvicorn writes only what follows an event: the client was never answered nor closed (issue 14, item 6).
            self.transport.write(b"".join(self.conn.data_to_send()))
            self.transport.close()

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.on_pause is not None:
            self.on_pause()

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.on_resume is not None:
            self.on_resume()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)  # tells the app (the disconnect) first
        # The callbacks lead back to the connection, whose sink leads here: dropped now, the closed connection is
        # freed at once instead of at the next full garbage collection.
        self.on_message = None
        self.on_pause = self.on_resume = None
        # websockets parses with a generator whose frame holds its protocol, and it stays suspended after the close:
        # a cycle only a full collection frees. It held the connection's two zlib streams (~21 KiB each connection,
        # outside Python's allocator, so nothing hurried that collection): the soak's server grew ~3 MB a minute
        # with two reconnects a second. Closed now, the protocol is freed when the connection is.
        self.conn.parser.close()

    def _refuse_version(self) -> None:
        """RFC 6455 §4.4: a version the server does not speak gets 426 and the version it does (websockets: 400)."""
        body = b'{"error":"Unsupported Sec-WebSocket-Version: this server speaks 13 (RFC 6455)"}'
        headers = Headers(
            [
                ("Sec-WebSocket-Version", "13"),
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Connection", "close"),
            ]
        )
        self.handshake_complete = True
        self.close_sent = True
        self.conn.send_response(Response(426, "Upgrade Required", headers, body))
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.transport.close()

    def handle_parser_exception(self) -> None:
        """websockets failed the connection (a message over the hard size limit: 1009; a broken frame: 1002;
        invalid UTF-8: 1007; an exception in the app: 1011): tell the app, send the close frame, then keep reading
        and dropping what comes until the client goes, aborting after ``CLOSE_TIMEOUT_S``. uvicorn closed the
        socket at once, and with the rest of a big message unread the kernel answered with a reset: the client
        never saw the 1009 (issue 14, item 12)."""
        if self.close_sent:
            return
        close = self.conn.close_sent
        assert close is not None
        self.send_close_and_drain(close.code, close.reason)

    def send_close_and_drain(self, code: int, reason: str) -> None:
        """Once websockets has queued the close frame: tell the app, send the frame, then keep reading (and
        dropping) until the client goes, aborting its socket after ``CLOSE_TIMEOUT_S``."""
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(CLOSE_TIMEOUT_S, self.transport.abort)

    def hand_over(self, on_message: Callable[[str | bytes], None], on_disconnect: Callable[[], None]) -> None:
        """Deliver client messages and the disconnect to callbacks; the ASGI app may return now."""
        pending, self.queue = self.queue, _DisconnectForwarder(on_disconnect)  # type: ignore[assignment]
        self.on_message = on_message
        # The handshake's request, response and ASGI scope (headers included) are not needed any more.
        del self.request, self.response, self.scope
        while not pending.empty():
            self._forward(pending.get_nowait())
        if self.read_paused:
            self.read_paused = False
            self.transport.resume_reading()

    def _forward(self, event: ASGIReceiveEvent) -> None:
        if event["type"] == "websocket.receive":
            text = event.get("text")
            self._dispatch(text if text is not None else event.get("bytes") or b"")
        else:
            self.queue.put_nowait(event)

    def send_receive_event_to_app(self) -> None:
        if self.on_message is None:
            super().send_receive_event_to_app()
            return
        data = b"".join(self.frames)
        self.frames = []
        if self.close_sent:
            return
        if self.curr_msg_data_type != "text":
            self._dispatch(data)
            return
        try:
            text = data.decode()
        except UnicodeDecodeError:
            self.conn.fail(1007, "invalid UTF-8 in a text message")
            self.handle_parser_exception()
            return
        self._dispatch(text)

    def _dispatch(self, message: str | bytes) -> None:
        assert self.on_message is not None
        try:
            self.on_message(message)
        except Exception:
            # What an exception in the ASGI app would have done: log it and end this connection only.
            self.logger.exception("Exception handling a WebSocket message")
            self.conn.fail(1011, "internal error")
            self.handle_parser_exception()

    async def run_asgi(self) -> None:
        """uvicorn's, except that a connection handed over to the hub stays open when the app returns."""
        try:
            await self.app(self.scope, self.receive, self.send)
        except ClientDisconnected:
            pass
        except BaseException:
            self.logger.exception("Exception in ASGI application\n")
            self.send_500_response()
        else:
            if not self.handshake_complete:
                self.logger.error("ASGI callable returned without completing handshake.")
                self.send_500_response()
        if self.on_message is None and self.close_timer is None:
            self.transport.close()


class _DisconnectForwarder:
    """Stands in for uvicorn's ASGI queue after the hand-over: the disconnect events it gets become one call."""

    __slots__ = ("_on_disconnect",)

    def __init__(self, on_disconnect: Callable[[], None]) -> None:
        self._on_disconnect: Callable[[], None] | None = on_disconnect

    def put_nowait(self, event: ASGIReceiveEvent) -> None:
        """uvicorn reports the end of the connection (possibly more than once): call back the first time."""
        if event["type"] == "websocket.disconnect" and self._on_disconnect is not None:
            callback, self._on_disconnect = self._on_disconnect, None
            callback()


class RawSink:
    """Writes frames directly on the connection's transport; never after a close frame.

    With permessage-deflate negotiated (``--compression auto`` and a client that offered it), every data frame
    goes through the connection's ``FrameDeflater``; so must every later text frame, or the client's inflate
    context would go out of step: nothing else sends data frames once a connection has a ``RawSink``.
    """

    __slots__ = ("_deflater", "_protocol")

    def __init__(self, protocol: FanoutWebSocketProtocol, deflater: FrameDeflater | None = None) -> None:
        self._protocol = protocol
        self._deflater = deflater

    def set_flow_control(self, on_pause: Callable[[], None], on_resume: Callable[[], None]) -> None:
        """Called when the transport's buffer goes above its high-water mark, and when it drains below the
        low-water mark after that (asyncio's ``pause_writing`` and ``resume_writing``)."""
        self._protocol.on_pause = on_pause
        self._protocol.on_resume = on_resume

    async def serve(self, on_message: Callable[[bytes | str], None], on_closed: Callable[[], None]) -> None:
        """Client messages go to ``on_message`` and the end of the connection to ``on_closed`` from now on; the
        connection lives on in the protocol's callbacks, so this returns at once and the ASGI coroutine (and
        its stack) can end."""
        self._protocol.hand_over(on_message, on_closed)

    def _open(self) -> bool:
        protocol = self._protocol
        return not protocol.close_sent and not protocol.disconnected and not protocol.transport.is_closing()

    def send_frames(self, frames: list[bytes]) -> None:
        """One transport write for all frames."""
        if self._open():
            if self._deflater is not None:
                frames = self._deflater.compress(frames)
            self._protocol.transport.write(b"".join(frames))

    def offer_shared(self, shared: SharedFrames) -> bool:
        """A group's frames unless the transport is paused: the buffer joined once for the group, or this
        connection's own compression of them. ``writable`` and ``_open`` inlined: this runs for every member of
        every group each tick, the fan-out's per-subscriber cost."""
        protocol = self._protocol
        if not protocol.writable.is_set():
            return False
        if self._deflater is not None:
            self.send_frames(shared.frames)
        elif not protocol.close_sent and not protocol.disconnected and not protocol.transport.is_closing():
            protocol.transport.write(shared.joined())
        return True

    def writable(self) -> bool:
        """False while the transport is paused."""
        return self._protocol.writable.is_set()

    def buffered(self) -> int:
        """Bytes the peer has not taken: in the transport's buffer and in the socket's send queue. The kernel's
        part counts because it is most of it: a loopback socket queues ~4 MB, and the transport's buffer shrinks
        only once the peer has read about a third of that (the kernel wakes a writer when a third is free)."""
        transport = self._protocol.transport
        return transport.get_write_buffer_size() + _unsent(transport.get_extra_info("socket"))

    def close(self, code: int, reason: str) -> None:
        """Server-initiated close, as uvicorn does for an ASGI ``websocket.close`` (and it tells the app)."""
        protocol = self._protocol
        if not self._open():
            return
        protocol.conn.send_close(code, reason)
        protocol.send_close_and_drain(code, reason)


def _unsent(sock: Any) -> int:
    """Bytes in a TCP socket's send queue (Linux's SIOCOUTQ, which is TIOCOUTQ); 0 where the system cannot say."""
    if sock is None:
        return 0
    try:
        answer = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except OSError:
        return 0
    unsent: int = struct.unpack("i", answer)[0]
    return unsent
