"""The transport for connections that have no raw data plane: any ASGI server, starlette's TestClient included.

One writer task per connection drains a bounded deque through ASGI ``websocket.send``; it reports itself
unwritable above a high-water mark, so that the hub's slow-client policy works the same way as on raw sockets.
The hub hands every sink the frames it built once for all connections; ASGI sends message text, so this
transport takes each frame's payload back out (a slice). That costs a copy per message and connection on this
path only: the raw transport (``raw.py``) writes the frames as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketDisconnected

from coinapi_emulator.server.transport.frames import SharedFrames, frame_payload
from coinapi_emulator.server.transport.raw import RAW_EXTENSION, RawSink
from coinapi_emulator.server.transport.sink import ClientTransport

logger = logging.getLogger(__name__)

#: frames queued in the writer before the sink says it is not writable, and where it says it is again
_HIGH_WATER = 1024
_LOW_WATER = 256


class AsgiTransport:
    """A writer task per connection: frames go out as ASGI text messages, in order."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._close: tuple[int, str] | None = None
        self._paused = False
        self._on_pause: Callable[[], None] | None = None
        self._on_resume: Callable[[], None] | None = None
        self._task = asyncio.get_running_loop().create_task(self._write_all())

    def set_flow_control(self, on_pause: Callable[[], None], on_resume: Callable[[], None]) -> None:
        """Called when the queue reaches the high-water mark, and when the writer drains it below the low-water
        mark after that."""
        self._on_pause = on_pause
        self._on_resume = on_resume

    def send_frames(self, frames: list[bytes]) -> None:
        """Queue frames for the writer task."""
        if self._close is None:
            self._queue.extend(frames)
            self._wake.set()
            if not self._paused and len(self._queue) >= _HIGH_WATER:
                self._paused = True
                if self._on_pause is not None:
                    self._on_pause()

    def offer_shared(self, shared: SharedFrames) -> bool:
        """A group's frames, unless above the high-water mark: queued one by one like any others."""
        if not self.writable():
            return False
        self.send_frames(shared.frames)
        return True

    def writable(self) -> bool:
        """False from reaching the high-water mark until the writer drains below the low-water mark."""
        return not self._paused

    def buffered(self) -> int:
        """Frames queued for the writer."""
        return len(self._queue)

    def close(self, code: int, reason: str) -> None:
        """Close after the queued frames."""
        if self._close is None:
            self._close = (code, reason)
            self._wake.set()

    async def serve(self, on_message: Callable[[bytes | str], None], on_closed: Callable[[], None]) -> None:
        """Receive client messages until the connection ends, then call ``on_closed``."""
        try:
            while self._close is None:
                message = await self._websocket.receive()
                if message["type"] == "websocket.disconnect":
                    return
                text = message.get("text")
                on_message(text if text is not None else message.get("bytes") or b"")
        finally:
            on_closed()
            # they lead back to the connection, whose sink this is: no cycle left behind
            self._on_pause = self._on_resume = None
            if self._close is None:  # the client left: nothing more to write
                await self._stop()

    async def _stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _write_all(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    await self._websocket.send_text(frame_payload(self._queue.popleft()).decode())
                    self._maybe_resume()
                if self._close is not None:
                    await self._websocket.close(*self._close)
                    return
        except (WebSocketDisconnect, WebSocketDisconnected):
            return  # the peer is gone; the receive side sees the disconnect and ends the connection
        except Exception:
            logger.exception("writing to %s failed; nothing more is sent to it", self._websocket.client)

    def _maybe_resume(self) -> None:
        if self._paused and len(self._queue) <= _LOW_WATER:
            self._paused = False
            if self._on_resume is not None:
                self._on_resume()


def transport_for(websocket: WebSocket) -> ClientTransport:
    """The raw sink when the server offers it (our uvicorn protocol), else an ASGI writer."""
    raw = websocket.scope.get("extensions", {}).get(RAW_EXTENSION)
    return raw if isinstance(raw, RawSink) else AsgiTransport(websocket)
