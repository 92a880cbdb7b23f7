"""One market plane built alone (no emulator): its controls, its start on the first subscription, its notices,
and the scenario steps it runs."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator

import orjson
import pytest

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.control.faults import Fault
from coinapi_emulator.server.control.scenario import Scenario, Step
from coinapi_emulator.server.plane.plane import MarketPlane, MarketSpec
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.routes import RouteResolver
from coinapi_emulator.simulator.catalog import Catalog, CatalogConfig, build_catalog
from coinapi_emulator.simulator.ohlcv import LIVE_PERIODS
from coinapi_emulator.simulator.scenario import Halt
from tests.server.fakes import FakeSink

START_NS = 1_704_067_200_000_000_000
S = 1_000_000_000
SYMBOL = "BINANCE_SPOT_BTC_USDT"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog(CatalogConfig(exchanges=3, max_symbols_per_exchange=4), seed=0)


def make_plane(
    catalog: Catalog,
    spec: MarketSpec,
    *,
    ids: Iterator[int] | None = None,
    on_fault: Callable[[Fault], None] | None = None,
) -> MarketPlane:
    resolver = RouteResolver(catalog, combine="union", live_periods=LIVE_PERIODS, strict=False)
    return MarketPlane(
        Settings(speed=1.0), catalog, spec, resolver=resolver, ids=ids, on_fault=on_fault, monotonic_ns=lambda: 0
    )


def shared(seed: int = 3, *, paused: bool = True) -> MarketSpec:
    return MarketSpec(kind="shared", seed=seed, start_ns=START_NS, paused=paused)


def test_step_publishes_exactly_the_duration_and_pause_holds_where_the_stream_is(catalog: Catalog) -> None:
    plane = make_plane(catalog, shared())
    sink = FakeSink()
    subscriber = plane.hub.attach(sink, "peer")
    plane.hub.set_routes(subscriber, frozenset({(DataType.TRADE, SYMBOL)}), throttles_ms={}, heartbeat=False)
    plane.step(2 * S)
    assert plane.now_ns == START_NS + 2 * S
    trades = [orjson.loads(payload) for payload in sink.payloads()]
    assert trades and {trade["symbol_id"] for trade in trades} == {SYMBOL}
    status = plane.status()
    assert status["time"] == "2024-01-01T00:00:02.0000000Z" and status["paused"] is True
    assert status["messages_sent"] == len(trades) and status["scenarios"] == []
    plane.resume()
    plane.pause()
    assert plane.clock.paused and plane.clock.now_ns(123 * S) == START_NS + 2 * S
    plane.set_speed(None)
    assert plane.clock.speed is None


def test_a_private_plane_starts_with_its_first_subscription(catalog: Catalog) -> None:
    async def scenario() -> None:
        plane = make_plane(catalog, MarketSpec(kind="private", seed=3, start_ns=START_NS, starts_on_subscription=True))
        assert plane.clock.paused
        plane.subscribed()
        assert not plane.clock.paused
        assert plane.driver._timer is not None, "ticks run"
        plane.subscribed()  # only the first one starts anything
        plane.stop()
        assert plane.driver._timer is None

    asyncio.run(scenario())


def test_an_explicit_pause_wins_over_the_start_at_the_first_subscription(catalog: Catalog) -> None:
    plane = make_plane(catalog, MarketSpec(kind="shared", seed=3, start_ns=START_NS, starts_on_subscription=True))
    plane.pause()
    plane.subscribed()
    assert plane.clock.paused


def test_the_reconnect_notice_is_dated_on_the_planes_own_clock(catalog: Catalog) -> None:
    plane = make_plane(catalog, shared())
    plane.step(5 * S)
    sinks = [FakeSink(), FakeSink()]
    first, _ = (plane.hub.attach(sink, "peer") for sink in sinks)
    plane.announce_reconnect(3, [first])
    assert sinks[1].writes == []
    [notice] = [orjson.loads(payload) for payload in sinks[0].payloads()]
    assert notice == {"type": "reconnect", "within_seconds": 3, "before_time": "2024-01-01T00:00:08.0000000Z"}
    plane.announce_reconnect(1)
    assert len(sinks[0].payloads()) == 2 and len(sinks[1].payloads()) == 1


def test_scenario_steps_act_on_the_market_and_hand_faults_on(catalog: Catalog) -> None:
    faults: list[Fault] = []
    plane = make_plane(catalog, shared(), on_fault=faults.append)
    halt, close = Halt((SYMBOL,)), Fault(kind="close")
    plane.schedule(Scenario("s", (Step(S, halt), Step(2 * S, halt, ending=True), Step(3 * S, close))))
    plane.step(S + S // 2)
    assert plane.market.symbol_state(SYMBOL).halted
    plane.step(S)
    assert not plane.market.symbol_state(SYMBOL).halted and faults == []
    plane.step(S)
    assert faults == [close]


def test_planes_built_from_one_counter_number_their_connections_apart(catalog: Catalog) -> None:
    ids = itertools.count(1)
    one, two = (make_plane(catalog, shared(seed), ids=ids) for seed in (1, 2))
    assert [one.hub.attach(FakeSink(), "a").id, two.hub.attach(FakeSink(), "b").id] == [1, 2]


def test_a_failed_market_tells_and_closes_its_connections(catalog: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    async def scenario() -> tuple[MarketPlane, FakeSink]:
        plane = make_plane(catalog, shared(paused=False))
        sink = FakeSink()
        plane.hub.attach(sink, "peer")

        def broken(until_ns: int) -> object:
            raise IndexError("a side of the book is empty")

        monkeypatch.setattr(plane.market, "advance", broken)
        plane.set_speed(None)  # every tick then steps the market
        plane.start()
        for _ in range(200):
            await asyncio.sleep(0.001)
            if plane.failed:
                break
        plane.stop()
        return plane, sink

    plane, sink = asyncio.run(scenario())
    assert plane.failed and plane.status()["failed"] is True
    assert [orjson.loads(payload) for payload in sink.payloads()] == [
        {"type": "error", "message": "The market failed and stopped: reconnect"}
    ]
    assert sink.closed_with == (1011, "The market failed and stopped: reconnect")
    assert not plane.hub.subscribers


def test_at_speed_max_the_market_waits_while_a_client_socket_is_full(catalog: Catalog) -> None:
    async def scenario() -> None:
        plane = make_plane(catalog, shared(paused=False))
        sink = FakeSink()
        subscriber = plane.hub.attach(sink, "peer")
        plane.hub.set_routes(subscriber, frozenset({(DataType.QUOTE, SYMBOL)}), throttles_ms={}, heartbeat=False)
        plane.set_speed(None)
        plane.hub.pause(subscriber)
        plane.start()
        try:
            await asyncio.sleep(0.05)
            assert plane.now_ns == START_NS and sink.writes == []
            plane.hub.resume(subscriber)
            await asyncio.sleep(0.05)
            assert plane.now_ns > START_NS and sink.payloads()
        finally:
            plane.stop()

    asyncio.run(scenario())
