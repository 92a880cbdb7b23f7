"""Candles through the whole stack (endpoint, hub, feed, market): the market builds only subscribed candles, yet
every client's bytes are as if it built them all (sequences count every candle of the symbol, whoever listens
and since when)."""

from __future__ import annotations

import orjson

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.websocket import Connection, WebSocketEndpoint
from coinapi_emulator.simulator.events import Bar
from tests.server.fakes import FakeSink, open_connection

START_NS = 1_704_067_200_000_000_000
S = 1_000_000_000
BTC = "BINANCE_SPOT_BTC_USDT"
SEVEN_S = "2024-01-01T00:00:07.0000000Z"


def _emulator() -> Emulator:
    return Emulator(
        Settings(seed=42, start_time_ns=START_NS, speed=None), monotonic_ns=lambda: 0, epoch_ns=lambda: START_NS
    )


def _subscribe(emulator: Emulator, sink: FakeSink, periods: list[str]) -> Connection:
    hello = {
        "type": "hello",
        "apikey": "k",
        "subscribe_data_type": ["ohlcv"],
        "subscribe_filter_symbol_id": [BTC + "$"],
    }
    if periods:
        hello["subscribe_filter_period_id"] = periods
    return open_connection(emulator, sink, hello)


def _run(emulator: Emulator, from_s: float, to_s: float) -> None:
    for tenth in range(round(from_s * 10) + 1, round(to_s * 10) + 1):
        emulator.shared.driver.run_until(START_NS + tenth * S // 10)


def _frames(sink: FakeSink) -> list[dict[str, object]]:
    return [orjson.loads(payload) for payload in sink.payloads()]


def test_a_late_subscriber_to_some_periods_gets_the_bytes_of_an_early_one_to_all() -> None:
    early, late = FakeSink(), FakeSink()
    from_start = _emulator()
    _subscribe(from_start, early, [])
    _run(from_start, 0, 16)
    midway = _emulator()
    _run(midway, 0, 6.5)  # nobody listens: no candle is built, every one is counted
    _subscribe(midway, late, ["1SEC", "5SEC", "10SEC"])
    _run(midway, 6.5, 16)

    every = _frames(early)
    # one counter per symbol across all periods: a client of every period sees 1, 2, 3, ...
    assert [frame["sequence"] for frame in every] == list(range(1, len(every) + 1))
    late_payloads = late.payloads()
    # bars go out in time order, a second's 1SEC final first: the late client's part starts with the one of 7 s
    since_7s = next(
        i for i, frame in enumerate(every) if (frame["period_id"], frame["time_period_end"]) == ("1SEC", SEVEN_S)
    )
    expected = [
        payload
        for payload, frame in zip(early.payloads()[since_7s:], every[since_7s:], strict=True)
        if frame["period_id"] in ("1SEC", "5SEC", "10SEC")
    ]
    assert len(late_payloads) > 5 and orjson.loads(late_payloads[0])["sequence"] > 20
    assert late_payloads == expected


def test_the_market_builds_only_the_candles_of_subscribed_routes() -> None:
    emulator = _emulator()
    connection = _subscribe(emulator, FakeSink(), ["1SEC", "5SEC"])
    _run(emulator, 0, 2)
    bars = [e for e in emulator.shared.market.advance(START_NS + 11 * S) if isinstance(e, Bar)]
    assert {(bar.symbol_id, bar.period_id) for bar in bars} == {(BTC, "1SEC"), (BTC, "5SEC")}
    WebSocketEndpoint(emulator).disconnect(connection)
    # the feed's next pass tells the market that nobody wants them any more
    emulator.shared.driver.run_until(START_NS + 12 * S)
    assert not [e for e in emulator.shared.market.advance(START_NS + 16 * S) if isinstance(e, Bar)]
