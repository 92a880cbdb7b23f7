"""Sinks for connections that have no raw data plane: any ASGI server, starlette's TestClient included.

One writer task per connection drains a bounded deque through ASGI ``websocket.send``; it reports itself
unwritable above a high-water mark so that the hub's slow-client policy works the same way as on raw sockets.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable

from starlette.websockets import WebSocket

from .frames import SharedFrames, frame_payload
from .uvicorn_protocol import RAW_EXTENSION, RawSink

#: frames queued in the writer before the sink says it is not writable, and where it says it is again
_HIGH_WATER = 1024
_LOW_WATER = 256


class AsgiSink:
    """A writer task per connection: frames go out as ASGI text messages, in order."""

    def __init__(self, websocket: WebSocket) -> None:
        self._websocket = websocket
        self._queue: deque[bytes] = deque()
        self._wake = asyncio.Event()
        self._close: tuple[int, str] | None = None
        self._paused = False
        self._on_resume: Callable[[], None] | None = None
        self._task = asyncio.get_running_loop().create_task(self._run())

    def set_on_resume(self, callback: Callable[[], None]) -> None:
        """Called when the writer drains below the low-water mark after reporting unwritable."""
        self._on_resume = callback

    def send_frames(self, frames: list[bytes]) -> None:
        """Queue frames for the writer task."""
        if self._close is None:
            self._queue.extend(frames)
            self._wake.set()

    def send_shared(self, shared: SharedFrames) -> None:
        """A group's frames: queued one by one like any others."""
        self.send_frames(shared.frames)

    def writable(self) -> bool:
        """False above the high-water mark, until the writer drains below the low-water mark."""
        if len(self._queue) >= _HIGH_WATER:
            self._paused = True
        return not self._paused

    def close(self, code: int, reason: str) -> None:
        """Close after the queued frames."""
        if self._close is None:
            self._close = (code, reason)
            self._wake.set()

    async def stop(self) -> None:
        """Cancel the writer (the connection is gone)."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        # Any failure to send means the peer is gone; the endpoint's receive loop sees the disconnect.
        with contextlib.suppress(Exception):
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._queue:
                    payload = frame_payload(self._queue.popleft())
                    await self._websocket.send_text(payload.decode())
                    self._maybe_resume()
                if self._close is not None:
                    await self._websocket.close(*self._close)
                    return

    def _maybe_resume(self) -> None:
        if self._paused and len(self._queue) <= _LOW_WATER:
            self._paused = False
            if self._on_resume is not None:
                self._on_resume()


def sink_for(websocket: WebSocket) -> RawSink | AsgiSink:
    """The raw sink when the server offers it (our uvicorn protocol), else an ASGI writer."""
    raw = websocket.scope.get("extensions", {}).get(RAW_EXTENSION)
    return raw if isinstance(raw, RawSink) else AsgiSink(websocket)
