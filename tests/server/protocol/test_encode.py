from __future__ import annotations

from decimal import Decimal

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.encode import (
    HEARTBEAT,
    OrderBookEncoder,
    SymbolEncoder,
    encode_exrate,
    encode_reconnect,
    format_fixed,
    format_significant,
    format_time,
)
from coinapi_emulator.simulator.catalog import Symbol, SymbolType
from coinapi_emulator.simulator.events import Bar, BookDelta, Level, Quote, TakerSide, Trade
from coinapi_emulator.simulator.orders import Order, OrderBookDelta, OrderChange, UpdateType

T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z


def make_symbol(price_decimals: int = 2, size_decimals: int = 8) -> Symbol:
    return Symbol(
        symbol_id="BITSTAMP_SPOT_BTC_USD",
        exchange_id="BITSTAMP",
        symbol_type=SymbolType.SPOT,
        asset_id_base="BTC",
        asset_id_quote="USD",
        symbol_id_exchange="btcusd",
        price_decimals=price_decimals,
        size_decimals=size_decimals,
        trade_rate=1.0,
        book_rate=1.0,
    )


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (T0, "2024-01-01T00:00:00.0000000Z"),
        (T0 + 1_234_567_890, "2024-01-01T00:00:01.2345678Z"),
        (T0 + 99, "2024-01-01T00:00:00.0000000Z"),
        (T0 + 86_399_999_999_999, "2024-01-01T23:59:59.9999999Z"),
    ],
    ids=["epoch-second", "fraction", "sub-100ns-truncated", "last-tick-of-day"],
)
def test_format_time_has_seven_fractional_digits(ns: int, text: str) -> None:
    assert format_time(ns) == text


@pytest.mark.parametrize(
    ("units", "decimals", "text"),
    [
        (425, 2, "4.25"),
        (4200, 2, "42"),
        (4210, 2, "42.1"),
        (4, 8, "0.00000004"),
        (0, 3, "0"),
        (-15, 1, "-1.5"),
        (7, -1, "70"),
        (3, 0, "3"),
    ],
)
def test_format_fixed_examples(units: int, decimals: int, text: str) -> None:
    assert format_fixed(units, decimals) == text


@given(st.integers(-(10**15), 10**15), st.integers(-3, 12))
def test_format_fixed_is_exact_and_plain(units: int, decimals: int) -> None:
    text = format_fixed(units, decimals)
    assert "e" not in text.lower()
    assert Decimal(text) == Decimal(units).scaleb(-decimals)
    assert not ("." in text and text.endswith("0"))


@given(st.floats(min_value=1e-12, max_value=1e12, allow_nan=False))
def test_format_significant_is_plain_and_close(value: float) -> None:
    text = format_significant(value)
    assert "e" not in text.lower()
    assert abs(float(text) - value) <= value * 1e-9


def test_format_significant_of_zero_and_non_finite() -> None:
    assert format_significant(0.0) == "0"
    assert format_significant(float("inf")) == "0"


def test_trade_frame_fields_and_exact_numbers() -> None:
    codec = SymbolEncoder(make_symbol())
    trade = Trade(
        "BITSTAMP_SPOT_BTC_USD", T0, 4_215_025, 1_250_000, TakerSide.SELL, "3f1c2a9e-8d4b-4c61-9a2e-1b7d5e0c4f11"
    )
    raw = codec.trade(trade, 17, T0 + 5_000_000)
    assert b'"price":42150.25,' in raw and b'"size":0.0125,' in raw
    assert orjson.loads(raw) == {
        "type": "trade",
        "symbol_id": "BITSTAMP_SPOT_BTC_USD",
        "sequence": 17,
        "time_exchange": "2024-01-01T00:00:00.0000000Z",
        "time_coinapi": "2024-01-01T00:00:00.0050000Z",
        "uuid": "3f1c2a9e-8d4b-4c61-9a2e-1b7d5e0c4f11",
        "price": 42150.25,
        "size": 0.0125,
        "taker_side": "SELL",
    }


def test_quote_frame() -> None:
    codec = SymbolEncoder(make_symbol())
    message = orjson.loads(codec.quote(Quote("BITSTAMP_SPOT_BTC_USD", T0, 228_140, 350, 228_110, 75), 5, T0))
    assert message["type"] == "quote"
    assert (message["ask_price"], message["bid_price"], message["sequence"]) == (2281.4, 2281.1, 5)


def test_book_snapshot_delta_and_top_n_shapes() -> None:
    codec = SymbolEncoder(make_symbol())
    asks, bids = (Level(100, 5), Level(101, 0)), (Level(99, 7),)
    snapshot = orjson.loads(codec.book(DataType.BOOK, asks, bids, 1, T0, T0, is_snapshot=True))
    assert snapshot["is_snapshot"] is True
    assert snapshot["asks"] == [{"price": 1.0, "size": 0.00000005}, {"price": 1.01, "size": 0}]
    delta = orjson.loads(codec.book_delta(BookDelta("BITSTAMP_SPOT_BTC_USD", T0, asks, bids), 2, T0))
    assert delta["is_snapshot"] is False and delta["type"] == "book"
    top = orjson.loads(codec.book(DataType.BOOK5, asks, bids, 3, T0, T0))
    assert top["type"] == "book5" and "is_snapshot" not in top


def test_book_l3_snapshot_and_update_bytes() -> None:
    symbol = SymbolEncoder(make_symbol())
    encoder = OrderBookEncoder(symbol.symbol_id, symbol.price, symbol.size)
    a, b = "a8b563aa-e98b-49d3-85d4-14b9a2f9dff2", "be03ffdc-6d0a-4fe3-88cf-9e041a15f54a"
    snapshot = encoder.snapshot([Order(a, 228_140, 50), Order(b, 228_140, 1)], [], 7, T0, T0 + 500_000)
    assert snapshot == (
        b'{"type":"book_l3","symbol_id":"BITSTAMP_SPOT_BTC_USD","sequence":7,'
        b'"time_exchange":"2024-01-01T00:00:00.0000000Z","time_coinapi":"2024-01-01T00:00:00.0005000Z",'
        b'"is_snapshot":true,"asks":[{"id":"' + a.encode() + b'","price":2281.4,"size":0.0000005},'
        b'{"id":"' + b.encode() + b'","price":2281.4,"size":0.00000001}],"bids":[]}'
    )
    changes = (OrderChange(a, 228_140, 20, UpdateType.MATCH), OrderChange(b, 228_140, 1, UpdateType.DELETE))
    update = encoder.update(OrderBookDelta(symbol.symbol_id, T0, (), changes), 8, T0)
    assert orjson.loads(update) | {"bids": None} == {
        "type": "book_l3",
        "symbol_id": "BITSTAMP_SPOT_BTC_USD",
        "sequence": 8,
        "time_exchange": "2024-01-01T00:00:00.0000000Z",
        "time_coinapi": "2024-01-01T00:00:00.0000000Z",
        "is_snapshot": False,
        "asks": [],
        "bids": None,
    }
    assert b'"bids":[{"id":"' + a.encode() + b'","price":2281.4,"size":0.0000002,"update_type":"MATCH"},' in update


def test_bar_frame() -> None:
    codec = SymbolEncoder(make_symbol())
    bar = Bar(
        "BITSTAMP_SPOT_BTC_USD",
        "1MIN",
        T0,
        T0 + 60 * 10**9,
        T0 + 10**9,
        T0 + 59 * 10**9,
        100,
        120,
        90,
        110,
        5,
        3,
        True,
        T0 + 60 * 10**9,
        9,
    )
    message = orjson.loads(codec.bar(bar, 9))
    assert message["period_id"] == "1MIN" and message["trades_count"] == 3 and message["sequence"] == 9
    assert (message["price_open"], message["price_high"], message["price_low"], message["price_close"]) == (
        1,
        1.2,
        0.9,
        1.1,
    )
    assert message["time_period_end"] == "2024-01-01T00:01:00.0000000Z"


def test_exrate_reconnect_and_heartbeat_frames() -> None:
    assert orjson.loads(encode_exrate("BTC", "USD", "BASE_ALL_CROSSES_TO_REF", T0, 42133.8123)) == {
        "type": "exrate",
        "asset_id_base": "BTC",
        "asset_id_quote": "USD",
        "rate_type": "BASE_ALL_CROSSES_TO_REF",
        "time": "2024-01-01T00:00:00.0000000Z",
        "rate": 42133.8123,
    }
    assert orjson.loads(encode_reconnect(10, T0)) == {
        "type": "reconnect",
        "within_seconds": 10,
        "before_time": "2024-01-01T00:00:00.0000000Z",
    }
    assert HEARTBEAT == b'{"type":"hearbeat"}'


def test_time_tokens_stay_right_once_the_memo_has_been_emptied() -> None:
    # more distinct seconds than a memo holds: it forgets everything and computes again
    seconds = range(1_700_000_000, 1_700_000_000 + 5_000)
    texts = [format_time(second * 1_000_000_000) for second in seconds]
    assert texts[0] == "2023-11-14T22:13:20.0000000Z"
    assert format_time(seconds[0] * 1_000_000_000) == texts[0]
    assert texts[-1] == "2023-11-14T23:36:39.0000000Z"
