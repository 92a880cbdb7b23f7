"""A uvicorn WebSocket protocol with a raw data plane: the hub writes pre-framed bytes straight to the transport.

Why: ASGI has one ``websocket.send`` per message, which costs a coroutine hop and a frame serialization per
message per client; ../shared/docs/FANOUT.md measured this design (P2) at 0.86-0.92x of a coalescing picows
server against ~0.05x for per-message ASGI sends. Handshake, auth, client messages, pings and closes still go
through uvicorn and starlette; only server->client data frames bypass them.

The subclass exposes itself to the app through ``scope["extensions"][RAW_EXTENSION]``; an app running under
any other ASGI server simply does not find it and falls back to ``AsgiSink``. It touches uvicorn internals
(``conn``, ``transport``, ``writable``, ``close_sent``, ``queue``, ``read_paused``, ``close_timer``), so
uvicorn is pinned to 0.54.x in pyproject.toml and the close/pause paths are covered by tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.http11 import Request

from .deflate import FrameDeflater, deflater_for

RAW_EXTENSION = "coinapi_emulator.raw"


class FanoutWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol plus ``RawSink`` support (pass as ``uvicorn.run(ws=...)``)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_resume: Callable[[], None] | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if self.response.status_code == 101:
            extensions: dict[str, object] = self.scope["extensions"]  # type: ignore[assignment]
            extensions[RAW_EXTENSION] = RawSink(self, deflater_for(self.conn.extensions))

    def resume_writing(self) -> None:
        super().resume_writing()
        if self.on_resume is not None:
            self.on_resume()


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

    def set_on_resume(self, callback: Callable[[], None]) -> None:
        """Called when the transport drains below its low-water mark after a pause."""
        self._protocol.on_resume = callback

    def _open(self) -> bool:
        protocol = self._protocol
        return not protocol.close_sent and not protocol.disconnected and not protocol.transport.is_closing()

    def send_frames(self, frames: list[bytes]) -> None:
        """One transport write for all frames."""
        if self._open():
            if self._deflater is not None:
                frames = self._deflater.compress(frames)
            self._protocol.transport.write(b"".join(frames))

    def writable(self) -> bool:
        """False while the transport is paused."""
        return self._protocol.writable.is_set()

    def close(self, code: int, reason: str) -> None:
        """Server-initiated close, as uvicorn does for an ASGI ``websocket.close`` (and it tells the app)."""
        protocol = self._protocol
        if not self._open():
            return
        protocol.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        protocol.conn.send_close(code, reason)
        protocol.transport.write(b"".join(protocol.conn.data_to_send()))
        protocol.close_sent = True
        if protocol.read_paused:
            protocol.read_paused = False
            protocol.transport.resume_reading()
        protocol.close_timer = protocol.loop.call_later(protocol.close_timeout, protocol.transport.close)
