"""Transport faults: ``FaultySink`` (stall, latency, dropped quotes) behind a real hub, and the injector over the
hubs of several planes, with a fake clock and a fake timer."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from coinapi_emulator.server.control.faults import Fault, FaultInjector, FaultySink
from coinapi_emulator.server.fanout.hub import Hub, Subscriber
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.routes import RouteKey
from coinapi_emulator.server.transport.frames import text_frame
from tests.server.fakes import FakeClock, FakeSink, FakeTarget

TRADE: RouteKey = (DataType.TRADE, "X")
QUOTE: RouteKey = (DataType.QUOTE, "X")
Timers = list[tuple[float, Callable[[], None]]]


def setup() -> tuple[Hub, FakeClock, Timers, FaultInjector, Subscriber, FakeSink]:
    clock, timers = FakeClock(), []
    hub = Hub(max_messages=100, max_bytes=1 << 20, clock=clock)
    sink = FakeSink()
    subscriber = hub.attach(sink, "peer")
    hub.set_routes(subscriber, frozenset({TRADE, QUOTE}), throttles_ms={}, heartbeat=False)
    injector = FaultInjector(call_later=lambda delay, callback: timers.append((delay, callback)), clock=clock)
    return hub, clock, timers, injector, subscriber, sink


def publish(hub: Hub, key: RouteKey, payload: bytes) -> None:
    hub.deliver(hub.routes[key], key, text_frame(payload), 0)


def quote(symbol: str, n: int) -> bytes:
    return f'{{"type":"quote","symbol_id":"{symbol}","sequence":{n}}}'.encode()


def test_a_stall_backlogs_like_a_slow_socket_until_its_timer_resumes_the_hub() -> None:
    hub, clock, timers, injector, subscriber, sink = setup()
    injector.apply(Fault(kind="stall", ms=2000), [FakeTarget(hub)])
    assert isinstance(subscriber.sink, FaultySink) and subscriber.sink.inner is sink
    publish(hub, TRADE, b"t1")
    hub.flush()
    assert sink.writes == [] and subscriber.backlogged
    [(delay, end_stall)] = timers
    assert delay == 2.0
    clock.now += 1.999  # the loop's timer fires a little early: still stalled, nothing goes out, wait the rest
    end_stall()
    assert sink.writes == [] and subscriber.backlogged
    [_, (rest, end_stall)] = timers
    assert rest == pytest.approx(0.001)
    clock.now += 0.001
    end_stall()
    assert sink.payloads() == [b"t1"] and not subscriber.backlogged


def test_a_second_stall_pushes_the_end_back() -> None:
    hub, clock, timers, injector, subscriber, sink = setup()
    injector.apply(Fault(kind="stall", ms=1000), [FakeTarget(hub)])
    clock.now += 0.5
    injector.apply(Fault(kind="stall", ms=1000), [FakeTarget(hub)])
    publish(hub, TRADE, b"t1")
    hub.flush()
    clock.now += 0.5
    timers[0][1]()  # the first stall's end: the second still holds
    assert sink.writes == [] and subscriber.backlogged
    clock.now += 0.5
    timers[1][1]()
    assert sink.payloads() == [b"t1"]


def test_latency_holds_each_batch_and_releases_them_in_order() -> None:
    hub, clock, timers, injector, subscriber, sink = setup()
    injector.apply(Fault(kind="latency", ms=500, duration_s=10), [FakeTarget(hub)])
    publish(hub, TRADE, b"t1")
    hub.flush()
    publish(hub, TRADE, b"t2")
    hub.flush()
    assert sink.writes == [] and [delay for delay, _ in timers] == [0.5, 0.5]
    assert subscriber.messages_sent == 2  # counted when the hub hands them over, as for any socket
    clock.now += 11
    publish(hub, TRADE, b"t3")  # after the window, yet behind the batches still held
    hub.flush()
    for _, release in timers:
        release()
    assert sink.payloads() == [b"t1", b"t2", b"t3"]
    publish(hub, TRADE, b"t4")
    hub.flush()
    assert sink.payloads()[-1] == b"t4" and len(timers) == 3


def test_a_close_waits_behind_held_batches() -> None:
    hub, _, timers, injector, subscriber, sink = setup()
    injector.apply(Fault(kind="latency", ms=500, duration_s=10), [FakeTarget(hub)])
    publish(hub, TRADE, b"t1")
    hub.flush()
    hub.close(subscriber, 1000, "bye")
    assert sink.closed_with is None
    timers[0][1]()
    assert sink.payloads() == [b"t1"] and sink.closed_with == (1000, "bye")


def test_drop_quotes_drops_only_quotes_and_only_while_in_force() -> None:
    hub, clock, _, injector, _, sink = setup()
    injector.apply(Fault(kind="drop_quotes", fraction=1.0, duration_s=1), [FakeTarget(hub)])
    publish(hub, QUOTE, quote("X", 1))
    publish(hub, TRADE, b"t1")
    hub.flush()
    clock.now += 2
    publish(hub, QUOTE, quote("X", 2))
    hub.flush()
    assert sink.payloads() == [b"t1", quote("X", 2)]


def test_a_fraction_of_quotes_drops_the_same_ones_for_the_same_connection() -> None:
    def dropped_sequences() -> list[int]:
        hub, _, _, injector, _, sink = setup()
        injector.apply(Fault(kind="drop_quotes", fraction=0.5, duration_s=10), [FakeTarget(hub)])
        for n in range(1, 41):
            publish(hub, QUOTE, quote("X", n))
        hub.flush()
        kept = {int(payload.rsplit(b":", 1)[1].rstrip(b"}")) for payload in sink.payloads()}
        return [n for n in range(1, 41) if n not in kept]

    first = dropped_sequences()
    assert 5 < len(first) < 35 and dropped_sequences() == first


def test_one_faulty_sink_per_connection_whatever_the_number_of_faults() -> None:
    hub, _, _, injector, subscriber, sink = setup()
    target = FakeTarget(hub)
    injector.apply(Fault(kind="latency", ms=10, duration_s=1), [target])
    injector.apply(Fault(kind="drop_quotes", fraction=0.5, duration_s=1), [target])
    faulty = subscriber.sink
    assert isinstance(faulty, FaultySink) and faulty.inner is sink
    assert faulty.latency_s == 0.01 and faulty.drop_quote_fraction == 0.5


def test_an_injector_reaches_every_plane_by_connection_ids_that_never_collide() -> None:
    clock, ids = FakeClock(), itertools.count(1)
    hubs = [Hub(max_messages=100, max_bytes=1 << 20, clock=clock, ids=ids) for _ in range(2)]
    sinks = [FakeSink() for _ in range(4)]
    subscribers = [hubs[i % 2].attach(sink, "peer") for i, sink in enumerate(sinks)]
    assert [s.id for s in subscribers] == [1, 2, 3, 4]
    targets = [FakeTarget(hub) for hub in hubs]
    injector = FaultInjector(call_later=lambda _delay, _callback: None, clock=clock)
    assert injector.apply(Fault(kind="close", code=4001, connections=frozenset({2, 3})), targets) == 2
    closed = (4001, "closed by fault injection")
    assert [sink.closed_with for sink in sinks] == [None, closed, closed, None]
    assert hubs[0].subscribers == {subscribers[0]} and hubs[1].subscribers == {subscribers[3]}
    assert injector.apply(Fault(kind="reconnect", within_seconds=3, connections=frozenset({4})), targets) == 1
    assert targets[0].announced == [] and targets[1].announced == [(3, [4])]


def test_refusing_connections_is_a_window_on_the_clock() -> None:
    clock = FakeClock()
    injector = FaultInjector(call_later=lambda _delay, _callback: None, clock=clock)
    assert injector.apply(Fault(kind="refuse_connections", duration_s=5), []) == 0
    assert injector.refusing_connections()
    clock.now += 5
    assert not injector.refusing_connections()
