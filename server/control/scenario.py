"""Scenario files: a timeline of market events and transport faults on the virtual clock.

A scenario is TOML (``tomllib`` reads it; no extra dependency)::

    name = "BTC flash crash"
    [[events]]
    at = "10s"            # after the scenario starts, virtual time: seconds, or "500ms", "10s", "2m", "1h"
    type = "price_jump"
    asset = "BTC"
    percent = -8

Market events (``price_jump``, ``volatility``, ``halt``, ``outage``, ``spread``) act on the simulator at their
exact virtual time; transport faults (every ``FAULT_KINDS`` name, with the fields of ``server/control/faults.py``)
are applied to the connections open at that moment. ``load_scenario`` validates everything up front and
raises ``ScenarioError`` naming the event and the field.
"""

from __future__ import annotations

import dataclasses
import heapq
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from coinapi_emulator.server.control.faults import FAULT_KINDS, Fault, FaultError, parse_fault
from coinapi_emulator.simulator.catalog import Catalog
from coinapi_emulator.simulator.scenario import Halt, MarketAction, PriceJump, SpreadWidening, VolatilityBurst

_NS_PER_S = 1_000_000_000
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)\s*$")
_UNIT_NS = {"ms": 1_000_000, "s": _NS_PER_S, "m": 60 * _NS_PER_S, "h": 3600 * _NS_PER_S}
MARKET_EVENTS = ("price_jump", "volatility", "halt", "outage", "spread")
_NS_PER_DAY = 86_400 * _NS_PER_S
#: the latest a scenario step may come, and the longest an event may last: a year of virtual time
MAX_TIMELINE_NS = 366 * _NS_PER_DAY
#: volatility and spread multipliers above this break the books' shape (1e308 once emptied a book side)
MAX_MULTIPLIER = 100.0
#: a price jump of more than +1000% (x11) is no scenario a client needs
MAX_JUMP_PERCENT = 1000.0


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the text names the file, the event and the field."""


@dataclass(frozen=True, slots=True)
class Step:
    """One thing to do at one virtual time: start or end a market action, or apply a fault."""

    at_ns: int
    action: MarketAction | Fault
    ending: bool = False


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario; ``steps`` carry offsets from the scenario's start."""

    name: str
    steps: tuple[Step, ...]

    def within(self, catalog: Catalog) -> Scenario:
        """The part of the scenario a market of ``catalog`` (one shard of the whole) carries out: halts and
        spreads of its own symbols, every asset's jumps and volatility (every shard moves the same factors), and
        the transport faults of its own connections."""
        steps = []
        for step in self.steps:
            action = step.action
            if isinstance(action, Halt | SpreadWidening):
                own = tuple(symbol_id for symbol_id in action.symbol_ids if catalog.symbol(symbol_id) is not None)
                if not own:
                    continue
                action = dataclasses.replace(action, symbol_ids=own)
            steps.append(dataclasses.replace(step, action=action))
        return Scenario(self.name, tuple(steps))

    @property
    def has_faults(self) -> bool:
        """Whether any step is a transport fault (which acts on the connections of the process that runs it)."""
        return any(isinstance(step.action, Fault) for step in self.steps)


def parse_duration_ns(value: object, what: str, *, at_most_ns: int = MAX_TIMELINE_NS) -> int:
    """``10`` / ``2.5`` (seconds) or ``"500ms"``, ``"10s"``, ``"2m"``, ``"1h"`` -> ns, from 0 to ``at_most_ns``."""
    if isinstance(value, bool):
        raise ScenarioError(f"{what} must be a number of seconds or a string like '10s'")
    if isinstance(value, int | float):
        seconds = float(value)
        unit_ns = _NS_PER_S
    else:
        match = _DURATION.match(value) if isinstance(value, str) else None
        if match is None:
            raise ScenarioError(f"{what} must be a number of seconds or a string like '500ms', '10s', '2m', '1h'")
        seconds, unit_ns = float(match[1]), _UNIT_NS[match[2]]
    if seconds < 0:
        raise ScenarioError(f"{what} must not be negative")
    if not math.isfinite(seconds) or seconds * unit_ns > at_most_ns:
        raise ScenarioError(f"{what} must be at most {_days(at_most_ns)}")
    return int(seconds * unit_ns)


def _days(ns: int) -> str:
    days = ns / _NS_PER_DAY
    return "1 day" if days == 1 else f"{days:g} days"


def load_scenario(text: str, catalog: Catalog, *, source: str = "scenario") -> Scenario:
    """Parse and validate TOML ``text`` against ``catalog`` (ids must exist)."""
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{source}: not valid TOML: {error}") from None
    events = document.get("events")
    if not isinstance(events, list) or not events:
        raise ScenarioError(f"{source}: needs at least one [[events]] table")
    unknown = set(document) - {"name", "events"}
    if unknown:
        raise ScenarioError(f"{source}: unknown top-level key(s): {', '.join(sorted(unknown))}")
    steps: list[Step] = []
    for number, event in enumerate(events, start=1):
        if not isinstance(event, dict):
            raise ScenarioError(f"{source}: event {number} must be a table")
        try:
            steps.extend(_steps(event, catalog))
        except (ScenarioError, FaultError) as error:
            raise ScenarioError(f"{source}: event {number} ({event.get('type', '?')}): {error}") from None
    return Scenario(name=str(document.get("name", source)), steps=tuple(steps))


def _steps(event: Mapping[str, Any], catalog: Catalog) -> list[Step]:
    kind = event.get("type")
    if "at" not in event:
        raise ScenarioError("needs 'at' (when, after the scenario starts)")
    at_ns = parse_duration_ns(event["at"], "'at'")
    if kind in FAULT_KINDS:
        return [Step(at_ns, parse_fault(event, kind_field="type"))]
    if kind not in MARKET_EVENTS:
        raise ScenarioError(f"'type' must be one of {', '.join(MARKET_EVENTS + FAULT_KINDS)}")
    action = _market_action(kind, event, catalog)
    start = Step(at_ns, action)
    if isinstance(action, PriceJump):
        return [start]
    duration_ns = parse_duration_ns(_field(event, "duration", (int, float, str)), "'duration'")
    return [start, Step(at_ns + duration_ns, action, ending=True)]


_FIELDS = {
    "price_jump": {"type", "at", "asset", "percent"},
    "volatility": {"type", "at", "asset", "multiplier", "duration"},
    "halt": {"type", "at", "symbol", "exchange", "duration"},
    "outage": {"type", "at", "exchange", "duration"},
    "spread": {"type", "at", "symbol", "exchange", "multiplier", "duration"},
}


def _market_action(kind: str, event: Mapping[str, Any], catalog: Catalog) -> MarketAction:
    unknown = set(event) - _FIELDS[kind]
    if unknown:
        raise ScenarioError(f"unknown field(s): {', '.join(sorted(unknown))}")
    if kind == "price_jump":
        percent = _number(event, "percent")
        if percent <= -100:
            raise ScenarioError("'percent' must be above -100")
        if percent > MAX_JUMP_PERCENT:
            raise ScenarioError(f"'percent' must be at most {MAX_JUMP_PERCENT:g}")
        return PriceJump(_asset(event, catalog), percent)
    if kind == "volatility":
        return VolatilityBurst(_asset(event, catalog), _multiplier(event))
    if kind == "outage":
        return Halt(_symbols(event, catalog, allow_symbol=False))
    if kind == "halt":
        return Halt(_symbols(event, catalog))
    return SpreadWidening(_symbols(event, catalog), _multiplier(event))


def _field(event: Mapping[str, Any], name: str, types: tuple[type, ...]) -> Any:
    if name not in event:
        raise ScenarioError(f"needs '{name}'")
    value = event[name]
    if isinstance(value, bool) or not isinstance(value, types):
        raise ScenarioError(f"'{name}' must be {' or '.join(t.__name__ for t in types)}")
    return value


def _number(event: Mapping[str, Any], name: str) -> float:
    value = float(_field(event, name, (int, float)))
    if math.isnan(value):
        raise ScenarioError(f"'{name}' must be a number")
    return value


def _multiplier(event: Mapping[str, Any]) -> float:
    value = _number(event, "multiplier")
    if value <= 0:
        raise ScenarioError("'multiplier' must be > 0")
    if value > MAX_MULTIPLIER:
        raise ScenarioError(f"'multiplier' must be at most {MAX_MULTIPLIER:g}")
    return value


def _asset(event: Mapping[str, Any], catalog: Catalog) -> str:
    asset_id = _field(event, "asset", (str,))
    asset = catalog.asset(asset_id)
    if asset is None or asset_id == "USD":
        raise ScenarioError(f"'asset' {asset_id!r} is not a priced asset of the catalogue")
    return str(asset_id)


def _symbols(event: Mapping[str, Any], catalog: Catalog, *, allow_symbol: bool = True) -> tuple[str, ...]:
    if allow_symbol and "symbol" in event:
        symbol_id = _field(event, "symbol", (str,))
        if catalog.symbol(symbol_id) is None:
            raise ScenarioError(f"'symbol' {symbol_id!r} is not in the catalogue")
        return (symbol_id,)
    if "exchange" not in event:
        raise ScenarioError("needs 'symbol' or 'exchange'" if allow_symbol else "needs 'exchange'")
    exchange_id = _field(event, "exchange", (str,))
    symbols = tuple(s.symbol_id for s in catalog.symbols if s.exchange_id == exchange_id)
    if not symbols:
        raise ScenarioError(f"'exchange' {exchange_id!r} has no symbols in the catalogue")
    return symbols


@dataclass(slots=True)
class Timeline:
    """Scheduled steps in virtual time, earliest first; the feed runs them as the market reaches them."""

    _heap: list[tuple[int, int, Step]] = field(default_factory=list)
    _counter: int = 0
    #: name of each scenario loaded, for the admin status
    loaded: list[str] = field(default_factory=list)

    def schedule(self, scenario: Scenario, start_ns: int) -> None:
        """Add a scenario whose offsets count from ``start_ns``."""
        for step in scenario.steps:
            self._counter += 1
            heapq.heappush(self._heap, (start_ns + step.at_ns, self._counter, step))
        self.loaded.append(scenario.name)

    def next_ns(self) -> int | None:
        """Virtual time of the next step, or None."""
        return self._heap[0][0] if self._heap else None

    def pending(self) -> int:
        """Steps not yet run."""
        return len(self._heap)

    def run_due(self, now_ns: int, run: Callable[[Step], None]) -> None:
        """Run every step due at or before ``now_ns``, in order."""
        while self._heap and self._heap[0][0] <= now_ns:
            run(heapq.heappop(self._heap)[2])
