"""Named factories for the protocol tests: hand-built catalogues, client frames and hypothesis strategies.

Catalogues are built from ``simulator.catalog`` dataclasses directly (never ``build_catalog``), so these
tests do not depend on the generator.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final, Unpack

import orjson
from hypothesis import settings
from hypothesis import strategies as st

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.filters import NO_FILTERS, Filters
from coinapi_emulator.server.protocol.messages import NO_LIMITS, ClientMessage, ClientMessageJson, UpdateLimits, Verb
from coinapi_emulator.server.protocol.session import Session
from coinapi_emulator.simulator.catalog import Asset, Catalog, Exchange, Symbol, SymbolType

#: the key ``KeyPolicy`` accepts in session tests (any key shaped like the C# SDK's Guid)
GOOD_KEY: Final = "00000000-0000-0000-0000-000000000001"
BAD_KEY: Final = "00000000-0000-0000-0000-00000000dead"

LIVE_PERIODS: Final = ("1SEC", "1MIN", "5MIN")

#: for every property test: timing is not what they check, and CI machines (coverage, parallel jobs) are slow
NO_DEADLINE: Final = settings(deadline=None)


def make_symbol(
    exchange_id: str, base: str, quote: str, symbol_type: SymbolType = SymbolType.SPOT, symbol_id: str | None = None
) -> Symbol:
    """A symbol with the CoinAPI id pattern ``{EXCHANGE}_{TYPE}_{BASE}_{QUOTE}`` unless ``symbol_id`` is given."""
    return Symbol(
        symbol_id=f"{exchange_id}_{symbol_type.id_part}_{base}_{quote}" if symbol_id is None else symbol_id,
        exchange_id=exchange_id,
        symbol_type=symbol_type,
        asset_id_base=base,
        asset_id_quote=quote,
        symbol_id_exchange=f"{base}{quote}".lower(),
        price_decimals=2,
        size_decimals=4,
        trade_rate=1.0,
        book_rate=1.0,
    )


def make_exchange(exchange_id: str, rank: int = 1) -> Exchange:
    """A real-looking exchange."""
    return Exchange(
        exchange_id=exchange_id,
        name=exchange_id.title(),
        website=None,
        rank=rank,
        data_start="2020-01-01",
        is_real=True,
    )


def make_asset(asset_id: str) -> Asset:
    """An asset priced at 1 USD."""
    return Asset(asset_id=asset_id, name=asset_id, type_is_crypto=asset_id not in {"USD", "EUR"}, initial_price_usd=1.0,
                 volatility=0.5)  # fmt: skip


def make_catalog(
    symbols: Iterable[Symbol], extra_exchanges: Iterable[str] = (), extra_assets: Iterable[str] = ()
) -> Catalog:
    """A catalogue listing ``symbols`` and every exchange and asset they use, plus the extra ones."""
    symbols = tuple(symbols)
    exchange_ids = dict.fromkeys([*(s.exchange_id for s in symbols), *extra_exchanges])
    asset_ids = dict.fromkeys([*(a for s in symbols for a in (s.asset_id_base, s.asset_id_quote)), *extra_assets])
    return Catalog(
        exchanges=tuple(make_exchange(e, rank) for rank, e in enumerate(exchange_ids, 1)),
        assets=tuple(make_asset(a) for a in asset_ids),
        symbols=symbols,
    )


def small_catalog() -> Catalog:
    """A dozen symbols chosen for the edge cases: ``BINANCE_`` must not match BINANCEFTS, ``..._BTC_USD`` is a
    prefix of ``..._BTC_USDT``, ``EUR`` is a quote only, ``ETH/BTC`` has BTC as quote; GEMINI lists nothing."""
    return make_catalog(
        [
            make_symbol("BINANCE", "BTC", "USDT"),
            make_symbol("BINANCE", "ETH", "USDT"),
            make_symbol("BINANCE", "ETH", "BTC"),
            make_symbol("BINANCEFTS", "BTC", "USDT", SymbolType.PERPETUAL),
            make_symbol("COINBASE", "BTC", "USD"),
            make_symbol("COINBASE", "ETH", "USD"),
            make_symbol("COINBASE", "BTC", "EUR"),
            make_symbol("KRAKEN", "BTC", "EUR"),
            make_symbol("KRAKEN", "XRP", "USD"),
            make_symbol("BITSTAMP", "BTC", "USD"),
            make_symbol("BITSTAMP", "BTC", "USDT"),
        ],
        extra_exchanges=["GEMINI"],
        extra_assets=["DOGE"],
    )


def big_catalog(exchanges: int = 100, symbols_per_exchange: int = 50) -> Catalog:
    """``exchanges * symbols_per_exchange`` symbols (5,000 by default) over 60 assets."""
    bases = [f"A{i:02d}" for i in range(50)]
    quotes = ["USD", "USDT", "EUR", "BTC", "ETH"]
    symbols = [
        make_symbol(f"EX{e:03d}", bases[(e + i) % len(bases)], quotes[i % len(quotes)], symbol_id=f"EX{e:03d}_SPOT_{i}")
        for e in range(exchanges)
        for i in range(symbols_per_exchange)
    ]
    return make_catalog(symbols)


def message(
    verb: Verb = Verb.HELLO,
    data_types: Iterable[DataType] = (DataType.TRADE,),
    *,
    filters: Filters = NO_FILTERS,
    heartbeat: bool | None = None,
    apikey: str | None = None,
    limits: UpdateLimits = NO_LIMITS,
) -> ClientMessage:
    """A parsed message built directly, for the scope tests."""
    return ClientMessage(verb, apikey, heartbeat, tuple(data_types), filters, limits)


def frame(**fields: Unpack[ClientMessageJson]) -> bytes:
    """A client frame as the wire carries it."""
    return orjson.dumps(fields)


def hello(*data_types: str, **fields: Unpack[ClientMessageJson]) -> bytes:
    """A hello frame with ``GOOD_KEY`` (override with ``apikey=``) for ``data_types`` (default trade)."""
    body: ClientMessageJson = {
        "type": "hello",
        "apikey": GOOD_KEY,
        "subscribe_data_type": list(data_types) or ["trade"],
    }
    return orjson.dumps({**body, **fields})


# Hypothesis strategies: small alphabets so that values collide and set algebra is exercised.
SYMBOL_ENTRIES: Final = ("BINANCE_", "COINBASE_SPOT_BTC_USD$", "KRAKEN_SPOT_", "BITSTAMP_SPOT_BTC_USD", "NOPE_")
EXCHANGE_IDS: Final = ("BINANCE", "COINBASE", "KRAKEN", "GEMINI")
ASSET_ENTRIES: Final = ("BTC", "ETH", "USD", "BTC/USD", "ETH/BTC", "DOGE")
PERIOD_IDS: Final = ("1SEC", "1MIN", "1HRS")

data_type_lists = st.lists(st.sampled_from(DataType), min_size=1, max_size=4)


def _values(choices: tuple[str, ...]) -> st.SearchStrategy[frozenset[str]]:
    return st.frozensets(st.sampled_from(choices), max_size=2)


filters_strategy: st.SearchStrategy[Filters] = st.builds(
    Filters,
    symbol_ids=_values(SYMBOL_ENTRIES),
    exchange_ids=_values(EXCHANGE_IDS),
    asset_ids=_values(ASSET_ENTRIES),
    period_ids=_values(PERIOD_IDS),
)


def messages_strategy(verb: Verb) -> st.SearchStrategy[ClientMessage]:
    """Parsed messages of one verb with random types and filters."""
    return st.builds(message, st.just(verb), data_type_lists, filters=filters_strategy)


def assert_frames(session: Session, expected: list[dict[str, object]]) -> None:
    """The session's pending frames, decoded, are exactly ``expected`` (and the buffer is emptied)."""
    assert [orjson.loads(frame) for frame in session.data_to_send()] == expected


def error_frame(text: str) -> dict[str, object]:
    """The decoded ``error`` frame carrying ``text``."""
    return {"type": "error", "message": text}


def make_filters(
    symbols: tuple[str, ...] = (),
    exchanges: tuple[str, ...] = (),
    assets: tuple[str, ...] = (),
    periods: tuple[str, ...] = (),
) -> Filters:
    """Filters from tuples of entries, kind by kind."""
    return Filters(frozenset(symbols), frozenset(exchanges), frozenset(assets), frozenset(periods))
