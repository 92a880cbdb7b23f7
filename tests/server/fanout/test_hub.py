from __future__ import annotations

import orjson

from coinapi_emulator.server.fanout.budget import OutboxBudget
from coinapi_emulator.server.fanout.hub import STALLED_READER_S, Hub, Subscriber
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.errors import SlowConsumer
from coinapi_emulator.server.protocol.routes import RouteKey
from coinapi_emulator.server.transport.frames import text_frame
from tests.server.fakes import FakeClock, FakeSink

TRADE: RouteKey = (DataType.TRADE, "BINANCE_SPOT_BTC_USDT")
QUOTE: RouteKey = (DataType.QUOTE, "BINANCE_SPOT_BTC_USDT")
OTHER_QUOTE: RouteKey = (DataType.QUOTE, "KRAKEN_SPOT_BTC_USD")


def make_hub(max_messages: int = 100, max_bytes: int = 1 << 20) -> tuple[Hub, FakeClock]:
    clock = FakeClock()
    return Hub(max_messages=max_messages, max_bytes=max_bytes, clock=clock), clock


def subscribe(
    hub: Hub, *keys: RouteKey, throttles_ms: dict[DataType, int] | None = None
) -> tuple[Subscriber, FakeSink]:
    sink = FakeSink()
    subscriber = hub.attach(sink, "peer")
    hub.set_routes(subscriber, frozenset(keys), throttles_ms=throttles_ms or {}, heartbeat=False)
    return subscriber, sink


def publish(hub: Hub, key: RouteKey, payload: bytes, time_ns: int = 0) -> None:
    members = hub.routes.get(key)
    if members:
        hub.deliver(members, key, text_frame(payload), time_ns)


def test_frames_of_a_tick_leave_in_one_write_per_subscriber() -> None:
    hub, _ = make_hub()
    _, sink_a = subscribe(hub, TRADE)
    _, sink_b = subscribe(hub, TRADE, QUOTE)
    publish(hub, TRADE, b"t1")
    publish(hub, QUOTE, b"q1")
    publish(hub, TRADE, b"t2")
    hub.flush()
    assert sink_a.writes == [[text_frame(b"t1"), text_frame(b"t2")]]
    assert sink_b.writes == [[text_frame(b"t1"), text_frame(b"q1"), text_frame(b"t2")]]
    assert hub.stats.messages_sent == 5


def test_the_same_frame_object_is_shared_by_all_subscribers() -> None:
    hub, _ = make_hub()
    _, sink_a = subscribe(hub, TRADE)
    _, sink_b = subscribe(hub, TRADE)
    frame = text_frame(b"shared")
    hub.deliver(hub.routes[TRADE], TRADE, frame, 0)
    hub.flush()
    assert sink_a.writes[0][0] is sink_b.writes[0][0] is frame


def test_routes_are_replaced_and_interest_is_noted_once_per_route() -> None:
    hub, _ = make_hub()
    subscriber, _ = subscribe(hub, TRADE)
    other, _ = subscribe(hub, TRADE)
    assert hub.take_interest() == {TRADE: True}
    hub.set_routes(subscriber, frozenset({QUOTE}), throttles_ms={}, heartbeat=False)
    assert set(hub.routes) == {TRADE, QUOTE} and hub.take_interest() == {QUOTE: True}
    hub.detach(other)
    assert set(hub.routes) == {QUOTE} and hub.take_interest() == {TRADE: False}
    assert hub.take_interest() == {}


def test_a_route_wanted_and_dropped_between_two_takes_is_noted_as_it_ends() -> None:
    hub, _ = make_hub()
    subscriber, _ = subscribe(hub, TRADE)
    hub.detach(subscriber)
    assert hub.take_interest() == {TRADE: False}
    again, _ = subscribe(hub, QUOTE)
    hub.set_routes(again, frozenset({TRADE}), throttles_ms={}, heartbeat=False)
    hub.set_routes(again, frozenset({QUOTE}), throttles_ms={}, heartbeat=False)
    assert hub.take_interest() == {QUOTE: True, TRADE: False}


def test_detach_is_idempotent_and_stops_delivery() -> None:
    hub, _ = make_hub()
    subscriber, sink = subscribe(hub, TRADE)
    hub.detach(subscriber)
    hub.detach(subscriber)
    publish(hub, TRADE, b"t")
    hub.flush()
    assert sink.writes == [] and TRADE not in hub.routes


def test_initial_frames_precede_routed_frames() -> None:
    hub, _ = make_hub()
    sink = FakeSink()
    subscriber = hub.attach(sink, "peer")
    hub.set_routes(
        subscriber, frozenset({TRADE}), throttles_ms={}, heartbeat=False, initial_frames=[text_frame(b"snapshot")]
    )
    publish(hub, TRADE, b"t1")
    hub.flush()
    assert sink.payloads() == [b"snapshot", b"t1"]


def test_throttle_keeps_at_most_one_frame_per_interval_per_route() -> None:
    hub, _ = make_hub()
    _, sink = subscribe(hub, QUOTE, OTHER_QUOTE, throttles_ms={DataType.QUOTE: 100, DataType.TRADE: 0})
    ms = 1_000_000
    for t_ms, key, payload in [(0, QUOTE, b"a"), (50, QUOTE, b"b"), (60, OTHER_QUOTE, b"c"), (100, QUOTE, b"d")]:
        publish(hub, key, payload, t_ms * ms)
    hub.flush()
    assert sink.payloads() == [b"a", b"c", b"d"]


def test_backlogged_subscriber_gets_conflated_quotes_but_every_trade() -> None:
    hub, _ = make_hub()
    subscriber, sink = subscribe(hub, TRADE, QUOTE)
    sink.is_writable = False
    publish(hub, QUOTE, b"q0")
    hub.flush()
    assert subscriber.backlogged
    publish(hub, QUOTE, b"q1")
    publish(hub, TRADE, b"t1")
    publish(hub, QUOTE, b"q2")
    publish(hub, TRADE, b"t2")
    hub.flush()
    assert sink.writes == []
    sink.is_writable = True
    hub.resume(subscriber)
    assert sink.payloads() == [b"q0", b"q2", b"t1", b"t2"]
    assert hub.stats.conflated == 1
    assert not subscriber.backlogged


def test_resume_after_backlog_restarts_normal_ticks() -> None:
    hub, _ = make_hub()
    subscriber, sink = subscribe(hub, TRADE)
    sink.is_writable = False
    publish(hub, TRADE, b"t1")
    hub.flush()
    sink.is_writable = True
    hub.resume(subscriber)
    hub.resume(subscriber)
    publish(hub, TRADE, b"t2")
    hub.flush()
    assert sink.writes == [[text_frame(b"t1")], [text_frame(b"t2")]]


def test_slow_consumer_gets_the_real_error_and_close_1013_and_others_continue() -> None:
    hub, _ = make_hub(max_messages=3)
    slow, slow_sink = subscribe(hub, TRADE)
    _, fast_sink = subscribe(hub, TRADE)
    slow_sink.is_writable = False
    for i in range(5):
        publish(hub, TRADE, b"t%d" % i)
        hub.flush()
    assert slow.closed and hub.stats.slow_consumer_closes == 1
    error = SlowConsumer(4, 0)
    assert slow_sink.closed_with == (1013, error.message)
    assert [orjson.loads(p) for p in slow_sink.payloads()] == [
        {"type": "error", "message": "Reached maximum allowed buffered messages for this connection."}
    ]
    assert len(fast_sink.payloads()) == 5
    assert TRADE in hub.routes and all(slow not in g.shared and slow not in g.single for g in hub.routes[TRADE])


def test_byte_limit_also_closes() -> None:
    hub, _ = make_hub(max_bytes=10)
    slow, sink = subscribe(hub, TRADE)
    sink.is_writable = False
    publish(hub, TRADE, b"x" * 20)
    hub.flush()
    assert slow.closed and sink.closed_with is not None and sink.closed_with[0] == 1013


def test_heartbeat_after_one_idle_second_only_for_those_who_asked() -> None:
    hub, clock = make_hub()
    sink, quiet_sink = FakeSink(), FakeSink()
    subscriber = hub.attach(sink, "a")
    hub.set_routes(subscriber, frozenset(), throttles_ms={}, heartbeat=True)
    hub.attach(quiet_sink, "b")
    clock.now += 0.5
    hub.beat()
    assert sink.writes == []
    clock.now += 0.6
    hub.beat()
    hub.beat()
    assert sink.payloads() == [b'{"type":"hearbeat"}']
    assert quiet_sink.writes == [] and hub.stats.heartbeats == 1


def test_close_sends_final_frames_then_closes() -> None:
    hub, _ = make_hub()
    subscriber, sink = subscribe(hub, TRADE)
    publish(hub, TRADE, b"t1")
    hub.close(subscriber, 1008, "Invalid API key", [b"err"])
    hub.close(subscriber, 1000, "again", [b"ignored"])
    hub.flush()
    assert sink.payloads() == [b"t1", b"err"]
    assert sink.closed_with == (1008, "Invalid API key")


def test_set_routes_on_a_closed_subscriber_is_ignored() -> None:
    hub, _ = make_hub()
    subscriber, _ = subscribe(hub)
    hub.detach(subscriber)
    hub.set_routes(subscriber, frozenset({TRADE}), throttles_ms={}, heartbeat=False)
    assert TRADE not in hub.routes


def test_over_the_budget_of_all_clients_the_largest_backlogs_are_closed_first() -> None:
    budget = OutboxBudget(max_bytes=300)
    hub = Hub(max_messages=1000, max_bytes=1 << 20, clock=FakeClock(), budget=budget)
    other = Hub(max_messages=1000, max_bytes=1 << 20, clock=FakeClock(), budget=budget)
    small, small_sink = subscribe(hub, TRADE)
    large, large_sink = subscribe(hub, TRADE, QUOTE)
    elsewhere, elsewhere_sink = subscribe(other, TRADE)
    _, fast_sink = subscribe(hub, TRADE)
    for sink in (small_sink, large_sink, elsewhere_sink):
        sink.is_writable = False
    publish(other, TRADE, b"o" * 100)
    other.flush()
    assert budget.held_bytes > 100 and not elsewhere.closed
    publish(hub, TRADE, b"t" * 60)
    publish(hub, QUOTE, b"q" * 60)
    hub.flush()
    assert budget.held_bytes == 102 + 62 + 124 and not small.closed and not large.closed
    publish(hub, TRADE, b"t" * 60)
    hub.flush()
    # over by a few bytes: the largest backlog of this hub goes, with the slow-consumer error
    assert large.closed and not small.closed and not elsewhere.closed
    assert large_sink.closed_with == (1013, SlowConsumer(0, 0).message)
    assert hub.stats.budget_closes == hub.stats.slow_consumer_closes == 1
    assert budget.held_bytes == 102 + 124 and len(fast_sink.payloads()) == 2


def test_a_drained_backlog_and_a_stopped_hub_hold_nothing() -> None:
    budget = OutboxBudget(max_bytes=1 << 20)
    hub = Hub(max_messages=1000, max_bytes=1 << 20, clock=FakeClock(), budget=budget)
    slow, sink = subscribe(hub, TRADE)
    sink.is_writable = False
    publish(hub, TRADE, b"t" * 100)
    hub.flush()
    assert budget.held_bytes > 100
    sink.is_writable = True
    hub.resume(slow)
    hub.flush()
    assert budget.held_bytes == 0
    sink.is_writable = False
    publish(hub, TRADE, b"t" * 100)
    hub.flush()
    hub.release_budget()
    assert budget.held_bytes == 0


def test_a_paused_socket_holds_the_market_until_it_resumes() -> None:
    hub, clock = make_hub()
    subscriber, _ = subscribe(hub, TRADE)
    other, _ = subscribe(hub, TRADE)
    assert not hub.behind()
    hub.pause(subscriber)
    hub.pause(other)
    clock.now += STALLED_READER_S / 2
    assert hub.behind()
    hub.resume(subscriber)
    assert hub.behind()  # the other is still full
    hub.detach(other)
    assert not hub.behind() and hub.stats.waits_given_up == 0


def test_a_slow_reader_is_waited_for_as_long_as_it_reads() -> None:
    hub, clock = make_hub()
    slow, sink = subscribe(hub, TRADE)
    sink.unread = 1_000_000
    hub.pause(slow)
    for _ in range(5):
        clock.now += STALLED_READER_S * 0.9
        sink.unread -= 100_000  # it takes a little from its socket in each interval
        assert hub.behind()
    assert hub.stats.waits_given_up == 0
    hub.resume(slow)
    assert not hub.behind()


def test_a_stalled_reader_is_no_longer_waited_for_but_one_that_paused_later_is() -> None:
    hub, clock = make_hub()
    stalled, stalled_sink = subscribe(hub, TRADE)
    slow, _ = subscribe(hub, TRADE)
    stalled_sink.unread = 70_000
    hub.pause(stalled)
    clock.now += STALLED_READER_S * 0.75
    hub.pause(slow)
    clock.now += STALLED_READER_S * 0.5
    assert hub.behind()  # the stalled one read nothing for a whole interval; the other paused 0.5 interval ago
    assert hub.stats.waits_given_up == 1
    clock.now += STALLED_READER_S
    assert not hub.behind() and hub.stats.waits_given_up == 2
    # given up, a stalled reader is a slow client like any other: its trades queue, nothing is lost
    stalled_sink.is_writable = False
    publish(hub, TRADE, b"t1")
    hub.flush()
    assert stalled.backlogged and stalled.frames == [text_frame(b"t1")]


def test_a_pause_of_a_closed_subscriber_holds_nothing() -> None:
    hub, _ = make_hub()
    subscriber, _ = subscribe(hub, TRADE)
    hub.detach(subscriber)
    hub.pause(subscriber)
    assert not hub.behind()


def test_flush_sent_writes_answers_but_leaves_the_routed_frames_for_the_pass() -> None:
    hub, _ = make_hub()
    asking, asking_sink = subscribe(hub, TRADE)
    full, full_sink = subscribe(hub, TRADE)
    full_sink.is_writable = False  # a gateway holds the pass's flush for it (``behind``)
    publish(hub, TRADE, b"t1")
    hub.send(asking, b"answer")
    hub.flush_sent()
    # the one that asked gets the pass's frames so far, then its answer; the full socket is not touched
    assert asking_sink.payloads() == [b"t1", b"answer"]
    assert full_sink.writes == [] and not full.backlogged
    hub.send(full, b"notice")  # a message for the full socket itself waits in its backlog
    hub.flush_sent()
    assert full_sink.writes == [] and full.backlogged and full.frames == [text_frame(b"t1"), text_frame(b"notice")]
    hub.resume(full)
    assert full.backlogged, "its socket is still full"
    full_sink.is_writable = True
    hub.resume(full)
    publish(hub, TRADE, b"t2")
    hub.flush()
    assert full_sink.payloads() == [b"t1", b"notice", b"t2"]
    assert asking_sink.payloads() == [b"t1", b"answer", b"t2"]
