"""``book_l3`` through the emulator in-process: snapshots, updates, and the order book's life with its route."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.websocket import WebSocketEndpoint
from tests.l3_replica import SIDES, L3Replica, apply_book, parse
from tests.server.fakes import FakeSink

START_NS = 1_704_067_200_000_000_000
S = 1_000_000_000
BTC = "BINANCE_SPOT_BTC_USDT"
HELLO = {
    "type": "hello",
    "apikey": "k",
    "subscribe_data_type": ["book", "book_l3"],
    "subscribe_filter_symbol_id": [BTC],
}


class Client:
    """One connection to the emulator's endpoint, its frames parsed with exact numbers."""

    def __init__(self, emulator: Emulator, *messages: dict[str, Any]) -> None:
        self.endpoint = WebSocketEndpoint(emulator)
        self.sink = FakeSink()
        self.connection = self.endpoint.connect(self.sink, "test", upgrade_key=None)
        self.send(*messages)

    def send(self, *messages: dict[str, Any]) -> None:
        for message in messages:
            self.endpoint.handle_message(self.connection, orjson.dumps(message).decode())

    def messages(self, data_type: str | None = None) -> list[dict[str, Any]]:
        parsed = [parse(payload) for payload in self.sink.payloads()]
        return [message for message in parsed if data_type is None or message["type"] == data_type]


def emulator() -> Emulator:
    return Emulator(Settings(seed=9, start_time_ns=START_NS, speed=None), monotonic_ns=lambda: 0)


def run(emulator: Emulator, from_s: float, to_s: float) -> None:
    for step in range(int(from_s * 10) + 1, int(to_s * 10) + 1):
        emulator.shared.driver.run_until(START_NS + step * S // 10)


def test_book_l3_is_the_book_order_by_order_with_the_books_sequences() -> None:
    market = emulator()
    client = Client(market, HELLO)
    run(market, 0, 5)
    replica, levels = L3Replica(), {side: dict[Decimal, Decimal]() for side in SIDES}
    updates = 0
    for message in client.messages():
        if message["type"] == "book":
            levels = apply_book(levels, message)
            book_sequence = message["sequence"]
        else:
            replica.message(message)
            assert message["sequence"] == book_sequence, "an L3 message goes right after its book change"
            assert {side: replica.levels(side) for side in SIDES} == levels
            updates += not message["is_snapshot"]
    assert updates > 50


def test_a_later_subscriber_gets_the_same_orders_as_one_following_since_earlier() -> None:
    market = emulator()
    early = Client(market, HELLO)
    run(market, 0, 2)
    late = Client(market, HELLO | {"subscribe_data_type": ["book_l3"]})
    run(market, 2, 4)
    early_replica, late_replica = L3Replica(), L3Replica()
    for message in early.messages("book_l3"):
        early_replica.message(message)
    for message in late.messages("book_l3"):
        late_replica.message(message)
    assert (
        late.messages("book_l3")[0]["is_snapshot"]
        and late.messages("book_l3")[0]["time_exchange"] != (early.messages("book_l3")[0]["time_exchange"])
    )
    assert late_replica.sequence == early_replica.sequence
    for side in SIDES:
        assert late_replica.queues(side) == early_replica.queues(side)


def test_the_order_book_lives_while_its_route_has_subscribers() -> None:
    market = emulator()
    channel = market.shared.feed._channels[BTC]  # the feed's own state: what a symbol costs while nobody follows it
    others = [c for symbol_id, c in market.shared.feed._channels.items() if symbol_id != BTC]
    client = Client(market, HELLO)
    run(market, 0, 1)
    assert channel.orders is not None and all(other.orders is None for other in others)
    first_ids = {entry["id"] for entry in client.messages("book_l3")[0]["asks"]}
    client.send({"type": "unsubscribe", "subscribe_data_type": ["book_l3"], "subscribe_filter_symbol_id": [BTC]})
    run(market, 1, 2)
    assert channel.orders is None
    client.send({"type": "subscribe", "subscribe_data_type": ["book_l3"], "subscribe_filter_symbol_id": [BTC]})
    run(market, 2, 3)
    snapshots = [m for m in client.messages("book_l3") if m["is_snapshot"]]
    assert len(snapshots) == 2 and not first_ids & {entry["id"] for entry in snapshots[1]["asks"]}


def test_a_hello_without_an_instrument_filter_is_refused_as_for_book() -> None:
    market = emulator()
    client = Client(market, {"type": "hello", "apikey": "k", "subscribe_data_type": ["book_l3"]})
    [error] = client.messages()
    assert error["type"] == "error" and "book_l3" in error["message"]
