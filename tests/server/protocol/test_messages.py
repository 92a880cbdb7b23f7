"""parse_client_message: every field rule, every error text, and the SDK quirks of PROTOCOL.md §9."""

from __future__ import annotations

import contextlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.errors import ProtocolError
from coinapi_emulator.server.protocol.filters import Filters
from coinapi_emulator.server.protocol.messages import ClientMessage, UpdateLimits, Verb, parse_client_message
from tests.server.protocol.factories import GOOD_KEY, NO_DEADLINE, frame, hello

ALL_NULL_FILTERS_AND_LIMITS: dict[str, object] = {
    "subscribe_filter_symbol_id": None,
    "subscribe_filter_asset_id": None,
    "subscribe_filter_exchange_id": None,
    "subscribe_filter_period_id": None,
    "subscribe_update_limit_ms_quote": None,
    "subscribe_update_limit_ms_book_snapshot": None,
    "subscribe_update_limit_ms_exrate": None,
}


def parse_json(value: object) -> ClientMessage:
    return parse_client_message(orjson.dumps(value))


def error_of(raw: str | bytes) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(raw)
    return caught.value


# --- what real SDKs send -------------------------------------------------------------------------------


def test_csharp_hello_with_every_unset_field_null() -> None:
    # C# serialises every property, unset ones as null (PROTOCOL.md §9).
    msg = parse_json(
        {"type": "hello", "apikey": GOOD_KEY, "heartbeat": True, "subscribe_data_type": ["trade", "quote"]}
        | ALL_NULL_FILTERS_AND_LIMITS
    )
    assert msg == ClientMessage(
        verb=Verb.HELLO,
        apikey=GOOD_KEY,
        heartbeat=True,
        data_types=(DataType.TRADE, DataType.QUOTE),
        filters=Filters(),
        limits=UpdateLimits(),
    )


def test_go_hello_with_empty_type_null_slices_and_zero_limits() -> None:
    # Go sends all 10 fields, null slices, 0 throttles, and "" when the caller did not set the type.
    msg = parse_json(
        {
            "type": "",
            "apikey": GOOD_KEY,
            "heartbeat": False,
            "subscribe_data_type": ["trade"],
            "subscribe_filter_symbol_id": None,
            "subscribe_filter_asset_id": None,
            "subscribe_filter_exchange_id": ["BITSTAMP"],
            "subscribe_filter_period_id": None,
            "subscribe_update_limit_ms_quote": 0,
            "subscribe_update_limit_ms_book_snapshot": 0,
            "subscribe_update_limit_ms_exrate": 0,
        }
    )
    assert msg.verb is Verb.HELLO
    assert msg.heartbeat is False
    assert msg.filters == Filters(exchange_ids=frozenset({"BITSTAMP"}))
    assert msg.limits == UpdateLimits()


def test_java_hello_without_type_is_a_hello() -> None:
    msg = parse_json({"apikey": GOOD_KEY, "heartbeat": True, "subscribe_data_type": ["trade"]})
    assert msg.verb is Verb.HELLO


@pytest.mark.parametrize(
    "body",
    [{"apikey": GOOD_KEY}, {"subscribe_data_type": ["trade"]}, {"type": None, "subscribe_data_type": ["trade"]}],
    ids=["apikey-only", "data-type-only", "null-type"],
)
def test_typeless_frame_carrying_hello_fields_is_a_hello(body: dict[str, object]) -> None:
    if "subscribe_data_type" in body:
        assert parse_json(body).verb is Verb.HELLO
    else:
        # Classified as hello, so the missing data types are then reported.
        assert error_of(orjson.dumps(body)).message == "Missing field 'subscribe_data_type'"


def test_nautilus_hello_without_apikey_has_no_key() -> None:
    # Nautilus sends the key only in the upgrade header (PROTOCOL.md §9).
    msg = parse_json({"type": "hello", "heartbeat": True, "subscribe_data_type": ["quote"]})
    assert msg.apikey is None


def test_str_and_bytes_parse_alike() -> None:
    raw = hello("trade")
    assert parse_client_message(raw) == parse_client_message(raw.decode())


def test_unknown_fields_are_ignored() -> None:
    msg = parse_json({"type": "hello", "subscribe_data_type": ["trade"], "x_extra": {"a": [1]}, "Type": 5})
    assert msg.data_types == (DataType.TRADE,)


# --- fields ----------------------------------------------------------------------------------------------


def test_all_fields_parse() -> None:
    msg = parse_client_message(
        frame(
            type="subscribe",
            apikey="k",
            heartbeat=True,
            subscribe_data_type=["ohlcv", "book5", "exrate"],
            subscribe_filter_symbol_id=["BITSTAMP_SPOT_BTC_USD$", "COINBASE_"],
            subscribe_filter_exchange_id=["KRAKEN"],
            subscribe_filter_asset_id=["BTC", "BTC/USD"],
            subscribe_filter_period_id=["1MIN", "FOO"],
            subscribe_update_limit_ms_quote=100,
            subscribe_update_limit_ms_book_snapshot=200,
            subscribe_update_limit_ms_exrate=300,
        )
    )
    assert msg == ClientMessage(
        verb=Verb.SUBSCRIBE,
        apikey="k",
        heartbeat=True,
        data_types=(DataType.OHLCV, DataType.BOOK5, DataType.EXRATE),
        filters=Filters(
            symbol_ids=frozenset({"BITSTAMP_SPOT_BTC_USD$", "COINBASE_"}),
            exchange_ids=frozenset({"KRAKEN"}),
            asset_ids=frozenset({"BTC", "BTC/USD"}),
            # any period id is accepted: an unknown one matches nothing
            period_ids=frozenset({"1MIN", "FOO"}),
        ),
        limits=UpdateLimits(quote_ms=100, book_snapshot_ms=200, exrate_ms=300),
    )


@pytest.mark.parametrize("verb", list(Verb), ids=lambda verb: verb.value)
def test_each_verb(verb: Verb) -> None:
    assert parse_client_message(frame(type=verb.value, subscribe_data_type=["trade"])).verb is verb


def test_every_data_type_name() -> None:
    msg = parse_client_message(frame(type="hello", subscribe_data_type=[data_type.value for data_type in DataType]))
    assert msg.data_types == tuple(DataType)


def test_duplicate_data_types_collapse_in_first_seen_order() -> None:
    msg = parse_client_message(frame(type="hello", subscribe_data_type=["quote", "trade", "quote", "trade"]))
    assert msg.data_types == (DataType.QUOTE, DataType.TRADE)


def test_duplicate_filter_entries_are_fine() -> None:
    msg = parse_client_message(
        frame(type="hello", subscribe_data_type=["trade"], subscribe_filter_asset_id=["BTC"] * 3)
    )
    assert msg.filters.asset_ids == {"BTC"}


@pytest.mark.parametrize("value", [None, []], ids=["null", "empty"])
def test_empty_filter_arrays_mean_no_filter(value: list[str] | None) -> None:
    msg = parse_client_message(
        frame(
            type="hello",
            subscribe_data_type=["trade"],
            subscribe_filter_symbol_id=value,
            subscribe_filter_exchange_id=value,
            subscribe_filter_asset_id=value,
            subscribe_filter_period_id=value,
        )
    )
    assert msg.filters == Filters()


@pytest.mark.parametrize("value", [None, [], "absent"], ids=["null", "empty", "absent"])
def test_unsubscribe_may_list_no_types(value: list[str] | str | None) -> None:
    body: dict[str, object] = {"type": "unsubscribe"}
    if value != "absent":
        body["subscribe_data_type"] = value
    assert parse_json(body).data_types == ()


def test_empty_apikey_counts_as_absent() -> None:
    assert parse_client_message(frame(type="hello", apikey="", subscribe_data_type=["trade"])).apikey is None


def test_null_heartbeat_is_absent() -> None:
    assert parse_client_message(frame(type="hello", heartbeat=None, subscribe_data_type=["trade"])).heartbeat is None


# --- errors ----------------------------------------------------------------------------------------------

SYMBOLS_ERROR = "Invalid field 'subscribe_filter_symbol_id': expected an array of strings or null"
LIMIT_ERROR = "Invalid field 'subscribe_update_limit_ms_quote': expected a non-negative integer or null"
ASSET_ERROR = (
    "Invalid field 'subscribe_filter_asset_id': expected an array of asset ids ('BTC') or pairs ('BTC/USD'), or null"
)


def h(**fields: object) -> dict[str, object]:
    """A hello body for ``trade`` with ``fields`` added."""
    return {"type": "hello", "subscribe_data_type": ["trade"], **fields}


ERROR_CASES: list[tuple[str, object, str]] = [
    ("not-json", b"{nope", "Malformed message: invalid JSON"),
    ("empty-frame", b"", "Malformed message: invalid JSON"),
    ("not-utf8", b'{"type": "hello\xff"}', "Malformed message: invalid JSON"),
    ("lone-surrogate", '{"type": "\ud800"}', "Malformed message: invalid JSON"),
    ("array", [{"type": "hello"}], "Malformed message: expected a JSON object"),
    ("string", '"hello"', "Malformed message: expected a JSON object"),
    ("number", b"42", "Malformed message: expected a JSON object"),
    ("null", None, "Malformed message: expected a JSON object"),
    ("no-type", {"heartbeat": True}, "Missing field 'type'"),
    ("empty-type", {"type": ""}, "Missing field 'type'"),
    ("type-number", {"type": 1}, "Invalid field 'type': expected a string"),
    ("type-list", {"type": ["hello"]}, "Invalid field 'type': expected a string"),
    ("unknown-type", {"type": "ping"}, "Unknown message type 'ping': expected hello, subscribe or unsubscribe"),
    ("type-case", {"type": "Hello"}, "Unknown message type 'Hello': expected hello, subscribe or unsubscribe"),
    ("no-data-types", {"type": "hello"}, "Missing field 'subscribe_data_type'"),
    ("null-data-types", {"type": "subscribe", "subscribe_data_type": None}, "Missing field 'subscribe_data_type'"),
    (
        "empty-data-types",
        {"type": "hello", "subscribe_data_type": []},
        "Invalid field 'subscribe_data_type': expected a non-empty array of strings",
    ),
    (
        "data-types-string",
        {"type": "hello", "subscribe_data_type": "trade"},
        "Invalid field 'subscribe_data_type': expected a non-empty array of strings",
    ),
    (
        "data-type-number",
        {"type": "subscribe", "subscribe_data_type": ["trade", 1]},
        "Invalid field 'subscribe_data_type': expected a non-empty array of strings",
    ),
    (
        "unsubscribe-data-types-string",
        {"type": "unsubscribe", "subscribe_data_type": "trade"},
        "Invalid field 'subscribe_data_type': expected an array of strings or null",
    ),
    # The Java SDK's own test sends "invalid_type" (PROTOCOL.md §2.3).
    ("unknown-data-type", h(subscribe_data_type=["invalid_type"]), "Unknown data type 'invalid_type'"),
    ("data-type-case", h(subscribe_data_type=["TRADE"]), "Unknown data type 'TRADE'"),
    ("empty-data-type", h(subscribe_data_type=[""]), "Unknown data type ''"),
    ("unsupported-ticker", h(subscribe_data_type=["ticker"]), "Data type 'ticker' is not streamed by the emulator"),
    ("unsupported-volume", h(subscribe_data_type=["volume"]), "Data type 'volume' is not streamed by the emulator"),
    (
        "unsupported-ticker",
        {"type": "unsubscribe", "subscribe_data_type": ["ticker"]},
        "Data type 'ticker' is not streamed by the emulator",
    ),
    ("symbols-string", h(subscribe_filter_symbol_id="BTC"), SYMBOLS_ERROR),
    ("symbols-object", h(subscribe_filter_symbol_id={}), SYMBOLS_ERROR),
    ("symbols-number-entry", h(subscribe_filter_symbol_id=[1]), SYMBOLS_ERROR),
    ("symbols-null-entry", h(subscribe_filter_symbol_id=[None]), SYMBOLS_ERROR),
    (
        "symbols-empty-entry",
        h(subscribe_filter_symbol_id=["A", ""]),
        "Invalid field 'subscribe_filter_symbol_id': expected an array of non-empty strings or null",
    ),
    (
        "exchanges-number",
        h(subscribe_filter_exchange_id=7),
        "Invalid field 'subscribe_filter_exchange_id': expected an array of strings or null",
    ),
    (
        "periods-empty-entry",
        {"type": "hello", "subscribe_data_type": ["ohlcv"], "subscribe_filter_period_id": [""]},
        "Invalid field 'subscribe_filter_period_id': expected an array of non-empty strings or null",
    ),
    ("asset-empty", h(subscribe_filter_asset_id=[""]), ASSET_ERROR),
    ("asset-half-pair", h(subscribe_filter_asset_id=["BTC/"]), ASSET_ERROR),
    ("asset-leading-slash", h(subscribe_filter_asset_id=["/USD"]), ASSET_ERROR),
    ("asset-triple", h(subscribe_filter_asset_id=["A/B/C"]), ASSET_ERROR),
    (
        "asset-number",
        h(subscribe_filter_asset_id=[1]),
        "Invalid field 'subscribe_filter_asset_id': expected an array of strings or null",
    ),
    ("limit-true", h(subscribe_update_limit_ms_quote=True), LIMIT_ERROR),
    ("limit-negative", h(subscribe_update_limit_ms_quote=-1), LIMIT_ERROR),
    ("limit-float", h(subscribe_update_limit_ms_quote=100.0), LIMIT_ERROR),
    # orjson reads integers past 64 bits as floats
    (
        "limit-huge",
        b'{"type": "hello", "subscribe_data_type": ["quote"], "subscribe_update_limit_ms_quote": 1e30}',
        LIMIT_ERROR,
    ),
    (
        "limit-past-64-bits",
        orjson.dumps(h()).replace(b"}", b', "subscribe_update_limit_ms_quote": ' + b"9" * 30 + b"}"),
        LIMIT_ERROR,
    ),
    ("limit-string", h(subscribe_update_limit_ms_quote="100"), LIMIT_ERROR),
    (
        "limit-book",
        {"type": "hello", "subscribe_data_type": ["book5"], "subscribe_update_limit_ms_book_snapshot": False},
        "Invalid field 'subscribe_update_limit_ms_book_snapshot': expected a non-negative integer or null",
    ),
    (
        "limit-exrate",
        {"type": "hello", "subscribe_data_type": ["exrate"], "subscribe_update_limit_ms_exrate": [1]},
        "Invalid field 'subscribe_update_limit_ms_exrate': expected a non-negative integer or null",
    ),
    ("apikey-number", h(apikey=12345), "Invalid field 'apikey': expected a string or null"),
    ("heartbeat-string", h(heartbeat="true"), "Invalid field 'heartbeat': expected a boolean or null"),
    ("heartbeat-int", h(heartbeat=1), "Invalid field 'heartbeat': expected a boolean or null"),
]


@pytest.mark.parametrize(("body", "text"), [(b, t) for _, b, t in ERROR_CASES], ids=[i for i, _, _ in ERROR_CASES])
def test_error_text(body: object, text: str) -> None:
    raw = body if isinstance(body, str | bytes) else orjson.dumps(body)
    error = error_of(raw)
    assert error.message == text
    assert error.close_code == 1003


def test_first_fault_in_fixed_order_wins() -> None:
    # Type before data types before filters before limits before apikey before heartbeat.
    body: dict[str, object] = {
        "type": "hello",
        "subscribe_data_type": ["trade"],
        "subscribe_filter_symbol_id": 1,
        "subscribe_update_limit_ms_quote": -1,
        "apikey": 1,
        "heartbeat": 1,
    }
    expected = [
        "Invalid field 'subscribe_filter_symbol_id'",
        "Invalid field 'subscribe_update_limit_ms_quote'",
        "Invalid field 'apikey'",
        "Invalid field 'heartbeat'",
    ]
    for prefix, field in zip(
        expected, ["subscribe_filter_symbol_id", "subscribe_update_limit_ms_quote", "apikey", "heartbeat"], strict=True
    ):
        assert error_of(orjson.dumps(body)).message.startswith(prefix)
        del body[field]
    assert parse_json(body).verb is Verb.HELLO


def test_apikey_is_never_echoed() -> None:
    error = error_of(orjson.dumps({"type": "hello", "apikey": ["secret-key"], "subscribe_data_type": ["trade"]}))
    assert "secret" not in error.message


def test_long_values_are_shortened_in_the_text() -> None:
    error = error_of(orjson.dumps({"type": "hello", "subscribe_data_type": ["x" * 10_000]}))
    assert error.message == f"Unknown data type '{'x' * 64}...'"


@NO_DEADLINE
@given(st.one_of(st.text(), st.binary()))
def test_random_input_parses_or_raises_a_protocol_error(raw: str | bytes) -> None:
    with contextlib.suppress(ProtocolError):
        parse_client_message(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3),
    max_leaves=10,
)
field_names = st.sampled_from(
    ["type", "apikey", "heartbeat", "subscribe_data_type", "subscribe_filter_symbol_id", "subscribe_filter_asset_id",
     "subscribe_filter_exchange_id", "subscribe_filter_period_id", "subscribe_update_limit_ms_quote",
     "subscribe_update_limit_ms_book_snapshot", "subscribe_update_limit_ms_exrate"]
)  # fmt: skip
field_values = (
    json_values
    | st.sampled_from(["hello", "subscribe", "unsubscribe", "trade", "book"])
    | st.lists(st.sampled_from(["trade", "book", "ohlcv", "BTC", "BTC/USD", "", "book_l3"]), max_size=3)
)


@NO_DEADLINE
@given(st.dictionaries(field_names, field_values, max_size=6))
def test_random_shaped_objects_parse_or_raise_a_protocol_error(body: dict[str, object]) -> None:
    try:
        msg = parse_json(body)
    except ProtocolError as error:
        assert error.message
        assert error.close_code == 1003
    else:
        assert isinstance(msg, ClientMessage)


def test_each_update_limit_throttles_the_types_it_names() -> None:
    limits = UpdateLimits(quote_ms=10, book_snapshot_ms=20, exrate_ms=30)
    assert limits.throttles_ms() == {
        DataType.QUOTE: 10,
        DataType.BOOK5: 20,
        DataType.BOOK20: 20,
        DataType.BOOK50: 20,
        DataType.EXRATE: 30,
    }
