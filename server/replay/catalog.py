"""The catalogue subscription filters resolve against during a replay: the synthetic one plus the recording's ids.

A recording of the real feed names symbols, exchanges and assets the synthetic catalogue does not have. The
gateway resolves filters to routes against a catalogue (``server/protocol/routes.py``), so for a replay it
gets ``routing_catalog(catalog, inventory)``: the synthetic catalogue extended with a stand-in for every id
the recording uses and the catalogue lacks. Filters then select recorded symbols exactly as they select
synthetic ones (prefix and exact symbol ids, exchange ids, ``BASE``/``BASE/QUOTE`` asset entries).

The stand-ins only carry ids: their prices, precisions and activity are zeros. They are never seen by REST or
by the feed, which keep the synthetic catalogue. A stand-in symbol's exchange and assets come from a recorded
``symbol`` message when there is one (exact). Otherwise they are read from the id by CoinAPI's naming pattern
(PROTOCOL.md §4.4: ``{EXCHANGE}_{SPOT|PERP|FTS|OPT}_{BASE}_{QUOTE}...``): a best effort, because ids are
looked up, not parsed, on the real service. An id that does not follow the pattern gets the part before its
first ``_`` as exchange (no real exchange id contains one) and itself as base and quote asset, so it is
selected by symbol-id and exchange filters but by no real asset filter.
"""

from __future__ import annotations

from coinapi_emulator.server.replay.source import RecordingInventory, SymbolFacts
from coinapi_emulator.simulator.catalog import Asset, Catalog, Exchange, Symbol, SymbolType

_TYPES_BY_ID_PART = {symbol_type.id_part: symbol_type for symbol_type in SymbolType}


def routing_catalog(catalog: Catalog, inventory: RecordingInventory) -> Catalog:
    """``catalog`` plus stand-ins for the recording's symbol, exchange and asset ids that it lacks."""
    symbols = [
        _stand_in_symbol(symbol_id, inventory.symbol_facts.get(symbol_id))
        for symbol_id in sorted(inventory.symbol_ids)
        if catalog.symbol(symbol_id) is None
    ]
    exchange_ids = inventory.exchange_ids | {symbol.exchange_id for symbol in symbols}
    asset_ids = inventory.asset_ids | {a for symbol in symbols for a in (symbol.asset_id_base, symbol.asset_id_quote)}
    rank = len(catalog.exchanges)
    exchanges = [
        Exchange(exchange_id, name=None, website=None, rank=rank + n, data_start="1970-01-01", is_real=False)
        for n, exchange_id in enumerate(sorted(e for e in exchange_ids if catalog.exchange(e) is None), start=1)
    ]
    assets = [
        Asset(asset_id, name=asset_id, type_is_crypto=True, initial_price_usd=0.0, volatility=0.0)
        for asset_id in sorted(a for a in asset_ids if catalog.asset(a) is None)
    ]
    if not (symbols or exchanges or assets):
        return catalog
    return Catalog(
        exchanges=catalog.exchanges + tuple(exchanges),
        assets=catalog.assets + tuple(assets),
        symbols=catalog.symbols + tuple(symbols),
    )


def _stand_in_symbol(symbol_id: str, facts: SymbolFacts | None) -> Symbol:
    parts = symbol_id.split("_")
    symbol_type = _TYPES_BY_ID_PART.get(parts[1], SymbolType.SPOT) if len(parts) > 1 else SymbolType.SPOT
    if facts is None:
        facts = _facts_from_id(parts) or SymbolFacts(parts[0], symbol_id, symbol_id)
    return Symbol(
        symbol_id=symbol_id,
        exchange_id=facts.exchange_id,
        symbol_type=symbol_type,
        asset_id_base=facts.asset_id_base,
        asset_id_quote=facts.asset_id_quote,
        symbol_id_exchange=symbol_id,
        price_decimals=0,
        size_decimals=0,
        trade_rate=0.0,
        book_rate=0.0,
    )


def _facts_from_id(parts: list[str]) -> SymbolFacts | None:
    """Exchange and assets by CoinAPI's id pattern, or None when the id does not follow it."""
    if len(parts) >= 4 and parts[1] in _TYPES_BY_ID_PART and all(parts[:4]):
        return SymbolFacts(parts[0], parts[2], parts[3])
    return None
