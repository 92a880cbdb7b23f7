"""Helpers of the simulator tests (a uniquely named module: test directories are not packages)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import orjson

from coinapi_emulator.simulator.catalog import Catalog
from coinapi_emulator.simulator.events import MarketEvent
from coinapi_emulator.simulator.market import Market

#: 2024-01-01T00:00:00Z in ns
START_NS = 1_704_067_200_000_000_000
SECOND_NS = 1_000_000_000


def subset(catalog: Catalog, symbol_ids: Iterable[str]) -> Catalog:
    """A catalogue with only these symbols and the assets they use (a symbol's stream does not depend on others)."""
    wanted = set(symbol_ids)
    symbols = tuple(s for s in catalog.symbols if s.symbol_id in wanted)
    used = {s.asset_id_base for s in symbols} | {s.asset_id_quote for s in symbols}
    return Catalog(catalog.exchanges, tuple(a for a in catalog.assets if a.asset_id in used), symbols)


def canonical(event: MarketEvent) -> bytes:
    """One event as canonical JSON: ``[type name, fields]`` with enums as their values."""
    return orjson.dumps([type(event).__name__, event])


def digest(events: Iterable[MarketEvent]) -> str:
    """sha256 over the canonical lines of ``events``."""
    h = hashlib.sha256()
    for event in events:
        h.update(canonical(event))
        h.update(b"\n")
    return h.hexdigest()


def run(market: Market, seconds: float) -> list[MarketEvent]:
    """All events of the next ``seconds`` virtual seconds."""
    return list(market.advance(market.now_ns + int(seconds * SECOND_NS)))
