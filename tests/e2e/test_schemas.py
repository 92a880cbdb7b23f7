"""The JSON Schemas in server/protocol/schemas/ themselves: valid 2020-12 schemas that accept CoinAPI's documented
example messages and reject what the protocol rules out. No server process: these guard the yardstick the e2e tests
and the contracts (docs/asyncapi.yaml, GET /openapi.json) measure with."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from .support import SCHEMA_DIR, assert_valid, schema, validator

#: example messages of each type as CoinAPI's documentation shows them (docs/PROTOCOL.md §3 and §7 describe the types)
SPEC_EXAMPLES: list[tuple[str, dict[str, Any]]] = [
    (
        "trade",
        {
            "type": "trade",
            "symbol_id": "COINBASE_SPOT_BTC_USD",
            "sequence": 17,
            "time_exchange": "2024-01-01T00:00:01.2340000Z",
            "time_coinapi": "2024-01-01T00:00:01.3012345Z",
            "uuid": "3f1c2a9e-8d4b-4c61-9a2e-1b7d5e0c4f11",
            "price": 42150.25,
            "size": 0.0125,
            "taker_side": "SELL",
        },
    ),
    (
        "quote",
        {
            "type": "quote",
            "symbol_id": "BITSTAMP_SPOT_ETH_USD",
            "sequence": 5,
            "time_exchange": "2024-01-01T00:00:02.0000000Z",
            "time_coinapi": "2024-01-01T00:00:02.0051200Z",
            "ask_price": 2281.4,
            "ask_size": 3.5,
            "bid_price": 2281.1,
            "bid_size": 0.75,
        },
    ),
    (
        "book",
        {
            "type": "book",
            "symbol_id": "KRAKEN_SPOT_BTC_EUR",
            "sequence": 1,
            "time_exchange": "2024-01-01T00:00:03.1000000Z",
            "time_coinapi": "2024-01-01T00:00:03.1200000Z",
            "is_snapshot": True,
            "asks": [{"price": 39001.5, "size": 0.4}, {"price": 39002.0, "size": 1.1}],
            "bids": [{"price": 39000.0, "size": 0.25}, {"price": 38999.5, "size": 2}],
        },
    ),
    (
        "book5",
        {
            "type": "book5",
            "symbol_id": "BINANCE_SPOT_BTC_USDT",
            "sequence": 44,
            "time_exchange": "2024-01-01T00:00:04.0000000Z",
            "time_coinapi": "2024-01-01T00:00:04.0009000Z",
            "asks": [{"price": 42001.01, "size": 0.5}],
            "bids": [{"price": 42000.99, "size": 1.2}],
        },
    ),
    (
        "ohlcv",
        {
            "type": "ohlcv",
            "symbol_id": "BITSTAMP_SPOT_XRP_USD",
            "sequence": 3,
            "period_id": "1MIN",
            "time_period_start": "2024-01-01T00:01:00.0000000Z",
            "time_period_end": "2024-01-01T00:02:00.0000000Z",
            "time_open": "2024-01-01T00:01:04.0000000Z",
            "time_close": "2024-01-01T00:01:58.0000000Z",
            "price_open": 0.6121,
            "price_high": 0.6135,
            "price_low": 0.6119,
            "price_close": 0.613,
            "volume_traded": 15423.7,
            "trades_count": 12,
        },
    ),
    (
        "exrate",
        {
            "type": "exrate",
            "asset_id_base": "BTC",
            "asset_id_quote": "USD",
            "rate_type": "BASE_ALL_CROSSES_TO_REF",
            "time": "2024-01-01T00:00:06.0000000Z",
            "rate": 42133.8123,
        },
    ),
    (
        "exchange",
        {
            "type": "exchange",
            "exchange_id": "BITSTAMP",
            "website": "https://www.bitstamp.net/",
            "name": "Bitstamp Ltd.",
            "data_start": "2011-09-13",
            "data_end": "2024-01-01",
            "data_trade_start": "2011-09-13T00:00:00.0000000Z",
            "data_trade_end": "2024-01-01T00:00:00.0000000Z",
            "data_symbols_count": 312,
        },
    ),
    (
        "symbol",
        {
            "type": "symbol",
            "symbol_id": "BITSTAMP_SPOT_BTC_USD",
            "exchange_id": "BITSTAMP",
            "symbol_type": "SPOT",
            "asset_id_base": "BTC",
            "asset_id_quote": "USD",
            "symbol_id_exchange": "btcusd",
            "asset_id_base_exchange": "BTC",
            "asset_id_quote_exchange": "USD",
            "price_precision": 1,
            "size_precision": 0.00000001,
            "price": 42150.25,
        },
    ),
    ("hearbeat", {"type": "hearbeat"}),
    ("reconnect", {"type": "reconnect", "within_seconds": 10, "before_time": "2024-01-01T00:10:10.0000000Z"}),
    ("error", {"type": "error", "message": "Invalid API key"}),
    (
        "rest_exchange",
        {
            "exchange_id": "BITSTAMP",
            "website": "https://www.bitstamp.net/",
            "name": "Bitstamp Ltd.",
            "data_start": "2011-09-13",
            "data_end": "2024-01-01",
            "data_symbols_count": 312,
            "volume_1hrs_usd": 971406.25,
            "volume_1day_usd": 68232907.92,
            "volume_1mth_usd": 13600003406.63,
            "rank": 2,
            "integration_status": "INTEGRATED",
        },
    ),
    ("rest_error", {"error": "Invalid API key"}),
    (
        "hello",
        {
            "type": "hello",
            "apikey": "73034021-THIS-IS-SAMPLE-KEY",
            "heartbeat": False,
            "subscribe_data_type": ["trade"],
            "subscribe_filter_symbol_id": ["BITSTAMP_SPOT_BTC_USD$", "BITFINEX_SPOT_BTC_LTC$"],
            "subscribe_filter_asset_id": ["BTC", "ETH/USD"],
            "subscribe_update_limit_ms_quote": None,
        },
    ),
    ("subscribe", {"type": "subscribe", "subscribe_data_type": ["quote"], "subscribe_filter_exchange_id": ["KRAKEN"]}),
    ("unsubscribe", {"type": "unsubscribe", "subscribe_data_type": None, "subscribe_filter_symbol_id": ["BITSTAMP_"]}),
]

#: (schema, example index, change, why it must fail)
BAD_VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("trade", "extra field", {"id_trade": "123"}),
    ("trade", "price as a string", {"price": "42150.25"}),
    ("trade", "six fractional digits", {"time_exchange": "2024-01-01T00:00:01.234000Z"}),
    ("trade", "offset instead of Z", {"time_coinapi": "2024-01-01T00:00:01.3012345+00:00"}),
    ("trade", "sequence above int32", {"sequence": 2147483648}),
    ("trade", "sequence zero", {"sequence": 0}),
    ("trade", "unknown taker side", {"taker_side": "buy"}),
    ("book5", "is_snapshot on a top-N frame", {"is_snapshot": True}),
    ("book5", "six levels", {"asks": [{"price": 1 + i, "size": 1} for i in range(6)]}),
    ("book", "empty level in a snapshot", {"asks": [{"price": 39001.5, "size": 0}]}),
    ("exrate", "sequence on exrate", {"sequence": 1}),
    ("hearbeat", "correct spelling", {"type": "heartbeat"}),
    ("hearbeat", "extra field", {"time": "2024-01-01T00:00:00.0000000Z"}),
    ("symbol", "undocumented field", {"tick_size": 0.01}),
    ("hello", "no data type", {"subscribe_data_type": []}),
    ("hello", "a type the emulator does not stream", {"subscribe_data_type": ["ticker"]}),
    ("hello", "an asset filter of three parts", {"subscribe_filter_asset_id": ["BTC/USD/EUR"]}),
    ("hello", "a negative throttle", {"subscribe_update_limit_ms_quote": -1}),
    ("subscribe", "another verb", {"type": "hello"}),
]


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.json")), ids=lambda path: path.stem)
def test_schema_file_is_a_valid_2020_12_schema(path: Any) -> None:
    Draft202012Validator.check_schema(schema(path.stem))
    assert schema(path.stem)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    ("name", "example"), SPEC_EXAMPLES, ids=[f"{name}-{i}" for i, (name, _) in enumerate(SPEC_EXAMPLES)]
)
def test_spec_example_matches_schema(name: str, example: dict[str, Any]) -> None:
    assert_valid(name, example)


@pytest.mark.parametrize(
    ("name", "why", "change"), BAD_VARIANTS, ids=[f"{name}-{why}" for name, why, _ in BAD_VARIANTS]
)
def test_schema_rejects(name: str, why: str, change: dict[str, Any]) -> None:
    example = copy.deepcopy(next(frame for schema_name, frame in SPEC_EXAMPLES if schema_name == name))
    example.update(change)
    assert not validator(name).is_valid(example), f"{name} schema accepted: {why}"


@pytest.mark.parametrize("kind", ["exchange", "asset", "symbol"])
def test_metadata_frame_schema_is_the_rest_object_plus_type(kind: str) -> None:
    rest, frame = schema(f"rest_{kind}"), schema(kind)
    fields = dict(frame["properties"])
    assert fields.pop("type") == {"const": kind}
    assert fields == rest["properties"]
    assert frame["required"] == ["type", *rest["required"]]
    assert frame["additionalProperties"] is rest["additionalProperties"] is False


@pytest.mark.parametrize(
    ("rest", "frame", "left_out"),
    [
        ("rest_trade", "trade", ("type", "sequence")),
        ("rest_quote", "quote", ("type", "sequence")),
        ("rest_ohlcv", "ohlcv", ("type", "sequence", "symbol_id", "period_id")),
    ],
)
def test_rest_market_data_schema_is_the_frame_without_some_fields(
    rest: str, frame: str, left_out: tuple[str, ...]
) -> None:
    fields = {name: value for name, value in schema(frame)["properties"].items() if name not in left_out}
    assert schema(rest)["properties"] == fields
    assert schema(rest)["required"] == [name for name in schema(frame)["required"] if name not in left_out]


def test_a_current_quote_is_a_quote_with_the_last_trade() -> None:
    current, trade = schema("rest_current_quote"), schema("rest_trade")
    assert {name: value for name, value in current["properties"].items() if name != "last_trade"} == schema(
        "rest_quote"
    )["properties"]
    last_trade = current["$defs"]["last_trade"]["properties"]
    assert last_trade == {name: value for name, value in trade["properties"].items() if name != "symbol_id"}
