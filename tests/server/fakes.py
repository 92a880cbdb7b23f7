"""Test doubles for the server tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.fanout.hub import Hub, Subscriber
from coinapi_emulator.server.http.websocket import Connection, WebSocketEndpoint
from coinapi_emulator.server.transport.frames import SharedFrames, frame_payload


@dataclass
class FakeSink:
    writes: list[list[bytes]] = field(default_factory=list)
    is_writable: bool = True
    #: what ``buffered`` reports: bytes the peer has not taken yet
    unread: int = 0
    closed_with: tuple[int, str] | None = None

    def send_frames(self, frames: list[bytes]) -> None:
        self.writes.append(list(frames))

    def offer_shared(self, shared: SharedFrames) -> bool:
        if not self.writable():
            return False
        self.send_frames(shared.frames)
        return True

    def writable(self) -> bool:
        return self.is_writable

    def buffered(self) -> int:
        return self.unread

    def close(self, code: int, reason: str) -> None:
        self.closed_with = (code, reason)

    def payloads(self) -> list[bytes]:
        return [frame_payload(frame) for write in self.writes for frame in write]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeTarget:
    """A ``FaultTarget``: a hub, and the reconnect notices it was asked to send."""

    hub: Hub
    announced: list[tuple[int, list[int]]] = field(default_factory=list)

    def announce_reconnect(self, within_s: int, subscribers: Iterable[Subscriber] | None = None) -> None:
        self.announced.append((within_s, [s.id for s in subscribers or ()]))


def open_connection(emulator: Emulator, sink: FakeSink, *messages: Mapping[str, Any], peer: str = "test") -> Connection:
    """A connection to ``emulator``'s WebSocket endpoint, writing to ``sink``, that sent ``messages`` as JSON text."""
    endpoint = WebSocketEndpoint(emulator)
    connection = endpoint.connect(sink, peer, upgrade_key=None)
    for message in messages:
        endpoint.handle_message(connection, orjson.dumps(message).decode())
    return connection
