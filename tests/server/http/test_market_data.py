"""REST market data in-process on a paused clock: what REST returns is what a WebSocket client received.

A client subscribes, the market steps, and the trades, quotes and candles it got are compared with REST's answers
for the same symbol and time range; the book it rebuilt from ``book`` snapshots and deltas with REST's current
book. Then the parameters and errors CoinAPI documents.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient

from coinapi_emulator.server.bus.rest import call_asgi
from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.app import create_app
from coinapi_emulator.server.http.rest import market_reads_app
from tests.l3_replica import SIDES, L3Replica, parse
from tests.server.fakes import FakeSink, open_connection

START_NS = 1_704_067_200_000_000_000
SECOND_NS = 1_000_000_000
BTC = "BINANCE_SPOT_BTC_USDT"
KEY = {"X-CoinAPI-Key": "k"}
#: what the tests step the market by: two whole minutes and a bit, so that candles close and one stays open
STEPPED_S = 150


def paused_emulator(**settings: Any) -> Emulator:
    return Emulator(
        Settings(start_time_ns=START_NS, exchanges=5, paused=True, **settings),
        monotonic_ns=lambda: 0,
        epoch_ns=lambda: START_NS,
    )


@pytest.fixture(scope="module")
def stepped() -> Iterator[tuple[TestClient, list[dict[str, Any]]]]:
    """A client subscribed to BTC/USDT's trades, quotes, 1MIN candles and full book, and what it received while
    the market stepped ``STEPPED_S`` seconds."""
    emulator = paused_emulator()
    sink = FakeSink()
    hello = {
        "type": "hello",
        "apikey": "k",
        "heartbeat": False,
        "subscribe_data_type": ["trade", "quote", "ohlcv", "book"],
        "subscribe_filter_symbol_id": [BTC + "$"],
        "subscribe_filter_period_id": ["1MIN"],
    }
    open_connection(emulator, sink, hello)
    emulator.shared.step(STEPPED_S * SECOND_NS)
    received = [orjson.loads(payload) for payload in sink.payloads()]
    yield TestClient(create_app(emulator=emulator)), received


def get(client: TestClient, path: str, status: int = 200) -> Any:
    response = client.get(path, headers=KEY)
    assert response.status_code == status, response.text
    return response.json()


def exact(client: TestClient, path: str) -> Any:
    """A 200 answer's JSON with its numbers as ``Decimal``."""
    response = client.get(path, headers=KEY)
    assert response.status_code == 200, response.text
    return json.loads(response.text, parse_float=Decimal)


def _without(message: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key not in fields}


def test_every_trade_the_client_received_is_what_rest_returns(stepped: tuple[TestClient, list[dict[str, Any]]]) -> None:
    client, received = stepped
    streamed = [_without(m, "type", "sequence") for m in received if m["type"] == "trade"]
    history = get(client, f"/v1/trades/{BTC}/history?time_start=2024-01-01T00:00:00&limit=100000")
    assert len(streamed) > 50 and history == streamed
    latest = get(client, f"/v1/trades/{BTC}/latest?limit=5")
    assert latest == streamed[::-1][:5]


def test_every_quote_the_client_received_is_what_rest_returns(stepped: tuple[TestClient, list[dict[str, Any]]]) -> None:
    client, received = stepped
    streamed = [_without(m, "type", "sequence") for m in received if m["type"] == "quote"]
    history = get(client, f"/v1/quotes/{BTC}/history?time_start=2024-01-01&limit=100000")
    assert len(streamed) > 50 and history == streamed
    current = get(client, f"/v1/quotes/{BTC}/current")
    last_trade = [m for m in received if m["type"] == "trade"][-1]
    assert _without(current, "last_trade") == streamed[-1]
    assert current["last_trade"] == _without(last_trade, "type", "sequence", "symbol_id")


def test_the_candles_the_client_received_are_what_rest_returns(
    stepped: tuple[TestClient, list[dict[str, Any]]],
) -> None:
    client, received = stepped
    # the last bar sent for each period start is the candle as it stands (final, or the open one's interim)
    streamed: dict[str, dict[str, Any]] = {}
    for message in received:
        if message["type"] == "ohlcv":
            streamed[message["time_period_start"]] = _without(message, "type", "sequence", "symbol_id", "period_id")
    history = get(client, f"/v1/ohlcv/{BTC}/history?period_id=1MIN&time_start=2024-01-01&time_end=2024-01-01T00:02:00")
    assert [bar["time_period_start"] for bar in history] == [
        "2024-01-01T00:00:00.0000000Z",
        "2024-01-01T00:01:00.0000000Z",
    ]
    assert history == [streamed[bar["time_period_start"]] for bar in history]
    two_minutes = get(client, f"/v1/ohlcv/{BTC}/history?period_id=2MIN&time_start=2024-01-01&limit=1")[0]
    assert (
        two_minutes["price_open"] == history[0]["price_open"]
        and two_minutes["price_close"] == history[1]["price_close"]
    )
    assert two_minutes["trades_count"] == history[0]["trades_count"] + history[1]["trades_count"]
    latest = get(client, f"/v1/ohlcv/{BTC}/latest?period_id=1MIN&limit=3")
    assert [bar["time_period_start"] for bar in latest] == [
        "2024-01-01T00:02:00.0000000Z",
        "2024-01-01T00:01:00.0000000Z",
        "2024-01-01T00:00:00.0000000Z",
    ]


def test_rest_trades_fold_into_the_candles_rest_returns(stepped: tuple[TestClient, list[dict[str, Any]]]) -> None:
    client, _ = stepped
    trades = get(client, f"/v1/trades/{BTC}/history?time_start=2024-01-01T00:01:00&time_end=2024-01-01T00:01:10")
    [bar] = get(client, f"/v1/ohlcv/{BTC}/history?period_id=10SEC&time_start=2024-01-01T00:01:00&limit=1")
    prices = [trade["price"] for trade in trades]
    assert (bar["price_open"], bar["price_close"], bar["trades_count"]) == (prices[0], prices[-1], len(trades))
    assert (bar["price_high"], bar["price_low"]) == (max(prices), min(prices))


Side = list[tuple[float, float]]


def rebuilt_books(received: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], Side, Side]]:
    """The book a subscriber holds after each ``book`` message it received: (message, asks, bids), best first."""
    asks: dict[float, float] = {}
    bids: dict[float, float] = {}
    for message in received:
        if message["type"] != "book":
            continue
        if message["is_snapshot"]:
            asks.clear()
            bids.clear()
        for side, levels in ((asks, message["asks"]), (bids, message["bids"])):
            for level in levels:
                if level["size"] == 0:
                    side.pop(level["price"], None)
                else:
                    side[level["price"]] = level["size"]
        yield message, sorted(asks.items()), sorted(bids.items(), reverse=True)


def levels_of(book: dict[str, Any]) -> tuple[Side, Side]:
    return [(lv["price"], lv["size"]) for lv in book["asks"]], [(lv["price"], lv["size"]) for lv in book["bids"]]


def test_the_current_book_is_the_book_a_subscriber_rebuilt(stepped: tuple[TestClient, list[dict[str, Any]]]) -> None:
    client, received = stepped
    *_, (_, asks, bids) = rebuilt_books(received)
    book = get(client, f"/v1/orderbooks/{BTC}/current")
    assert levels_of(book) == (asks, bids)
    top = get(client, f"/v1/orderbooks/{BTC}/current?limit_levels=3")
    assert top["asks"] == book["asks"][:3] and top["bids"] == book["bids"][:3]
    [listed] = get(client, f"/v1/orderbooks/current?filter_symbol_id={BTC}&limit_levels=3")
    assert listed == top


def test_the_book_history_is_the_book_a_subscriber_rebuilt_after_each_change(
    stepped: tuple[TestClient, list[dict[str, Any]]],
) -> None:
    client, received = stepped
    rebuilt = [
        (message["time_exchange"], asks[:3], bids[:3])
        for message, asks, bids in rebuilt_books(received)
        if not message["is_snapshot"]
    ]
    history = get(client, f"/v1/orderbooks/{BTC}/history?time_start=2024-01-01&limit=100000&limit_levels=3")
    served = [(book["time_exchange"], *levels_of(book)) for book in history]
    assert len(rebuilt) > 100 and served == rebuilt
    latest = get(client, f"/v1/orderbooks/{BTC}/latest?limit=2")
    assert [book["time_exchange"] for book in latest] == [served[-1][0], served[-2][0]]
    assert len(latest[0]["asks"]) == 20 and latest[0]["asks"][:3] == history[-1]["asks"]


def test_an_unsubscribed_books_history_starts_at_the_first_rest_request() -> None:
    emulator = paused_emulator()
    client = TestClient(create_app(emulator=emulator))
    emulator.shared.step(10 * SECOND_NS)
    assert get(client, f"/v1/orderbooks/{BTC}/history?time_start=2024-01-01&limit=10") == []
    emulator.shared.step(10 * SECOND_NS)
    kept = get(client, f"/v1/orderbooks/{BTC}/history?time_start=2024-01-01&limit=100000")
    assert kept and kept[0]["time_exchange"] >= "2024-01-01T00:00:10"
    assert get(client, f"/v1/orderbooks/{BTC}/latest?limit=1")[0] == kept[-1]


def test_the_current_book_l3_is_the_orders_a_subscriber_follows() -> None:
    emulator = paused_emulator()
    sink = FakeSink()
    hello = {"type": "hello", "apikey": "k", "subscribe_data_type": ["book_l3"], "subscribe_filter_symbol_id": [BTC]}
    open_connection(emulator, sink, hello)
    emulator.shared.step(5 * SECOND_NS)
    replica = L3Replica()
    for payload in sink.payloads():
        replica.message(parse(payload))
    client = TestClient(create_app(emulator=emulator))
    response = client.get(f"/v1/orderbooks3/{BTC}/current", headers=KEY)
    assert response.status_code == 200 and replica.sequence is not None and replica.sequence > 20
    book = parse(response.content)
    for side in SIDES:
        queues = replica.queues(side)
        expected = [
            (oid, price, size) for price in sorted(queues, reverse=side == "bids") for oid, size in queues[price]
        ]
        assert [(order["id"], order["price"], order["size"]) for order in book[side]] == expected


def test_an_unfollowed_symbols_book_l3_is_the_snapshot_a_subscriber_joining_then_gets() -> None:
    emulator = paused_emulator()
    client = TestClient(create_app(emulator=emulator))
    emulator.shared.step(3 * SECOND_NS)
    served = get(client, f"/v1/orderbooks3/{BTC}/current?limit_levels=2")
    assert get(client, f"/v1/orderbooks3/{BTC}/current?limit_levels=2") == served  # nothing moved, nothing kept
    sink = FakeSink()
    hello = {"type": "hello", "apikey": "k", "subscribe_data_type": ["book_l3"], "subscribe_filter_symbol_id": [BTC]}
    open_connection(emulator, sink, hello)
    [snapshot] = [orjson.loads(payload) for payload in sink.payloads()]
    for side in ("asks", "bids"):
        best = sorted({order["price"] for order in snapshot[side]}, reverse=side == "bids")[:2]
        assert served[side] == [order for order in snapshot[side] if order["price"] in best]
        assert len({order["price"] for order in served[side]}) == 2 < len(served[side])
    [listed] = get(client, f"/v1/orderbooks3/current?filter_symbol_id={BTC}&limit_levels=2")
    assert listed == served
    assert "filter_symbol_id is required" in get(client, "/v1/orderbooks3/current", status=400)["error"]
    get(client, "/v1/orderbooks3/NOPE_SPOT_X_Y/current", status=550)


def test_rates_at_a_time_and_as_candles(stepped: tuple[TestClient, list[dict[str, Any]]]) -> None:
    client, _ = stepped
    at = get(client, "/v1/exchangerate/BTC/USD?time=2024-01-01T00:01:00.5")
    assert at["time"] == "2024-01-01T00:01:00.5000000Z" and at["rate"] > 0
    [candle] = get(client, "/v1/exchangerate/BTC/USD/history?period_id=1MIN&time_start=2024-01-01T00:01:00&limit=1")
    assert candle["rate_low"] <= at["rate"] <= candle["rate_high"]
    assert candle["rate_low"] <= min(candle["rate_open"], candle["rate_close"])
    listed = get(client, "/v1/exchangerate/BTC?time=2024-01-01T00:01:00.5&filter_asset_id=USD")
    assert listed["rates"][0]["rate"] == at["rate"]


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        (f"/v1/trades/{BTC}/history", 400, "time_start is required"),
        (f"/v1/trades/{BTC}/history?time_start=yesterday", 400, "is not an ISO 8601 time"),
        (f"/v1/trades/{BTC}/history?time_start=2024-01-01&limit=0", 400, "limit must be from 1 to 100000"),
        (f"/v1/trades/{BTC}/history?time_start=2024-01-01&limit=100001", 400, "limit must be from 1 to 100000"),
        (f"/v1/trades/{BTC}/history?time_start=2024-01-01T00:02&time_end=2024-01-01T00:01", 400, "time_end must be"),
        (f"/v1/ohlcv/{BTC}/history?time_start=2024-01-01", 400, "period_id is required"),
        (f"/v1/ohlcv/{BTC}/history?period_id=7MIN&time_start=2024-01-01", 400, "not one of /v1/ohlcv/periods"),
        (f"/v1/ohlcv/{BTC}/history?period_id=1MTH&time_start=2024-01-01", 400, "calendar periods"),
        (f"/v1/ohlcv/{BTC}/history?period_id=1MIN&time_start=2023-12-31", 400, "--history"),
        ("/v1/trades/NOPE/latest", 550, "Unknown symbol_id 'NOPE'"),
        ("/v1/orderbooks/current", 400, "filter_symbol_id is required"),
        (f"/v1/orderbooks/{BTC}/current?limit_levels=none", 400, "limit_levels must be an integer"),
        ("/v1/exchangerate/BTC/USD?time=2030-01-01", 400, "after the market's current time"),
        ("/v1/exchangerate/BTC/NOPE/history?period_id=1MIN&time_start=2024-01-01", 550, "Unknown asset_id 'NOPE'"),
    ],
)
def test_bad_requests_get_coinapis_error_body(
    stepped: tuple[TestClient, list[dict[str, Any]]], path: str, status: int, message: str
) -> None:
    client, _ = stepped
    assert message in get(client, path, status)["error"]


def test_what_left_the_window_gets_a_clear_400() -> None:
    emulator = paused_emulator(retain_ns=60 * SECOND_NS, retain_bars_ns=60 * SECOND_NS)
    client = TestClient(create_app(emulator=emulator))
    emulator.shared.step(300 * SECOND_NS)
    error = get(client, f"/v1/trades/{BTC}/history?time_start=2024-01-01T00:00:00", 400)["error"]
    assert error.startswith("trades and quotes are retained from 2024-01-01T00:0")
    assert get(client, f"/v1/trades/{BTC}/history?time_start=2024-01-01T00:04:00&limit=1")
    assert (
        "candles are retained from"
        in get(client, f"/v1/ohlcv/{BTC}/history?period_id=1MIN&time_start=2024-01-01", 400)["error"]
    )


def test_without_retention_history_is_refused_but_the_current_state_is_served() -> None:
    emulator = paused_emulator(retain_ns=0)
    client = TestClient(create_app(emulator=emulator))
    emulator.shared.step(10 * SECOND_NS)
    assert "--retain 0" in get(client, f"/v1/trades/{BTC}/latest", 400)["error"]
    assert get(client, f"/v1/orderbooks/{BTC}/current?limit_levels=1")["asks"]
    assert get(client, f"/v1/quotes/{BTC}/current")["last_trade"] is None


def test_rate_candles_join_the_history_before_the_start_to_the_live_ones() -> None:
    emulator = paused_emulator(history_ns=86_400 * SECOND_NS)
    client = TestClient(create_app(emulator=emulator))
    emulator.shared.step(120 * SECOND_NS)
    path = "/v1/exchangerate/BTC/USD/history?period_id=1HRS&time_start=2023-12-31T21:00:00&limit=10"
    candles = get(client, path)
    assert [c["time_period_start"][11:13] for c in candles] == ["21", "22", "23", "00"]
    assert candles[2]["rate_close"] == candles[3]["rate_open"], "the history ends at the live market's opening rate"
    assert all(c["rate_low"] <= min(c["rate_open"], c["rate_close"]) for c in candles)


def test_a_rate_candle_spanning_an_unaligned_start_needs_no_history() -> None:
    emulator = Emulator(
        Settings(start_time_ns=START_NS + 30 * SECOND_NS, exchanges=5, paused=True),
        monotonic_ns=lambda: 0,
        epoch_ns=lambda: START_NS,
    )
    client = TestClient(create_app(emulator=emulator))
    emulator.shared.step(60 * SECOND_NS)
    [first, _] = get(client, "/v1/exchangerate/BTC/USD/history?period_id=1MIN&time_start=2024-01-01T00:00:30")
    assert first["time_period_start"] == "2024-01-01T00:00:00.0000000Z"
    assert first["time_open"] == "2024-01-01T00:00:30.0000000Z"


def test_trades_and_quotes_before_the_start_are_generated_and_join_the_published_ones() -> None:
    emulator = paused_emulator(history_ns=86_400 * SECOND_NS)
    sink = FakeSink()
    hello = {"type": "hello", "apikey": "k", "heartbeat": False, "subscribe_data_type": ["trade", "quote"]}
    open_connection(emulator, sink, {**hello, "subscribe_filter_symbol_id": [BTC + "$"]})
    emulator.shared.step(20 * SECOND_NS)
    client = TestClient(create_app(emulator=emulator))
    streamed = [_without(orjson.loads(p), "type", "sequence") for p in sink.payloads()]
    for kind in ("trade", "quote"):
        published = [m for m in streamed if ("price" in m) == (kind == "trade")]
        served = get(client, f"/v1/{kind}s/{BTC}/history?time_start=2023-12-31T23:58:00&limit=100000")
        before = [m for m in served if m["time_exchange"] < "2024-01-01"]
        assert len(before) > 1000 and served[len(before) :] == published
        assert all(m["time_exchange"] >= "2023-12-31T23:58:00" for m in before)
        assert all(500_000 <= _ns(m["time_coinapi"]) - _ns(m["time_exchange"]) < 5_000_000 for m in before)
        # a limit across the start: the history, then the first published
        assert get(client, f"/v1/{kind}s/{BTC}/history?time_start=2023-12-31T23:58:00&limit={len(before) + 3}") == (
            before + published[:3]
        )
    # to the lot: the numbers as written, not as floats
    trades = exact(client, f"/v1/trades/{BTC}/history?time_start=2023-12-31T23:59:00&time_end=2024-01-01&limit=100000")
    [candle] = exact(client, f"/v1/ohlcv/{BTC}/history?period_id=1MIN&time_start=2023-12-31T23:59:00&limit=1")
    prices = [t["price"] for t in trades]
    assert (candle["price_open"], candle["price_high"], candle["price_low"], candle["price_close"]) == (
        prices[0], max(prices), min(prices), prices[-1]
    )  # fmt: skip
    assert candle["volume_traded"] == sum(t["size"] for t in trades)
    assert (candle["trades_count"], candle["time_open"], candle["time_close"]) == (
        len(trades), trades[0]["time_exchange"], trades[-1]["time_exchange"]
    )  # fmt: skip
    error = get(client, f"/v1/trades/{BTC}/history?time_start=2023-12-30T00:00:00", 400)["error"]
    assert error == "history before the start reaches back to 2023-12-31T00:00:00.0000000Z (--history)"


def _ns(iso: str) -> int:
    """ns since the epoch of CoinAPI's time format (seven decimals)."""
    whole = datetime.fromisoformat(iso[:19] + "+00:00")
    return int(whole.timestamp()) * SECOND_NS + int(iso[20:27]) * 100


def test_history_before_the_start_needs_no_retention() -> None:
    emulator = paused_emulator(history_ns=3600 * SECOND_NS, retain_ns=0)
    client = TestClient(create_app(emulator=emulator))
    emulator.shared.step(10 * SECOND_NS)
    assert len(get(client, f"/v1/quotes/{BTC}/history?time_start=2023-12-31T23:00:00&time_end=2024-01-01&limit=7")) == 7
    assert "--retain 0" in get(client, f"/v1/trades/{BTC}/history?time_start=2023-12-31T23:59:00", 400)["error"]


@pytest.mark.parametrize(
    ("path", "query", "per_turn"),
    [
        # a minute of trades a turn
        (f"/v1/trades/{BTC}/history", "time_start=2023-12-31T20:00:00&limit=20000", 0),
        # at most 100 books of 20 levels a turn: a busy minute's would hold the loop for ~0.25 s
        (f"/v1/orderbooks/{BTC}/history", "time_start=2023-12-31T20:00:00&limit=2000", 100),
        (f"/v1/orderbooks/{BTC}/latest", "limit=2000", 100),
    ],
    ids=["trades", "books", "latest-books"],
)
def test_a_long_generated_answer_hands_the_event_loop_back_while_it_is_written(
    path: str, query: str, per_turn: int
) -> None:
    app = market_reads_app(paused_emulator(history_ns=86_400 * SECOND_NS))

    async def answer_while_counting() -> tuple[int, bytes, int]:
        turns, answered = 0, False

        async def other_client() -> None:
            nonlocal turns
            while not answered:
                turns += 1
                await asyncio.sleep(0)

        other = asyncio.create_task(other_client())
        status, body = await call_asgi(app, path, query)
        answered = True
        await other
        return status, body, turns

    status, body, turns = asyncio.run(answer_while_counting())
    records = orjson.loads(body)
    assert status == 200 and len(records) == int(query.rpartition("=")[2])
    minutes = {record["time_exchange"][:16] for record in records}
    assert len(minutes) > 1 and turns >= len(minutes), "a turn for the others between the minutes"
    if per_turn:
        assert turns >= len(records) / per_turn
    else:
        assert len(minutes) > 30


def test_latest_goes_on_into_the_history_when_the_published_ones_are_too_few() -> None:
    emulator = paused_emulator(history_ns=3600 * SECOND_NS)
    client = TestClient(create_app(emulator=emulator))
    emulator.shared.step(3 * SECOND_NS)
    for kind in ("trades", "quotes"):
        latest = get(client, f"/v1/{kind}/{BTC}/latest?limit=300")
        window = get(client, f"/v1/{kind}/{BTC}/history?time_start=2023-12-31T23:50:00&limit=100000")
        published = [m for m in window if m["time_exchange"] >= "2024-01-01"]
        assert 0 < len(published) < 300 and latest == window[::-1][:300]
    everyone = get(client, "/v1/trades/latest?filter_symbol_id=BINANCE_SPOT_&limit=2000")
    times = [trade["time_exchange"] for trade in everyone]
    assert len(everyone) == 2000 and times == sorted(times, reverse=True)
    assert [t for t in everyone if t["symbol_id"] == BTC][:300] == get(client, f"/v1/trades/{BTC}/latest?limit=300")
    assert len({t["symbol_id"] for t in everyone}) > 3 and times[-1] < "2024-01-01"


def test_books_before_the_start_stand_behind_the_history_quotes_and_join_the_published_ones() -> None:
    emulator = paused_emulator(history_ns=3600 * SECOND_NS)
    client = TestClient(create_app(emulator=emulator))
    emulator.shared.step(3 * SECOND_NS)
    get(client, f"/v1/orderbooks/{BTC}/current")  # its changes are kept from its first read on
    emulator.shared.step(3 * SECOND_NS)
    window = f"/v1/orderbooks/{BTC}/history?time_start=2023-12-31T23:59:00&limit=100000&limit_levels=5"
    books = exact(client, window)
    quotes = exact(client, f"/v1/quotes/{BTC}/history?time_start=2023-12-31T23:59:00&time_end=2024-01-01&limit=100000")
    before = [book for book in books if book["time_exchange"] < "2024-01-01"]
    assert len(before) == len(quotes) > 100
    for book, quote in zip(before, quotes, strict=True):
        assert (book["time_exchange"], book["time_coinapi"]) == (quote["time_exchange"], quote["time_coinapi"])
        assert book["asks"][0] == {"price": quote["ask_price"], "size": quote["ask_size"]}
        assert book["bids"][0] == {"price": quote["bid_price"], "size": quote["bid_size"]}
        asks, bids = [level["price"] for level in book["asks"]], [level["price"] for level in book["bids"]]
        assert len(asks) == len(bids) == 5 and bids[0] < asks[0]
        assert asks == sorted(set(asks)) and bids == sorted(set(bids), reverse=True)
    # then what the market published, as a window from the start reads it
    assert books[len(before) :] and books[len(before) :] == exact(
        client, window.replace("2023-12-31T23:59:00", "2024-01-01T00:00:00")
    )
    # a limit across the start, and /latest goes on into the history as the trades' does
    assert (
        get(client, window.replace("limit=100000", f"limit={len(before) + 1}"))
        == get(client, window)[: len(before) + 1]
    )
    latest = get(client, f"/v1/orderbooks/{BTC}/latest?limit=200&limit_levels=5")
    assert latest == get(client, window)[::-1][:200]
    assert latest[0]["time_exchange"] >= "2024-01-01" > latest[-1]["time_exchange"]
    error = get(client, f"/v1/orderbooks/{BTC}/history?time_start=2023-12-31T22:00:00", 400)["error"]
    assert error == "history before the start reaches back to 2023-12-31T23:00:00.0000000Z (--history)"


def test_a_window_the_history_fills_needs_nothing_the_market_has_forgotten_since() -> None:
    emulator = paused_emulator(history_ns=3600 * SECOND_NS, retain_ns=60 * SECOND_NS)
    client = TestClient(create_app(emulator=emulator))
    get(client, f"/v1/orderbooks/{BTC}/current")  # its book changes are kept from now on
    emulator.shared.step(200 * SECOND_NS)  # the first published minutes are forgotten
    for path in (f"/v1/trades/{BTC}/history", f"/v1/quotes/{BTC}/history", f"/v1/orderbooks/{BTC}/history"):
        records = get(client, f"{path}?time_start=2023-12-31T23:58:00&limit=300")
        assert len(records) == 300 and records[-1]["time_exchange"] < "2024-01-01"
        assert records == get(client, f"{path}?time_start=2023-12-31T23:58:00&time_end=2024-01-01&limit=300")
        # more than the history holds would need what was forgotten: a hole, so the retention's 400
        error = get(client, f"{path}?time_start=2023-12-31T23:58:00&limit=100000", 400)["error"]
        assert error.startswith("trades and quotes are retained from" if "books" not in path else "order books are")
