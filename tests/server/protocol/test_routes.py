"""routes.py: turning a scope into (data type, topic) routes over a hand-built catalogue."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.errors import UnknownFilterValue
from coinapi_emulator.server.protocol.filters import NO_FILTERS, Combine, Filters, symbol_matches
from coinapi_emulator.server.protocol.routes import (
    CatalogIndex,
    RouteKey,
    RouteResolver,
    catalog_index,
    check_known_values,
    resolve_routes,
)
from coinapi_emulator.server.protocol.scope import Scope, apply_hello
from coinapi_emulator.simulator.catalog import Catalog
from tests.server.protocol.factories import (
    LIVE_PERIODS,
    NO_DEADLINE,
    big_catalog,
    filters_strategy,
    make_catalog,
    make_symbol,
    message,
)
from tests.server.protocol.factories import make_filters as f

T, Q, OHLCV, EXRATE = DataType.TRADE, DataType.QUOTE, DataType.OHLCV, DataType.EXRATE
ASSET, EXCHANGE, SYMBOL = DataType.ASSET, DataType.EXCHANGE, DataType.SYMBOL


def routes(
    catalog: Catalog, data_types: list[DataType], filters: Filters = NO_FILTERS, combine: Combine = "union"
) -> frozenset[RouteKey]:
    scope = apply_hello(message(data_types=data_types, filters=filters))
    return resolve_routes(scope, catalog, combine=combine, live_periods=LIVE_PERIODS)


def topics(
    catalog: Catalog, data_type: DataType, filters: Filters = NO_FILTERS, combine: Combine = "union"
) -> set[str]:
    found = routes(catalog, [data_type], filters, combine)
    assert {key[0] for key in found} <= {data_type}
    return {key[1] for key in found}


# --- symbol streams --------------------------------------------------------------------------------------


def test_no_filter_routes_every_symbol(catalog: Catalog) -> None:
    assert routes(catalog, [T, Q]) == {(t, s.symbol_id) for t in (T, Q) for s in catalog.symbols}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("BITSTAMP_SPOT_BTC_USD", {"BITSTAMP_SPOT_BTC_USD", "BITSTAMP_SPOT_BTC_USDT"}),
        ("BITSTAMP_SPOT_BTC_USD$", {"BITSTAMP_SPOT_BTC_USD"}),
        ("BINANCE_", {"BINANCE_SPOT_BTC_USDT", "BINANCE_SPOT_ETH_USDT", "BINANCE_SPOT_ETH_BTC"}),
        ("BINANCEFTS_PERP_BTC_USDT$", {"BINANCEFTS_PERP_BTC_USDT"}),
        ("NOPE_", set()),
        ("NOPE$", set()),
        ("ZZZ", set()),
    ],
)
def test_symbol_entries(catalog: Catalog, entry: str, expected: set[str]) -> None:
    assert topics(catalog, T, f((entry,))) == expected


def test_docs_example_unions_exchange_and_symbol_filters(catalog: Catalog) -> None:
    # PROTOCOL.md §2.4: all symbols of the listed exchanges plus the listed symbols.
    filters = f(("BITSTAMP_SPOT_BTC_USD$",), ("KRAKEN", "GEMINI"))
    assert topics(catalog, T, filters) == {"BITSTAMP_SPOT_BTC_USD", "KRAKEN_SPOT_BTC_EUR", "KRAKEN_SPOT_XRP_USD"}


def test_asset_filters(catalog: Catalog) -> None:
    assert topics(catalog, Q, f(assets=("EUR",))) == {"COINBASE_SPOT_BTC_EUR", "KRAKEN_SPOT_BTC_EUR"}
    assert topics(catalog, Q, f(assets=("ETH/BTC",))) == {"BINANCE_SPOT_ETH_BTC"}
    assert topics(catalog, Q, f(assets=("BTC/ETH",))) == set()
    assert "BINANCE_SPOT_ETH_BTC" in topics(catalog, Q, f(assets=("BTC",)))


def test_intersection_needs_every_kind(catalog: Catalog) -> None:
    filters = f(("BINANCE",), ("BINANCEFTS",), ("USDT",))
    assert topics(catalog, T, filters, "intersection") == {"BINANCEFTS_PERP_BTC_USDT"}
    assert topics(catalog, T, filters, "union") == {
        "BINANCE_SPOT_BTC_USDT",
        "BINANCE_SPOT_ETH_USDT",
        "BINANCE_SPOT_ETH_BTC",
        "BINANCEFTS_PERP_BTC_USDT",
        "BITSTAMP_SPOT_BTC_USDT",
    }


def test_book_types_route_by_symbol(catalog: Catalog) -> None:
    books = [DataType.BOOK, DataType.BOOK5, DataType.BOOK20, DataType.BOOK50]
    found = routes(catalog, books, f(("KRAKEN_",)))
    assert found == {(book, s) for book in books for s in ("KRAKEN_SPOT_BTC_EUR", "KRAKEN_SPOT_XRP_USD")}


# --- ohlcv -----------------------------------------------------------------------------------------------


def test_ohlcv_routes_each_symbol_by_each_live_period(catalog: Catalog) -> None:
    assert topics(catalog, OHLCV, f(("KRAKEN_SPOT_XRP_USD$",))) == {
        "KRAKEN_SPOT_XRP_USD.1SEC",
        "KRAKEN_SPOT_XRP_USD.1MIN",
        "KRAKEN_SPOT_XRP_USD.5MIN",
    }


def test_ohlcv_period_filter_keeps_live_periods_only(catalog: Catalog) -> None:
    filters = f(("KRAKEN_",), periods=("1MIN", "1DAY"))
    assert topics(catalog, OHLCV, filters) == {"KRAKEN_SPOT_BTC_EUR.1MIN", "KRAKEN_SPOT_XRP_USD.1MIN"}
    assert topics(catalog, OHLCV, f(("KRAKEN_",), periods=("1DAY",))) == set()


def test_period_filter_alone_selects_all_symbols(catalog: Catalog) -> None:
    assert topics(catalog, OHLCV, f(periods=("5MIN",))) == {f"{s.symbol_id}.5MIN" for s in catalog.symbols}


# --- exrate ----------------------------------------------------------------------------------------------


def test_exrate_pairs(catalog: Catalog) -> None:
    filters = f(assets=("BTC", "ETH/EUR", "XRP/DOGE", "USD", "EUR/EUR", "NOPE", "BTC/NOPE"))
    # BTC means BTC/USD; pairs pass through when both sides are known; X/X and unknown assets are skipped.
    assert topics(catalog, EXRATE, filters) == {"BTC/USD", "ETH/EUR", "XRP/DOGE"}


def test_exrate_ignores_instrument_filters(catalog: Catalog) -> None:
    assert topics(catalog, EXRATE, f(("KRAKEN_",), ("KRAKEN",), ("ETH",))) == {"ETH/USD"}


def test_exrate_without_usd_in_the_catalogue(catalog: Catalog) -> None:
    no_usd = make_catalog([make_symbol("KRAKEN", "BTC", "EUR")])
    assert topics(no_usd, EXRATE, f(assets=("BTC", "BTC/EUR"))) == {"BTC/EUR"}


# --- metadata --------------------------------------------------------------------------------------------


def test_metadata_without_filters_lists_everything(catalog: Catalog) -> None:
    assert topics(catalog, SYMBOL) == {s.symbol_id for s in catalog.symbols}
    assert topics(catalog, EXCHANGE) == {e.exchange_id for e in catalog.exchanges}
    assert "GEMINI" in topics(catalog, EXCHANGE)
    assert topics(catalog, ASSET) == {a.asset_id for a in catalog.assets}
    assert "DOGE" in topics(catalog, ASSET)


def test_symbol_metadata_follows_symbol_matching(catalog: Catalog) -> None:
    assert topics(catalog, SYMBOL, f(("COINBASE_SPOT_BTC",))) == {"COINBASE_SPOT_BTC_USD", "COINBASE_SPOT_BTC_EUR"}


def test_exchange_metadata(catalog: Catalog) -> None:
    assert topics(catalog, EXCHANGE, f(exchanges=("GEMINI", "NOPE"))) == {"GEMINI"}
    assert topics(catalog, EXCHANGE, f(("BINANCE",))) == {"BINANCE", "BINANCEFTS"}
    assert topics(catalog, EXCHANGE, f(assets=("XRP",))) == {"KRAKEN"}
    assert topics(catalog, EXCHANGE, f(("KRAKEN_",), ("GEMINI",))) == {"KRAKEN", "GEMINI"}
    # intersection: named exchanges that also list a selected symbol
    assert topics(catalog, EXCHANGE, f(assets=("EUR",), exchanges=("KRAKEN", "BINANCE")), "intersection") == {"KRAKEN"}


def test_asset_metadata(catalog: Catalog) -> None:
    assert topics(catalog, ASSET, f(assets=("ETH/BTC", "NOPE", "DOGE"))) == {"ETH", "BTC", "DOGE"}
    assert topics(catalog, ASSET, f(exchanges=("KRAKEN",))) == {"BTC", "EUR", "XRP", "USD"}
    assert topics(catalog, ASSET, f(("COINBASE_SPOT_ETH",), assets=("DOGE",))) == {"ETH", "USD", "DOGE"}
    assert topics(catalog, ASSET, f(exchanges=("KRAKEN",), assets=("BTC", "ETH")), "intersection") == {"BTC"}
    assert topics(catalog, ASSET, f(exchanges=("GEMINI",))) == set()


# --- strict mode and unknown values ----------------------------------------------------------------------


def test_unknown_values_are_accepted_silently(catalog: Catalog) -> None:
    # A C# SDK test subscribes EXCHANGETHATDOESNOTEXISTS and expects a live, silent connection.
    assert routes(catalog, [T, Q], f(exchanges=("EXCHANGETHATDOESNOTEXISTS",))) == frozenset()


@pytest.mark.parametrize(
    ("data_type", "filters", "field", "value"),
    [
        (T, f(("BITSTAMP_", "NOPE_")), "subscribe_filter_symbol_id", "NOPE_"),
        (T, f(("BITSTAMP_SPOT_BTC$",)), "subscribe_filter_symbol_id", "BITSTAMP_SPOT_BTC$"),
        (T, f(exchanges=("KRAKEN", "NOPE")), "subscribe_filter_exchange_id", "NOPE"),
        (T, f(assets=("BTC/NOPE",)), "subscribe_filter_asset_id", "BTC/NOPE"),
        (EXRATE, f(assets=("NOPE",)), "subscribe_filter_asset_id", "NOPE"),
        (OHLCV, f(periods=("1MIN", "1DAY")), "subscribe_filter_period_id", "1DAY"),
    ],
    ids=["symbol-prefix", "symbol-exact", "exchange", "asset-pair", "exrate-asset", "period"],
)
def test_strict_mode_rejects_values_that_match_nothing(
    catalog: Catalog, data_type: DataType, filters: Filters, field: str, value: str
) -> None:
    scope = apply_hello(message(data_types=[data_type], filters=filters))
    with pytest.raises(UnknownFilterValue) as caught:
        resolve_routes(scope, catalog, live_periods=LIVE_PERIODS, strict=True)
    assert (caught.value.field, caught.value.value) == (field, value)
    assert caught.value.close_code == 1003


def test_strict_mode_accepts_known_values(catalog: Catalog) -> None:
    filters = f(("BITSTAMP_", "KRAKEN_SPOT_XRP_USD$"), ("GEMINI",), ("DOGE", "ETH/BTC"), ("1MIN",))
    scope = apply_hello(message(data_types=[T, OHLCV, EXRATE], filters=filters))
    strict = resolve_routes(scope, catalog, live_periods=LIVE_PERIODS, strict=True)
    assert strict == resolve_routes(scope, catalog, live_periods=LIVE_PERIODS)
    check_known_values(scope, catalog, LIVE_PERIODS)


# --- index -----------------------------------------------------------------------------------------------


def test_catalog_index_builds_for_a_catalogue_and_passes_an_index_through(catalog: Catalog) -> None:
    index = catalog_index(catalog)
    assert index.catalog is catalog
    assert catalog_index(index) is index


def test_an_index_resolves_like_its_catalogue(catalog: Catalog) -> None:
    scope = apply_hello(message(data_types=list(DataType), filters=f(("KRAKEN_",), assets=("BTC",))))
    assert resolve_routes(scope, CatalogIndex(catalog), live_periods=LIVE_PERIODS) == resolve_routes(
        scope, catalog, live_periods=LIVE_PERIODS
    )


def test_index_knows_ids_only_symbols_use() -> None:
    # A hand-built catalogue that forgets to list an exchange or asset still resolves its symbols.
    symbol = make_symbol("LOST", "AAA", "BBB")
    index = CatalogIndex(Catalog(exchanges=(), assets=(), symbols=(symbol,)))
    assert index.has_exchange("LOST") and index.has_asset("AAA") and index.has_asset("BBB")
    assert index.symbols_for_asset_entry("AAA/BBB") == [symbol.symbol_id]
    assert index.symbol(symbol.symbol_id) is symbol


def test_a_symbol_with_equal_base_and_quote_is_indexed_once() -> None:
    symbol = make_symbol("X", "AAA", "AAA")
    assert CatalogIndex(make_catalog([symbol])).symbols_for_asset_entry("AAA") == [symbol.symbol_id]


@NO_DEADLINE
@given(filters_strategy, st.sampled_from(["union", "intersection"]))
def test_routes_agree_with_symbol_matches(catalog: Catalog, filters: Filters, combine: Combine) -> None:
    expected = {s.symbol_id for s in catalog.symbols if symbol_matches(filters, s, combine)}
    assert topics(catalog, T, filters, combine) == expected
    assert topics(catalog, SYMBOL, filters, combine) == expected


# --- a big catalogue (how fast this is belongs to `make bench`, not to a timed test) -----------------------


def test_all_trades_of_5000_symbols_resolve() -> None:
    big = big_catalog()
    assert len(big.symbols) == 5000
    found = resolve_routes(Scope.of({T: Filters()}), big, live_periods=LIVE_PERIODS)
    assert found == {(T, symbol.symbol_id) for symbol in big.symbols}


def test_many_filter_entries_resolve_like_matching_each_symbol() -> None:
    big = big_catalog()
    filters = f(
        tuple(f"EX{e:03d}_SPOT_{i}$" for e in range(0, 100, 2) for i in range(10)),
        tuple(f"EX{e:03d}" for e in range(1, 100, 4)),
        tuple(f"A{i:02d}/USD" for i in range(50)),
    )
    expected = {s.symbol_id for s in big.symbols if symbol_matches(filters, s, "union")}
    assert expected
    assert topics(big, T, filters, "union") == expected


# --- the resolver: routes of recent small scopes remembered, by digest --------------------------------------------


def resolver(catalog: Catalog, **kwargs: int) -> RouteResolver:
    return RouteResolver(catalog, combine="union", live_periods=LIVE_PERIODS, strict=False, **kwargs)


def test_equal_small_scopes_share_one_remembered_route_set(catalog: Catalog) -> None:
    routes_of = resolver(catalog).routes_of
    one = Scope.of({T: f(exchanges=("BINANCE",))})
    again = Scope.of({T: f(exchanges=("BINANCE",))})
    assert one is not again and routes_of(one) is routes_of(again)
    assert routes_of(one) == resolve_routes(one, catalog, live_periods=LIVE_PERIODS)


def test_a_large_scope_is_resolved_each_time_and_never_remembered(catalog: Catalog) -> None:
    # a 14 MB hello (900k filter values) once stayed in the cache: ~88 MB each, never freed
    routes = resolver(catalog, max_remembered_values=10)
    large = Scope.of({T: f(symbols=(*(f"NOPE_{n}" for n in range(11)), "BINANCE_"))})
    first = routes.routes_of(large)
    assert first == routes.routes_of(large) and first is not routes.routes_of(large)
    assert routes.remembered == 0
    small = Scope.of({T: f(symbols=("BINANCE_",))})
    assert routes.routes_of(small) == first and routes.remembered == 1


def test_the_remembered_scopes_are_bounded_least_recently_used_first(catalog: Catalog) -> None:
    routes = resolver(catalog, remembered_scopes=2)
    scopes = [Scope.of({T: f(exchanges=(exchange,))}) for exchange in ("BINANCE", "KRAKEN", "COINBASE")]
    first = routes.routes_of(scopes[0])
    routes.routes_of(scopes[1])
    assert routes.routes_of(scopes[0]) is first  # used again: now the most recent
    routes.routes_of(scopes[2])  # pushes out scopes[1]
    assert routes.remembered == 2 and routes.routes_of(scopes[0]) is first
