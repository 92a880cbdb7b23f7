"""Frame injection requests, pure: validation and the bytes they build."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from coinapi_emulator.server.control.injection import MESSAGE_TYPES, Injection, InjectionError, parse_injection

START_NS = 1_704_067_200_000_000_000


def test_text_is_sent_as_it_is() -> None:
    injection = parse_injection({"text": "not even json", "connections": [3]})
    assert injection.connections == {3} and injection.payload(START_NS) == b"not even json"


def test_a_built_trade_gets_type_first_then_the_fields_then_times_and_uuid() -> None:
    fields = {"type": "trade", "symbol_id": "S", "price": 1.5}
    message = orjson.loads(parse_injection({"message": fields}).payload(START_NS + 123_456_700))
    assert list(message)[:3] == ["type", "symbol_id", "price"]
    assert message["time_exchange"] == message["time_coinapi"] == "2024-01-01T00:00:00.1234567Z"
    assert len(message["uuid"]) == 36


def test_given_fields_are_kept_and_other_types_are_not_stamped() -> None:
    given = {"type": "trade", "time_exchange": "x", "time_coinapi": "y", "uuid": "u"}
    assert orjson.loads(Injection(message=given).payload(START_NS)) == given
    assert Injection(message={"type": "error", "message": "boom"}).payload(START_NS) == (
        b'{"type":"error","message":"boom"}'
    )


@pytest.mark.parametrize("message_type", ["quote", "book", "book5", "book20", "book50"])
def test_market_messages_are_stamped(message_type: str) -> None:
    message = orjson.loads(Injection(message={"type": message_type}).payload(START_NS))
    assert message["time_exchange"] == "2024-01-01T00:00:00.0000000Z" and "uuid" not in message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({}, "exactly one"),
        ({"text": "a", "message": {"type": "trade"}}, "exactly one"),
        ({"text": 3}, "'text' must be a string"),
        ({"message": []}, "'message' must be an object"),
        ({"message": {"type": "volume"}}, "needs a 'type'"),
        ({"message": {"price": 1}}, "needs a 'type'"),
        ({"text": "a", "connections": 3}, "list of connection ids"),
        ({"text": "a", "connections": [True]}, "list of connection ids"),
        ({"text": "a", "to": [1]}, "unknown field(s) to"),
    ],
)
def test_bad_requests_say_what_is_wrong(body: dict[str, Any], says: str) -> None:
    with pytest.raises(InjectionError, match=None) as raised:
        parse_injection(body)
    assert says in str(raised.value)


def test_every_server_message_type_can_be_built() -> None:
    for message_type in MESSAGE_TYPES:
        assert orjson.loads(parse_injection({"message": {"type": message_type}}).payload(START_NS))["type"] == (
            message_type
        )
