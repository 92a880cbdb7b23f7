"""The feeds alone: a market (or a recording) and a fake outlet; no hub, no plane, no emulator."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from coinapi_emulator.server.plane.crosses import CrossRates
from coinapi_emulator.server.plane.feed import MarketFeed, ReplayFeed
from coinapi_emulator.server.plane.streams import Stamper, channels_of, simulated_time_coinapi
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.encode import format_time
from coinapi_emulator.server.protocol.routes import RouteKey
from coinapi_emulator.server.replay.source import ReplaySource
from coinapi_emulator.server.transport.frames import frame_payload
from coinapi_emulator.simulator.catalog import Catalog, CatalogConfig, build_catalog
from coinapi_emulator.simulator.market import Market
from tests.server.replay.factories import BTC, make_quote, make_trade, write_recording

START_NS = 1_704_067_200_000_000_000
S = 1_000_000_000
SYMBOL = "BINANCE_SPOT_BTC_USDT"
TRADE: RouteKey = (DataType.TRADE, SYMBOL)


@dataclass
class FakeOutlet:
    """Routes set by the test; every delivery recorded as (route, payload, time_ns)."""

    routes: dict[RouteKey, Any] = field(default_factory=dict)
    interest: dict[RouteKey, bool] = field(default_factory=dict)
    delivered: list[tuple[RouteKey, bytes, int]] = field(default_factory=list)

    def listen(self, key: RouteKey) -> None:
        self.routes[key] = "members"
        self.interest[key] = True

    def leave(self, key: RouteKey) -> None:
        del self.routes[key]
        self.interest[key] = False

    def deliver(self, members: Any, key: RouteKey, frame: bytes, time_ns: int) -> None:
        assert members == "members"
        self.delivered.append((key, frame_payload(frame), time_ns))

    def take_interest(self) -> dict[RouteKey, bool]:
        interest, self.interest = self.interest, {}
        return interest

    def messages(self, key: RouteKey) -> list[dict[str, Any]]:
        return [orjson.loads(payload) for delivered, payload, _ in self.delivered if delivered == key]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog(CatalogConfig(exchanges=3, max_symbols_per_exchange=4), seed=0)


def market_feed(catalog: Catalog, outlet: FakeOutlet) -> tuple[MarketFeed, Market]:
    market = Market(catalog, seed=7, start_ns=START_NS, bars="wanted")
    stamper = Stamper(live=False)
    return MarketFeed(market, channels_of(catalog.symbols), outlet, stamper, CrossRates()), market


def test_nothing_is_encoded_for_streams_nobody_listens_to(catalog: Catalog) -> None:
    outlet = FakeOutlet()
    feed, market = market_feed(catalog, outlet)
    feed.publish_until(START_NS + 2 * S)
    assert feed.now_ns == market.now_ns == START_NS + 2 * S
    assert market.trades_count(SYMBOL) > 0 and outlet.delivered == []


def test_a_late_listener_gets_sequences_that_count_every_message_since_the_start(catalog: Catalog) -> None:
    outlet = FakeOutlet()
    feed, market = market_feed(catalog, outlet)
    feed.publish_until(START_NS + 2 * S)
    before = market.trades_count(SYMBOL)
    outlet.listen(TRADE)
    feed.publish_until(START_NS + 4 * S)
    trades = outlet.messages(TRADE)
    assert [trade["sequence"] for trade in trades] == list(range(before + 1, market.trades_count(SYMBOL) + 1))
    assert {trade["symbol_id"] for trade in trades} == {SYMBOL}
    outlet.leave(TRADE)
    outlet.delivered.clear()
    feed.publish_until(START_NS + 5 * S)
    assert outlet.delivered == []


def test_time_coinapi_is_the_stampers(catalog: Catalog) -> None:
    outlet = FakeOutlet()
    feed, _ = market_feed(catalog, outlet)
    outlet.listen(TRADE)
    feed.publish_until(START_NS + 3 * S)
    for _, payload, time_ns in outlet.delivered:
        assert orjson.loads(payload)["time_coinapi"] == format_time(simulated_time_coinapi(time_ns))


def test_interest_in_candles_reaches_the_market(catalog: Catalog) -> None:
    outlet = FakeOutlet()
    feed, _ = market_feed(catalog, outlet)
    candles: RouteKey = (DataType.OHLCV, f"{SYMBOL}.1SEC")
    outlet.listen(candles)
    feed.publish_until(START_NS + 3 * S)
    bars = outlet.messages(candles)
    assert bars and {bar["period_id"] for bar in bars} == {"1SEC"}


def test_book_types_come_from_one_book_change_each_at_their_own_pace(catalog: Catalog) -> None:
    outlet = FakeOutlet()
    feed, _ = market_feed(catalog, outlet)
    for data_type in (DataType.BOOK, DataType.BOOK5, DataType.BOOK20):
        outlet.listen((data_type, SYMBOL))
    feed.publish_until(START_NS + 3 * S)
    deltas = outlet.messages((DataType.BOOK, SYMBOL))
    tops = outlet.messages((DataType.BOOK5, SYMBOL))
    slow = outlet.messages((DataType.BOOK20, SYMBOL))
    assert len(deltas) == len(tops) > len(slow) > 0
    assert all(len(top["asks"]) <= 5 for top in tops) and not any(top.get("is_snapshot") for top in tops)


def test_cross_rates_are_computed_only_while_wanted(catalog: Catalog) -> None:
    outlet = FakeOutlet()
    feed, market = market_feed(catalog, outlet)
    usd, eur = (DataType.EXRATE, "BTC/USD"), (DataType.EXRATE, "BTC/EUR")
    outlet.listen(usd)
    outlet.listen(eur)
    feed.publish_until(START_NS + 2 * S)
    [*_, last_usd] = outlet.messages(usd)
    [*_, last_eur] = outlet.messages(eur)
    assert last_usd["rate_type"] == "BASE_ALL_CROSSES_TO_REF"
    assert last_eur["rate_type"] == "BASE_AND_QUOTE_TO_REF"
    assert last_eur["rate"] == pytest.approx(last_usd["rate"] / market.rate_usd("EUR"), rel=1e-6)
    outlet.leave(eur)
    outlet.delivered.clear()
    feed.publish_until(START_NS + 3 * S)
    assert outlet.messages(usd) and not outlet.messages(eur)


def test_a_replay_feed_publishes_recorded_messages_verbatim_to_their_routes(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "r.jsonl.gz", [(0, make_trade()), (S // 2, make_quote()), (S, make_trade())])
    outlet = FakeOutlet()
    feed = ReplayFeed(ReplaySource.open(path, start_ns=START_NS), outlet)
    outlet.listen((DataType.TRADE, BTC))
    outlet.interest[(DataType.OHLCV, f"{BTC}.1SEC")] = True  # drained and ignored: nothing is computed
    feed.publish_until(START_NS + 2 * S)
    assert feed.now_ns == START_NS + 2 * S and outlet.interest == {}
    assert [(key, payload) for key, payload, _ in outlet.delivered] == [
        ((DataType.TRADE, BTC), make_trade().encode()),
        ((DataType.TRADE, BTC), make_trade().encode()),
    ]
    assert [time_ns for _, _, time_ns in outlet.delivered] == [START_NS, START_NS + S]
