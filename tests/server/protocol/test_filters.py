"""Filter values and the reference matching rule (PROTOCOL.md §2.4): one entry kind at a time, then combined."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.protocol.filters import Combine, Filters, symbol_matches
from coinapi_emulator.simulator.catalog import SymbolType
from tests.server.protocol.factories import NO_DEADLINE, filters_strategy, make_symbol
from tests.server.protocol.factories import make_filters as f


def test_filters_properties() -> None:
    assert Filters().selects_all_instruments and Filters().is_empty
    assert f(periods=("1MIN",)).selects_all_instruments and not f(periods=("1MIN",)).is_empty
    for filters in (f(symbols=("A",)), f(exchanges=("A",)), f(assets=("A",))):
        assert not filters.selects_all_instruments and not filters.is_empty


# --- matching --------------------------------------------------------------------------------------------

BTC_USD = make_symbol("BITSTAMP", "BTC", "USD")
BTC_USDT = make_symbol("BITSTAMP", "BTC", "USDT")
ETH_BTC = make_symbol("BINANCE", "ETH", "BTC")
PERP = make_symbol("BINANCEFTS", "BTC", "USDT", SymbolType.PERPETUAL)


@pytest.mark.parametrize(
    ("entry", "symbol_id", "expected"),
    [
        ("BITSTAMP_", "BITSTAMP_SPOT_BTC_USD", True),
        ("BITSTAMP_SPOT_BTC_USD", "BITSTAMP_SPOT_BTC_USDT", True),
        ("BITSTAMP_SPOT_BTC_USD$", "BITSTAMP_SPOT_BTC_USDT", False),
        ("BITSTAMP_SPOT_BTC_USD$", "BITSTAMP_SPOT_BTC_USD", True),
        ("BINANCE_", "BINANCEFTS_PERP_BTC_USDT", False),
        ("BINANCE", "BINANCEFTS_PERP_BTC_USDT", True),
        ("bitstamp_", "BITSTAMP_SPOT_BTC_USD", False),
        ("$", "", True),
    ],
)
def test_symbol_id_entries(entry: str, symbol_id: str, expected: bool) -> None:
    symbol = make_symbol("X", "A", "B", symbol_id=symbol_id)
    assert symbol_matches(f((entry,)), symbol) is expected


def test_exchange_entries_are_exact() -> None:
    assert symbol_matches(f(exchanges=("BINANCE",)), ETH_BTC)
    assert not symbol_matches(f(exchanges=("BINANCE",)), PERP)
    assert not symbol_matches(f(exchanges=("binance",)), ETH_BTC)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [("BTC", True), ("ETH", True), ("ETH/BTC", True), ("BTC/ETH", False), ("ETH/USD", False), ("USD", False)],
)
def test_asset_entries(entry: str, expected: bool) -> None:
    # ETH_BTC: BTC as quote matches "BTC"; a pair must match base and quote in order.
    assert symbol_matches(f(assets=(entry,)), ETH_BTC) is expected


def test_no_instrument_filter_matches_everything() -> None:
    for combine in ("union", "intersection"):
        assert symbol_matches(f(periods=("1MIN",)), BTC_USD, combine)


@pytest.mark.parametrize(
    ("filters", "union", "intersection"),
    [
        (f(("COINBASE_",), ("BITSTAMP",)), True, False),
        (f(("BITSTAMP_",), ("BITSTAMP",)), True, True),
        (f(("BITSTAMP_",), assets=("ETH",)), True, False),
        (f(("BITSTAMP_",), ("BITSTAMP",), ("BTC/USD",)), True, True),
        (f(("COINBASE_",), ("KRAKEN",), ("ETH",)), False, False),
    ],
    ids=["sym-no-exch-yes", "both", "sym-yes-asset-no", "all-three", "none"],
)
def test_union_vs_intersection(filters: Filters, union: bool, intersection: bool) -> None:
    # PROTOCOL.md §2.4: the docs' example unions symbol and exchange filters; intersection is a switch.
    assert symbol_matches(filters, BTC_USD, "union") is union
    assert symbol_matches(filters, BTC_USD, "intersection") is intersection
    assert symbol_matches(filters, BTC_USD) is union


@NO_DEADLINE
@given(st.text(min_size=1, max_size=8), st.text(max_size=8))
def test_dollar_entry_is_string_equality(entry: str, symbol_id: str) -> None:
    symbol = make_symbol("X", "A", "B", symbol_id=symbol_id)
    assert symbol_matches(f((entry + "$",)), symbol) is (symbol_id == entry)


@NO_DEADLINE
@given(st.text(min_size=1, max_size=8).filter(lambda s: not s.endswith("$")), st.text(max_size=8))
def test_plain_entry_is_a_prefix(prefix: str, suffix: str) -> None:
    assert symbol_matches(f((prefix,)), make_symbol("X", "A", "B", symbol_id=prefix + suffix))


@NO_DEADLINE
@given(filters_strategy, st.sampled_from(["union", "intersection"]))
def test_intersection_never_matches_more_than_union(filters: Filters, combine: Combine) -> None:
    for symbol in (BTC_USD, BTC_USDT, ETH_BTC, PERP):
        if symbol_matches(filters, symbol, "intersection"):
            assert symbol_matches(filters, symbol, "union")
        assert symbol_matches(filters, symbol, combine) in (True, False)
