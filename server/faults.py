"""Transport faults a test author injects (admin API or scenario file): closes, notices, stalls, latency, drops.

``parse_fault`` validates a JSON/TOML object into a ``Fault``; ``FaultInjector.apply`` carries it out on the
connections of the shared market and of every private one (``?seed=N``). Durations here are wall-clock
seconds: they emulate the network, which does not run at the market's speed.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from .hub import Hub, Subscriber, SubscriberFaults
from .protocol.errors import InjectedError, ProtocolError, QuotaExceeded, RateLimited

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


def _check_ranges(fault: Fault) -> None:
    if fault.code is not None and (not 1000 <= fault.code <= 4999 or fault.code in (1004, 1005, 1006, 1015)):
        raise FaultError(f"'code' {fault.code} is not a close code a server may send (1000-4999, not 1004-1006/1015)")
    if fault.ms < 0 or fault.within_seconds < 0 or fault.duration_s <= 0:
        raise FaultError("'ms' and 'within_seconds' must be >= 0 and 'duration_s' > 0")
    if not 0.0 <= fault.fraction <= 1.0:
        raise FaultError(f"'fraction' must be between 0 and 1, got {fault.fraction}")
    if len(fault.reason.encode()) > 123:
        raise FaultError("'reason' must fit a close frame (123 bytes)")


class FaultInjector:
    """Applies faults to the connections of every hub (the shared market's and the private ones); also answers
    whether new connections are refused.

    ``hubs`` names the hubs open now; their connection ids must be distinct (``Hub(ids=...)`` from one counter).
    ``announce_reconnect(hub, within_s, subscribers)`` sends CoinAPI's ``reconnect`` notice to some of a hub's
    connections.
    """

    def __init__(
        self,
        hubs: Callable[[], Iterable[Hub]],
        *,
        announce_reconnect: Callable[[Hub, int, list[Subscriber]], None],
        call_later: Callable[[float, Callable[[], None]], object],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._hubs = hubs
        self._announce_reconnect = announce_reconnect
        self._call_later = call_later
        self._clock = clock
        self._refuse_until_s = 0.0

    def refusing_connections(self) -> bool:
        """True while a ``refuse_connections`` fault is in force."""
        return self._clock() < self._refuse_until_s

    def apply(self, fault: Fault) -> int:
        """Carry out ``fault`` now; returns how many connections it touched."""
        if fault.kind == "refuse_connections":
            self._refuse_until_s = self._clock() + fault.duration_s
            return 0
        touched = 0
        for hub in list(self._hubs()):
            targets = [s for s in hub.subscribers if not fault.connections or s.id in fault.connections]
            for subscriber in targets:
                self._apply_one(hub, fault, subscriber)
            hub.flush()
            touched += len(targets)
        return touched

    def _apply_one(self, hub: Hub, fault: Fault, subscriber: Subscriber) -> None:
        now_s = self._clock()
        match fault.kind:
            case "close":
                hub.close(subscriber, fault.code or 1001, fault.reason)
            case "reconnect":
                self._announce_reconnect(hub, fault.within_seconds, [subscriber])
                self._call_later(fault.within_seconds, lambda: hub.close(subscriber, 1001, "reconnect deadline"))
            case "error" | "rate_limit" | "quota":
                hub.fail(subscriber, _error_for(fault))
            case "stall":
                self._faults(hub, subscriber).stalled_until_s = now_s + fault.ms / 1000
            case "latency":
                faults = self._faults(hub, subscriber)
                faults.latency_s = fault.ms / 1000
                faults.latency_until_s = now_s + fault.duration_s
            case "drop_quotes":
                faults = self._faults(hub, subscriber)
                faults.drop_quote_fraction = fault.fraction
                faults.drop_until_s = now_s + fault.duration_s
            case "refuse_connections":  # handled in apply(): it targets future connections
                pass

    @staticmethod
    def _faults(hub: Hub, subscriber: Subscriber) -> SubscriberFaults:
        faults = subscriber.faults
        if faults is None:
            faults = SubscriberFaults(rng=random.Random(subscriber.id))
            hub.set_faults(subscriber, faults)
        return faults


def _error_for(fault: Fault) -> ProtocolError:
    if fault.kind == "rate_limit":
        return RateLimited()
    if fault.kind == "quota":
        return QuotaExceeded()
    return InjectedError(fault.message, fault.code or 1011)
