"""Transport faults a test author injects (admin API or scenario file): closes, notices, stalls, latency, drops.

``parse_fault`` validates a JSON/TOML object into a ``Fault``; ``FaultInjector.apply`` carries it out on the
connections of the market planes it is given (the shared market's and every private one's). Durations here are
wall-clock seconds: they emulate the network, which does not run at the market's speed.

Stalls, latency and dropped quotes act in ``FaultySink``, which wraps a connection's sink: to the hub a stalled
connection is one whose socket is not writable, so it backlogs, conflates and overflows exactly like a slow
client, and the hub's hot path carries no fault code.
"""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol, get_args

from coinapi_emulator.server.fanout.hub import Hub, Subscriber
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.encode import type_prefix
from coinapi_emulator.server.protocol.errors import InjectedError, ProtocolError, QuotaExceeded, RateLimited
from coinapi_emulator.server.transport.frames import SharedFrames, payload_starts_with
from coinapi_emulator.server.transport.sink import Sink

FaultKind = Literal[
    "close", "reconnect", "stall", "latency", "drop_quotes", "error", "refuse_connections", "rate_limit", "quota"
]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)


class FaultError(ValueError):
    """A fault description that cannot be applied; the text says which field and why."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One validated fault. Fields a kind does not use keep their defaults."""

    kind: FaultKind
    #: connection ids to target (admin ``status``); empty = every connection
    connections: frozenset[int] = frozenset()
    #: close code; None = the kind's default (1001 for close, 1011 for error)
    code: int | None = None
    reason: str = "closed by fault injection"
    message: str = "Simulated server error"
    within_seconds: int = 5
    ms: int = 0
    fraction: float = 0.0
    duration_s: float = 10.0


_PARAMS: dict[str, tuple[type, ...]] = {
    "connections": (list,),
    "code": (int,),
    "reason": (str,),
    "message": (str,),
    "within_seconds": (int,),
    "ms": (int,),
    "fraction": (int, float),
    "duration_s": (int, float),
}
_REQUIRED: dict[str, tuple[str, ...]] = {"stall": ("ms",), "latency": ("ms",), "drop_quotes": ("fraction",)}


def parse_fault(raw: Mapping[str, Any], *, kind_field: str = "fault") -> Fault:
    """A ``Fault`` from ``{"fault": kind, ...params}``; raises ``FaultError`` naming the bad field."""
    kind = raw.get(kind_field)
    if kind not in FAULT_KINDS:
        raise FaultError(f"'{kind_field}' must be one of {', '.join(FAULT_KINDS)}; got {kind!r}")
    params: dict[str, Any] = {}
    for name, value in raw.items():
        if name in (kind_field, "at"):
            continue
        expected = _PARAMS.get(name)
        if expected is None:
            raise FaultError(f"unknown field '{name}' for fault '{kind}'")
        if isinstance(value, bool) or not isinstance(value, expected):
            raise FaultError(f"field '{name}' of fault '{kind}' must be {' or '.join(t.__name__ for t in expected)}")
        params[name] = value
    for name in _REQUIRED.get(kind, ()):
        if name not in params:
            raise FaultError(f"fault '{kind}' needs '{name}'")
    fault = Fault(kind=kind, **_normalized(params))
    _check_ranges(fault)
    return fault


def _normalized(params: dict[str, Any]) -> dict[str, Any]:
    if "connections" in params:
        ids = params["connections"]
        if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
            raise FaultError("field 'connections' must be a list of connection ids (integers)")
        params["connections"] = frozenset(ids)
    for name in ("fraction", "duration_s"):
        if name in params:
            params[name] = float(params[name])
    return params


#: the longest a fault may hold a connection or last: a day of wall time
MAX_FAULT_S = 86_400


def _check_ranges(fault: Fault) -> None:
    if fault.code is not None and (not 1000 <= fault.code <= 4999 or fault.code in (1004, 1005, 1006, 1015)):
        raise FaultError(f"'code' {fault.code} is not a close code a server may send (1000-4999, not 1004-1006/1015)")
    if fault.ms < 0 or fault.within_seconds < 0 or not fault.duration_s > 0:
        raise FaultError("'ms' and 'within_seconds' must be >= 0 and 'duration_s' > 0")
    for name, value, limit in (
        ("ms", fault.ms, MAX_FAULT_S * 1000),
        ("within_seconds", fault.within_seconds, MAX_FAULT_S),
        ("duration_s", fault.duration_s, MAX_FAULT_S),
    ):
        if value > limit:
            raise FaultError(f"'{name}' must be at most {limit} (a day)")
    if not 0.0 <= fault.fraction <= 1.0:
        raise FaultError(f"'fraction' must be between 0 and 1, got {fault.fraction}")
    if len(fault.reason.encode()) > 123:
        raise FaultError("'reason' must fit a close frame (123 bytes)")


class FaultySink:
    """A connection's sink with transport faults in force; frames it does not hold or drop go to the wrapped sink.

    All times are on ``clock`` (seconds). Held batches keep their order, and a close waits behind them.
    """

    def __init__(
        self, inner: Sink, *, clock: Callable[[], float], call_later: Callable[[float, Callable[[], None]], object]
    ) -> None:
        self.inner = inner
        self._clock = clock
        self._call_later = call_later
        #: not writable before this time: the hub keeps (and conflates, and may overflow) the frames meanwhile
        self.stalled_until_s = 0.0
        #: hold each batch this long before writing it, until ``latency_until_s``
        self.latency_s = 0.0
        self.latency_until_s = 0.0
        #: drop this fraction of quote frames until ``drop_until_s`` (the client sees sequence gaps)
        self.drop_quote_fraction = 0.0
        self.drop_until_s = 0.0
        #: drawn per dropped-or-not decision; ``FaultInjector`` seeds it with the connection number
        self.rng = random.Random(0)
        self._held: deque[list[bytes]] = deque()
        self._close_after_held: tuple[int, str] | None = None

    def writable(self) -> bool:
        """False during a stall, else what the wrapped sink says."""
        return self._clock() >= self.stalled_until_s and self.inner.writable()

    def send_frames(self, frames: list[bytes]) -> None:
        """Drop quotes while that fault is in force; hold the batch while latency is (or earlier ones are held)."""
        now_s = self._clock()
        if now_s < self.drop_until_s:
            frames = [frame for frame in frames if not self._drops(frame)]
        if not frames:
            return
        if self._held or now_s < self.latency_until_s:
            self._held.append(frames)
            self._call_later(self.latency_s, self._release)
        else:
            self.inner.send_frames(frames)

    def offer_shared(self, shared: SharedFrames) -> bool:
        """A group's frames, unless stalled or paused: this connection's own copy goes through the faults."""
        if not self.writable():
            return False
        self.send_frames(list(shared.frames))
        return True

    def buffered(self) -> int:
        """What the wrapped sink holds: held batches are the fault's, not the peer's, and do not show its pace."""
        return self.inner.buffered()

    def close(self, code: int, reason: str) -> None:
        """Close after the held batches."""
        if self._held:
            self._close_after_held = (code, reason)
        else:
            self.inner.close(code, reason)

    def _drops(self, frame: bytes) -> bool:
        return payload_starts_with(frame, _QUOTE_PREFIX) and self.rng.random() < self.drop_quote_fraction

    def _release(self) -> None:
        """Write the oldest held batch: each held batch scheduled one release."""
        self.inner.send_frames(self._held.popleft())
        if not self._held and self._close_after_held is not None:
            self.inner.close(*self._close_after_held)


_QUOTE_PREFIX = type_prefix(DataType.QUOTE)


class FaultTarget(Protocol):
    """What faults act on: a market plane's hub, and its ``reconnect`` notice dated on that market's clock."""

    @property
    def hub(self) -> Hub:
        """The hub whose connections the fault may touch."""

    def announce_reconnect(self, within_s: int, subscribers: Iterable[Subscriber]) -> None:
        """Send CoinAPI's ``reconnect`` notice to ``subscribers``."""


class FaultInjector:
    """Applies faults to the connections of market planes; also answers whether new connections are refused.

    The planes' connection ids must be distinct (their hubs number connections from one counter).
    """

    def __init__(
        self,
        *,
        call_later: Callable[[float, Callable[[], None]], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._call_later = call_later
        self._clock = clock
        self._refuse_until_s = 0.0

    def refusing_connections(self) -> bool:
        """True while a ``refuse_connections`` fault is in force."""
        return self._clock() < self._refuse_until_s

    def apply(self, fault: Fault, targets: Iterable[FaultTarget]) -> int:
        """Carry out ``fault`` now on the connections of ``targets``; returns how many connections it touched."""
        if fault.kind == "refuse_connections":
            self._refuse_until_s = self._clock() + fault.duration_s
            return 0
        touched = 0
        for target in list(targets):
            hub = target.hub
            subscribers = [s for s in hub.subscribers if not fault.connections or s.id in fault.connections]
            for subscriber in subscribers:
                self._apply_one(target, fault, subscriber)
            hub.flush_sent()
            touched += len(subscribers)
        return touched

    def _apply_one(self, target: FaultTarget, fault: Fault, subscriber: Subscriber) -> None:
        hub, now_s = target.hub, self._clock()
        match fault.kind:
            case "close":
                hub.close(subscriber, fault.code or 1001, fault.reason)
            case "reconnect":
                target.announce_reconnect(fault.within_seconds, [subscriber])
                self._call_later(fault.within_seconds, lambda: hub.close(subscriber, 1001, "reconnect deadline"))
            case "error" | "rate_limit" | "quota":
                hub.fail(subscriber, _error_for(fault))
            case "stall":
                sink = self._faulty(hub, subscriber)
                sink.stalled_until_s = now_s + fault.ms / 1000
                self._call_later(fault.ms / 1000, lambda: self._end_stall(hub, subscriber, sink))
            case "latency":
                sink = self._faulty(hub, subscriber)
                sink.latency_s = fault.ms / 1000
                sink.latency_until_s = now_s + fault.duration_s
            case "drop_quotes":
                sink = self._faulty(hub, subscriber)
                sink.drop_quote_fraction = fault.fraction
                sink.drop_until_s = now_s + fault.duration_s
            case "refuse_connections":  # handled in apply(): it targets future connections
                pass

    def _end_stall(self, hub: Hub, subscriber: Subscriber, sink: FaultySink) -> None:
        """Resume the subscriber once its stall is over: nothing else tells the hub, since the transport itself
        never paused. A loop's timers may fire a little before this clock reaches the end (uvloop's is a
        millisecond clock read once per loop pass: 106 of 200 timers fired up to 1.1 ms early by
        ``time.monotonic``, 2026-12-04), and a later stall may have pushed the end back: then wait for the rest."""
        remaining_s = sink.stalled_until_s - self._clock()
        if remaining_s > 0:
            self._call_later(remaining_s, lambda: self._end_stall(hub, subscriber, sink))
        else:
            hub.resume(subscriber)

    def _faulty(self, hub: Hub, subscriber: Subscriber) -> FaultySink:
        """The subscriber's ``FaultySink``, wrapped around its sink on the first fault that needs one."""
        sink = subscriber.sink
        if not isinstance(sink, FaultySink):
            sink = FaultySink(sink, clock=self._clock, call_later=self._call_later)
            # seeded by connection number, so that a run drops the same quotes again
            sink.rng = random.Random(subscriber.id)
            hub.set_sink(subscriber, sink)
        return sink


def _error_for(fault: Fault) -> ProtocolError:
    if fault.kind == "rate_limit":
        return RateLimited()
    if fault.kind == "quota":
        return QuotaExceeded()
    return InjectedError(fault.message, fault.code or 1011)
