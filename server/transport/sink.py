"""What a connection's socket offers the server, whatever runs it: ``Sink`` for the hub, ``ClientTransport`` for
the WebSocket endpoint. Two implementations: ``raw.RawSink`` (our uvicorn protocol: frames straight to the
transport) and ``asgi.AsgiTransport`` (any ASGI server, starlette's TestClient included)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from coinapi_emulator.server.transport.frames import SharedFrames


class Sink(Protocol):
    """Where a subscriber's frames go; every method returns at once."""

    def send_frames(self, frames: list[bytes]) -> None:
        """Queue pre-framed text frames for the socket, in order."""

    def offer_shared(self, shared: SharedFrames) -> bool:
        """A group's frames (the same object goes to every member's sink): sent as ``send_frames`` would, unless
        the sink is not ``writable``; whether it took them. One call per member and tick on the hub's hot path."""

    def writable(self) -> bool:
        """False while the socket cannot take more (its buffer is above the high-water mark)."""

    def buffered(self) -> int:
        """How much it holds that the peer has not taken yet (bytes, or frames where it queues frames): read to
        see whether a paused reader makes progress."""

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake after the frames already sent."""


class ClientTransport(Sink, Protocol):
    """A connection's socket as the WebSocket endpoint drives it: the hub's sink, plus the receiving side."""

    def set_flow_control(self, on_pause: Callable[[], None], on_resume: Callable[[], None]) -> None:
        """Call ``on_pause`` when the socket stops taking frames (``writable`` turns False) and ``on_resume`` when it
        can take them again; at most one ``on_pause`` before each ``on_resume``."""

    async def serve(self, on_message: Callable[[bytes | str], None], on_closed: Callable[[], None]) -> None:
        """Deliver each client message to ``on_message`` and the end of the connection to ``on_closed`` (once).

        Returns when the endpoint's coroutine may end: after the connection closed, or at once where the server
        calls back outside the ASGI coroutine (``RawSink``).
        """
