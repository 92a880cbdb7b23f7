"""The gateway's link, without NATS: batches in order reach the hub, and every way a batch can show that frames
went missing (a gap, a restarted simulator, a stream the simulator started again after forgetting this gateway)
tells each subscribed client to reconnect, instead of losing data silently."""

from __future__ import annotations

import asyncio
import time

from coinapi_emulator.server.bus.gateway import BusLink
from coinapi_emulator.server.bus.shards import ShardMap
from coinapi_emulator.server.bus.wire import Ack, BatchBuilder, BatchHeader, MarketDescription
from coinapi_emulator.server.fanout.hub import Hub, Subscriber
from coinapi_emulator.server.plane.driver import SPARE_SHARE
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.metadata import Metadata
from coinapi_emulator.server.protocol.routes import CatalogIndex
from coinapi_emulator.server.transport.frames import text_frame
from coinapi_emulator.simulator.catalog import CatalogConfig, build_catalog
from coinapi_emulator.simulator.market import Market
from tests.server.fakes import FakeClock, FakeSink

CATALOG = build_catalog(CatalogConfig(exchanges=2, max_symbols_per_exchange=2), seed=0)
START_NS = 1_704_067_200_000_000_000
BTC = (DataType.TRADE, "BINANCE_SPOT_BTC_USDT")
GOING_AWAY = 1001


def batch(stream_seq: int, frame: bytes, *, instance: int = 7, speed: float = 1.0) -> bytes:
    """``speed``: the simulator's clock, 0 for "max"."""
    builder = BatchBuilder()
    builder.add(BTC, text_frame(frame), START_NS)
    return builder.build(BatchHeader(instance, 0, stream_seq, stream_seq, START_NS, sent_ns=0, speed=speed))


def bound() -> tuple[BusLink, Hub, Subscriber, FakeSink]:
    """A link bound to a hub with one client of BTC's trades."""
    description = MarketDescription(seed=0, start_ns=START_NS, exchanges=2, max_symbols_per_exchange=2, shards=1)
    link = BusLink("nats://127.0.0.1:1", description, wait_s=0.1)
    hub = Hub(max_messages=100, max_bytes=100_000, clock=FakeClock())
    metadata = Metadata(CATALOG, Market(CATALOG, seed=0, start_ns=START_NS))
    link.bind(hub, metadata, ShardMap(CATALOG, 1), CatalogIndex(CATALOG))
    sink = FakeSink()
    subscriber = hub.attach(sink, "test")
    hub.set_routes(subscriber, frozenset({BTC}), throttles_ms={}, heartbeat=False)
    return link, hub, subscriber, sink


def run(batches: list[bytes]) -> tuple[BusLink, FakeSink]:
    """A link bound to a hub with one client of BTC's trades, fed ``batches`` in order."""
    link, _, _, sink = bound()

    async def feed() -> None:
        for data in batches:
            link.deliver(data)
            await asyncio.sleep(0)  # the hub's flush is scheduled with call_soon

    asyncio.run(feed())
    return link, sink


def test_batches_in_order_reach_the_client() -> None:
    link, sink = run([batch(1, b"a"), batch(2, b"b"), batch(3, b"c")])
    assert link.stats.losses == 0 and sink.closed_with is None
    assert sink.payloads() == [b"a", b"b", b"c"]


def test_a_gap_in_the_numbers_tells_clients_to_reconnect() -> None:
    link, sink = run([batch(1, b"a"), batch(3, b"c")])
    assert link.stats.losses == 1
    assert sink.closed_with is not None and sink.closed_with[0] == GOING_AWAY
    assert b'"type":"reconnect"' in sink.payloads()[-1]


def test_a_stream_started_again_after_the_simulator_forgot_the_gateway_tells_clients_to_reconnect() -> None:
    """The simulator forgets a gateway silent for its timeout and opens a new stream, numbered from 1, when the
    gateway speaks again: what the market made meanwhile never came, so this is a loss, not a duplicate."""
    link, sink = run([batch(1, b"a"), batch(2, b"b"), batch(3, b"c"), batch(1, b"d")])
    assert link.stats.losses == 1
    assert sink.closed_with is not None and sink.closed_with[0] == GOING_AWAY


def test_a_restarted_simulator_tells_clients_to_reconnect() -> None:
    link, sink = run([batch(1, b"a"), batch(1, b"b", instance=8)])
    assert link.stats.losses == 1 and sink.closed_with is not None


def test_at_speed_max_frames_wait_in_the_hub_and_acks_stop_while_a_client_socket_is_full() -> None:
    async def scenario() -> None:
        link, hub, subscriber, sink = bound()
        link.deliver(batch(1, b"a", speed=0.0))
        await asyncio.sleep(0.01)
        assert sink.payloads() == [b"a"]
        assert link.take_acks() == [Ack(link.gateway_id, 0, 1)] and link.take_acks() == []
        hub.pause(subscriber)
        link.deliver(batch(2, b"b", speed=0.0))
        await asyncio.sleep(0.01)
        # held: written now, it would queue for the paused client alone; unacknowledged, the simulator waits
        assert sink.payloads() == [b"a"] and link.take_acks() == []
        hub.resume(subscriber)
        await asyncio.sleep(0.01)
        assert sink.payloads() == [b"a", b"b"]
        assert link.take_acks() == [Ack(link.gateway_id, 0, 2)]

    asyncio.run(scenario())


def test_at_a_set_speed_frames_and_acks_go_out_whoever_is_full() -> None:
    async def scenario() -> None:
        link, hub, subscriber, sink = bound()
        hub.pause(subscriber)
        link.deliver(batch(1, b"a", speed=1.0))
        await asyncio.sleep(0.01)
        assert sink.payloads() == [b"a"]
        assert link.take_acks() == [Ack(link.gateway_id, 0, 1)]

    asyncio.run(scenario())


def test_after_a_long_flush_the_next_one_waits_a_share_of_its_time() -> None:
    """A flush to thousands of sockets takes tens of ms; flushed again at once, a gateway would leave the loop no
    time for handshakes between flushes. The batches that arrive meanwhile go out together."""

    async def scenario() -> list[float]:
        link, hub, _, sink = bound()
        loop = asyncio.get_running_loop()
        flushed_at: list[float] = []
        flush = hub.flush

        def slow_flush() -> None:
            flushed_at.append(loop.time())
            time.sleep(0.04)
            flush()

        hub.flush = slow_flush  # type: ignore[method-assign]
        link.deliver(batch(1, b"a"))
        await asyncio.sleep(0)
        assert sink.payloads() == [b"a"]
        link.deliver(batch(2, b"b"))
        link.deliver(batch(3, b"c"))
        await asyncio.sleep(0)
        assert sink.payloads() == [b"a"], "the next flush waits"
        await asyncio.sleep(0.05)
        assert sink.payloads() == [b"a", b"b", b"c"]
        return flushed_at

    first, second = asyncio.run(scenario())
    assert second - first >= (1 + SPARE_SHARE) * 0.04
