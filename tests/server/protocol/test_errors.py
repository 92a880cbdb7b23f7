"""errors.py: texts, close codes, frame encoding and close reasons (PROTOCOL.md §3.11)."""

from __future__ import annotations

import orjson
import pytest

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.errors import (
    MAX_CLOSE_REASON_BYTES,
    FirstMessageNotHello,
    InvalidApiKey,
    InvalidField,
    MalformedMessage,
    MissingField,
    MissingFilter,
    ProtocolError,
    QuotaExceeded,
    RateLimited,
    SlowConsumer,
    UnknownDataType,
    UnknownFilterValue,
    UnknownMessageType,
    UnsupportedDataType,
)

CASES: list[tuple[ProtocolError, str, int]] = [
    # The two texts known from the real service, verbatim.
    (InvalidApiKey(), "Invalid API key", 1008),
    (SlowConsumer(131_072, 9_000_000), "Reached maximum allowed buffered messages for this connection.", 1013),
    # Emulator texts (UNVERIFIED), kept stable.
    (MalformedMessage("invalid JSON"), "Malformed message: invalid JSON", 1003),
    (MissingField("type"), "Missing field 'type'", 1003),
    (
        InvalidField("subscribe_filter_symbol_id", "an array of strings or null"),
        "Invalid field 'subscribe_filter_symbol_id': expected an array of strings or null",
        1003,
    ),
    (UnknownMessageType("ping"), "Unknown message type 'ping': expected hello, subscribe or unsubscribe", 1003),
    (FirstMessageNotHello("unsubscribe"), "First message must be hello or subscribe, got 'unsubscribe'", 1003),
    (UnknownDataType("invalid_type"), "Unknown data type 'invalid_type'", 1003),
    (UnsupportedDataType("volume"), "Data type 'volume' is not streamed by the emulator", 1003),
    (
        MissingFilter(DataType.BOOK),
        "Data type 'book' requires a symbol, exchange or asset filter"
        " (or start the emulator with --allow-unfiltered-books)",
        1003,
    ),
    (
        MissingFilter(DataType.BOOK20),
        "Data type 'book20' requires a symbol, exchange or asset filter"
        " (or start the emulator with --allow-unfiltered-books)",
        1003,
    ),
    (MissingFilter(DataType.EXRATE), "Data type 'exrate' requires subscribe_filter_asset_id", 1003),
    (
        UnknownFilterValue("subscribe_filter_exchange_id", "NOPE"),
        "Unknown value 'NOPE' in 'subscribe_filter_exchange_id': it matches nothing in the catalogue",
        1003,
    ),
    # Injected faults (server/control/faults.py).
    (RateLimited(), "Too many hello messages: rate limit exceeded, retry later", 1013),
    (QuotaExceeded(), "API key quota exceeded", 1008),
]


@pytest.mark.parametrize(("error", "text", "code"), CASES, ids=[type(case[0]).__name__ for case in CASES])
def test_text_code_and_frame(error: ProtocolError, text: str, code: int) -> None:
    assert error.message == text
    assert str(error) == text
    assert error.close_code == code
    assert orjson.loads(error.payload()) == {"type": "error", "message": text}
    assert error.close_reason == text


def test_errors_carry_their_data() -> None:
    slow = SlowConsumer(pending_messages=3, pending_bytes=4)
    assert (slow.pending_messages, slow.pending_bytes) == (3, 4)
    invalid = InvalidField("heartbeat", "a boolean or null")
    assert (invalid.field, invalid.expected) == ("heartbeat", "a boolean or null")
    missing = MissingFilter(DataType.EXRATE)
    assert (missing.data_type, missing.which) == (DataType.EXRATE, "subscribe_filter_asset_id")
    unknown = UnknownFilterValue("subscribe_filter_period_id", "2MIN")
    assert (unknown.field, unknown.value) == ("subscribe_filter_period_id", "2MIN")
    assert MalformedMessage("x").detail == "x"
    assert MissingField("type").field == "type"
    assert UnknownMessageType("x").message_type == "x"
    assert FirstMessageNotHello("x").message_type == "x"
    assert UnknownDataType("x").data_type == "x"
    assert UnsupportedDataType("x").data_type == "x"


def test_missing_filter_for_a_type_needing_none_is_a_bug() -> None:
    with pytest.raises(ValueError, match="needs no filter"):
        MissingFilter(DataType.TRADE)


def test_close_reason_fits_a_close_frame_without_splitting_characters() -> None:
    error = UnknownDataType("é" * 60)  # 120 bytes of value alone
    assert len(error.message.encode()) > MAX_CLOSE_REASON_BYTES
    reason = error.close_reason
    assert len(reason.encode()) <= MAX_CLOSE_REASON_BYTES
    assert error.message.startswith(reason)


def test_long_client_values_are_shortened() -> None:
    assert (
        UnknownMessageType("y" * 65).message
        == f"Unknown message type '{'y' * 64}...': expected hello, subscribe or unsubscribe"
    )
    assert UnknownDataType("y" * 64).message == f"Unknown data type '{'y' * 64}'"
