"""The hub's fault paths (stall, latency, dropped quotes), with a fake clock and a fake timer."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

from server_fakes import FakeClock, FakeSink

from server.faults import Fault, FaultInjector
from server.frames import text_frame
from server.hub import Hub, Subscriber, SubscriberFaults
from server.protocol.datatypes import DataType
from server.protocol.routes import RouteKey

TRADE: RouteKey = (DataType.TRADE, "X")
QUOTE: RouteKey = (DataType.QUOTE, "X")


def setup() -> tuple[Hub, FakeClock, list[tuple[float, Callable[[], None]]], Subscriber, FakeSink]:
    clock, timers = FakeClock(), []
    hub = Hub(max_messages=100, max_bytes=1 << 20, clock=clock, call_later=lambda d, cb: timers.append((d, cb)))
    sink = FakeSink()
    subscriber = hub.attach(sink, "peer")
    hub.set_routes(subscriber, frozenset({TRADE, QUOTE}), throttles_ms={}, heartbeat=False)
    return hub, clock, timers, subscriber, sink


def publish(hub: Hub, key: RouteKey, payload: bytes) -> None:
    hub.deliver(hub.routes[key], key, text_frame(payload), 0)


def test_stall_holds_frames_until_it_ends_then_beat_resumes() -> None:
    hub, clock, _, subscriber, sink = setup()
    hub.set_faults(subscriber, SubscriberFaults(stalled_until_s=clock.now + 2))
    publish(hub, TRADE, b"t1")
    hub.flush()
    hub.beat()
    assert sink.writes == [] and subscriber.backlogged
    clock.now += 2
    hub.beat()
    assert sink.payloads()[:1] == [b"t1"]
    assert not subscriber.backlogged and subscriber.faults.stalled_until_s == 0


def test_latency_holds_each_tick_and_releases_in_order() -> None:
    hub, clock, timers, subscriber, sink = setup()
    hub.set_faults(subscriber, SubscriberFaults(latency_s=0.5, latency_until_s=clock.now + 10))
    publish(hub, TRADE, b"t1")
    hub.flush()
    publish(hub, TRADE, b"t2")
    hub.flush()
    assert sink.writes == [] and [delay for delay, _ in timers] == [0.5, 0.5]
    for _, release in timers:
        release()
    assert sink.payloads() == [b"t1", b"t2"] and subscriber.messages_sent == 2
    clock.now += 11
    publish(hub, TRADE, b"t3")
    hub.flush()
    assert sink.payloads()[-1] == b"t3"


def test_drop_quotes_drops_only_quotes_and_only_while_in_force() -> None:
    hub, clock, _, subscriber, sink = setup()
    hub.set_faults(
        subscriber, SubscriberFaults(drop_quote_fraction=1.0, drop_until_s=clock.now + 1, rng=random.Random(1))
    )
    publish(hub, QUOTE, b"q1")
    publish(hub, TRADE, b"t1")
    clock.now += 2
    publish(hub, QUOTE, b"q2")
    hub.flush()
    assert sink.payloads() == [b"t1", b"q2"]


def test_release_after_close_does_nothing() -> None:
    hub, clock, timers, subscriber, sink = setup()
    hub.set_faults(subscriber, SubscriberFaults(latency_s=0.5, latency_until_s=clock.now + 10))
    publish(hub, TRADE, b"t1")
    hub.flush()
    hub.detach(subscriber)
    timers[0][1]()
    assert sink.writes == []


def test_an_injector_reaches_every_hub_by_connection_ids_that_never_collide() -> None:
    clock, ids = FakeClock(), itertools.count(1)
    hubs = [Hub(max_messages=100, max_bytes=1 << 20, clock=clock, ids=ids) for _ in range(2)]
    sinks = [FakeSink() for _ in range(4)]
    subscribers = [hubs[i % 2].attach(sink, "peer") for i, sink in enumerate(sinks)]
    assert [s.id for s in subscribers] == [1, 2, 3, 4]
    announced: list[tuple[Hub, int, list[int]]] = []
    injector = FaultInjector(
        lambda: hubs,
        announce_reconnect=lambda hub, within_s, targets: announced.append((hub, within_s, [s.id for s in targets])),
        call_later=lambda _delay, _callback: None,
        clock=clock,
    )
    assert injector.apply(Fault(kind="close", code=4001, connections=frozenset({2, 3}))) == 2
    closed = (4001, "closed by fault injection")
    assert [sink.closed_with for sink in sinks] == [None, closed, closed, None]
    assert hubs[0].subscribers == {subscribers[0]} and hubs[1].subscribers == {subscribers[3]}
    assert injector.apply(Fault(kind="reconnect", within_seconds=3, connections=frozenset({4}))) == 1
    assert announced == [(hubs[1], 3, [4])]
