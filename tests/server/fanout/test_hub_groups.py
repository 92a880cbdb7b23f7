"""Subscription groups in the hub: members of one route set share one outbox per tick, yet each subscriber gets
the frames, in the order, and under the slow-client policy it got when every subscriber had its own outbox."""

from __future__ import annotations

from dataclasses import dataclass, field

from coinapi_emulator.server.control.faults import Fault, FaultInjector
from coinapi_emulator.server.fanout.hub import Group, Hub, Subscriber
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.routes import RouteKey
from coinapi_emulator.server.transport.frames import text_frame
from tests.server.fakes import FakeClock, FakeSink, FakeTarget

TRADE: RouteKey = (DataType.TRADE, "BINANCE_SPOT_BTC_USDT")
QUOTE: RouteKey = (DataType.QUOTE, "BINANCE_SPOT_BTC_USDT")
OTHER_TRADE: RouteKey = (DataType.TRADE, "KRAKEN_SPOT_BTC_USD")
FLEET = frozenset({TRADE, QUOTE})
MS = 1_000_000


@dataclass
class ListKeepingSink(FakeSink):
    """Also keeps the list objects it was handed, to see whether members share one."""

    lists: list[list[bytes]] = field(default_factory=list)

    def send_frames(self, frames: list[bytes]) -> None:
        self.lists.append(frames)
        super().send_frames(frames)


def make_hub(max_messages: int = 100) -> tuple[Hub, FakeClock]:
    clock = FakeClock()
    return Hub(max_messages=max_messages, max_bytes=1 << 20, clock=clock), clock


def interest(hub: Hub) -> list[str]:
    """The hub's interest notes since the last call, as sorted ``+type`` / ``-type``."""
    return sorted(f"{'+' if wanted else '-'}{key[0].value}" for key, wanted in hub.take_interest().items())


def join(
    hub: Hub,
    routes: frozenset[RouteKey] = FLEET,
    *,
    throttles_ms: dict[DataType, int] | None = None,
    initial: tuple[bytes, ...] = (),
) -> tuple[Subscriber, ListKeepingSink]:
    sink = ListKeepingSink()
    subscriber = hub.attach(sink, "peer")
    hub.set_routes(
        subscriber,
        routes,
        throttles_ms=throttles_ms or {},
        heartbeat=False,
        initial_frames=[text_frame(payload) for payload in initial],
    )
    return subscriber, sink


def publish(hub: Hub, key: RouteKey, payload: bytes, time_ns: int = 0) -> None:
    groups = hub.routes.get(key)
    if groups:
        hub.deliver(groups, key, text_frame(payload), time_ns)


def group_of(hub: Hub, key: RouteKey, subscriber: Subscriber) -> Group | None:
    """The group through which ``key`` reaches ``subscriber``, if it does."""
    for group in hub.routes.get(key, {}):
        if subscriber in group.shared or subscriber in group.single:
            return group
    return None


def test_members_of_one_route_set_get_one_shared_list_per_tick() -> None:
    hub, clock = make_hub()
    members = [join(hub) for _ in range(3)]
    # an equal route set that is another object (an evicted, re-resolved scope) joins the same group
    members.append(join(hub, frozenset(set(FLEET))))
    assert len(hub.routes[TRADE]) == len(hub.routes[QUOTE]) == 1
    clock.now += 5
    for payload in (b"t1", b"q1", b"t2"):
        publish(hub, TRADE if payload[0:1] == b"t" else QUOTE, payload)
    hub.flush()
    first = members[0][1].lists[0]
    for subscriber, sink in members:
        assert sink.payloads() == [b"t1", b"q1", b"t2"]
        assert sink.lists[0] is first
        assert subscriber.shared and subscriber.messages_sent == 3 and subscriber.last_sent_s == clock.now
    assert hub.stats.messages_sent == 12
    assert hub.stats.bytes_sent == 4 * sum(len(text_frame(p)) for p in (b"t1", b"q1", b"t2"))


def test_a_frame_sent_to_one_member_mid_tick_keeps_its_place() -> None:
    hub, _ = make_hub()
    a, sink_a = join(hub)
    _, sink_b = join(hub)
    publish(hub, TRADE, b"t1")
    hub.send(a, b"notice")
    publish(hub, TRADE, b"t2")
    hub.flush()
    assert sink_a.writes == [[text_frame(b"t1"), text_frame(b"notice"), text_frame(b"t2")]]
    assert sink_b.payloads() == [b"t1", b"t2"]
    assert a.shared
    publish(hub, QUOTE, b"q1")
    hub.flush()
    assert sink_a.writes[-1] == sink_b.writes[-1] == [text_frame(b"q1")]


def test_joining_mid_tick_gets_initial_frames_first_and_nothing_routed_before_it_joined() -> None:
    hub, _ = make_hub()
    _, sink_a = join(hub)
    publish(hub, TRADE, b"t1")
    c, sink_c = join(hub, initial=(b"snapshot",))
    d, sink_d = join(hub)
    publish(hub, TRADE, b"t2")
    hub.flush()
    assert sink_a.payloads() == [b"t1", b"t2"]
    assert sink_c.payloads() == [b"snapshot", b"t2"]
    assert sink_d.payloads() == [b"t2"]
    publish(hub, TRADE, b"t3")
    hub.flush()
    assert c.shared and d.shared
    assert sink_a.writes[-1] == sink_c.writes[-1] == sink_d.writes[-1] == [text_frame(b"t3")]


def test_a_paused_member_leaves_is_conflated_while_the_others_go_on_then_rejoins() -> None:
    hub, _ = make_hub()
    a, sink_a = join(hub)
    b, sink_b = join(hub)
    sink_b.is_writable = False
    publish(hub, QUOTE, b"q1")
    publish(hub, TRADE, b"t1")
    hub.flush()
    assert b.backlogged and not b.shared and a.shared
    for payload in (b"q2", b"t2", b"q3"):
        publish(hub, TRADE if payload[0:1] == b"t" else QUOTE, payload)
    hub.flush()
    assert sink_a.payloads() == [b"q1", b"t1", b"q2", b"t2", b"q3"]
    assert sink_b.writes == [] and hub.stats.conflated == 1
    sink_b.is_writable = True
    hub.resume(b)
    assert sink_b.writes == [[text_frame(p) for p in (b"q1", b"t1", b"q3", b"t2")]]
    assert b.shared and not b.backlogged and b.messages_sent == 4
    publish(hub, TRADE, b"t3")
    hub.flush()
    assert sink_a.lists[-1] is sink_b.lists[-1]


def test_a_member_that_overflows_is_closed_with_the_error_and_the_group_goes_on() -> None:
    hub, _ = make_hub(max_messages=2)
    slow, slow_sink = join(hub)
    fast, fast_sink = join(hub)
    slow_sink.is_writable = False
    for i in range(4):
        publish(hub, TRADE, b"t%d" % i)
        hub.flush()
    assert slow.closed and hub.stats.slow_consumer_closes == 1
    assert slow_sink.closed_with is not None and slow_sink.closed_with[0] == 1013
    assert [p[:15] for p in slow_sink.payloads()] == [b'{"type":"error"']
    assert fast_sink.payloads() == [b"t0", b"t1", b"t2", b"t3"]
    group = group_of(hub, TRADE, fast)
    assert group is not None and slow not in group.shared and slow not in group.single


def test_members_with_the_same_throttles_share_frames_and_others_get_their_own_group() -> None:
    hub, _ = make_hub()
    a, sink_a = join(hub)
    b, sink_b = join(hub, throttles_ms={DataType.QUOTE: 100})
    c, sink_c = join(hub, throttles_ms={DataType.QUOTE: 100})
    for t_ms, payload in [(0, b"q0"), (50, b"q50"), (100, b"q100")]:
        publish(hub, QUOTE, payload, t_ms * MS)
    hub.flush()
    assert sink_a.payloads() == [b"q0", b"q50", b"q100"]
    assert sink_b.payloads() == sink_c.payloads() == [b"q0", b"q100"]
    assert b.shared and c.shared and sink_b.lists[-1] is sink_c.lists[-1]
    assert group_of(hub, QUOTE, b) is group_of(hub, QUOTE, c) is not group_of(hub, QUOTE, a)
    hub.set_routes(b, FLEET, throttles_ms={DataType.QUOTE: 0}, heartbeat=False)
    assert b.shared and group_of(hub, QUOTE, b) is group_of(hub, QUOTE, a)
    publish(hub, QUOTE, b"q120", 120 * MS)
    hub.flush()
    assert sink_a.lists[-1] is sink_b.lists[-1]
    assert sink_c.payloads()[-1] == b"q100"


def test_a_late_member_of_a_throttled_group_keeps_its_rhythm() -> None:
    hub, _ = make_hub()
    _, sink_a = join(hub, throttles_ms={DataType.QUOTE: 100})
    publish(hub, QUOTE, b"q0", 0)
    hub.flush()
    _, sink_b = join(hub, throttles_ms={DataType.QUOTE: 100})
    for t_ms, payload in [(40, b"q40"), (100, b"q100"), (150, b"q150")]:
        publish(hub, QUOTE, payload, t_ms * MS)
    hub.flush()
    assert sink_a.payloads() == [b"q0", b"q100"]
    assert sink_b.payloads() == [b"q100"]


def test_a_new_hello_that_keeps_a_throttled_route_lets_no_extra_frame_through() -> None:
    hub, _ = make_hub()
    a, sink_a = join(hub, frozenset({QUOTE}), throttles_ms={DataType.QUOTE: 100})
    publish(hub, QUOTE, b"q0", 0)
    hub.set_routes(a, FLEET, throttles_ms={DataType.QUOTE: 100}, heartbeat=False)  # a new group, same throttle
    publish(hub, QUOTE, b"q50", 50 * MS)
    publish(hub, QUOTE, b"q100", 100 * MS)
    hub.flush()
    assert sink_a.payloads() == [b"q0", b"q100"]


def test_a_backlogged_member_of_a_throttled_group_gets_the_group_s_throttled_frames() -> None:
    hub, _ = make_hub()
    _, sink_a = join(hub, throttles_ms={DataType.QUOTE: 100})
    b, sink_b = join(hub, throttles_ms={DataType.QUOTE: 100})
    sink_b.is_writable = False
    for t_ms, payload in [(0, b"q0"), (50, b"q50"), (100, b"q100")]:
        publish(hub, QUOTE, payload, t_ms * MS)
        publish(hub, TRADE, b"t%d" % t_ms, t_ms * MS)
        hub.flush()
    assert b.backlogged and not b.shared
    sink_b.is_writable = True
    hub.resume(b)
    assert sink_a.payloads() == [b"q0", b"t0", b"t50", b"q100", b"t100"]
    assert sink_b.payloads() == [b"q0", b"t0", b"t50", b"q100", b"t100"]
    assert b.shared


def test_injected_faults_act_in_the_members_sink() -> None:
    hub, clock = make_hub()
    _, sink_a = join(hub)
    b, sink_b = join(hub)
    c, sink_c = join(hub)
    injector = FaultInjector(call_later=lambda _d, _c: None, clock=clock)
    injector.apply(Fault(kind="drop_quotes", connections=frozenset({b.id}), fraction=1.0), [FakeTarget(hub)])
    injector.apply(Fault(kind="stall", connections=frozenset({c.id}), ms=1000), [FakeTarget(hub)])
    quote = b'{"type":"quote","symbol_id":"BINANCE_SPOT_BTC_USDT","sequence":1}'
    publish(hub, QUOTE, quote)
    publish(hub, TRADE, b"t1")
    hub.flush()
    assert sink_a.payloads() == [quote, b"t1"]
    # dropping quotes happens on the way out: the member keeps its group's shared path
    assert sink_b.payloads() == [b"t1"] and b.shared
    # a stalled member is one whose socket is not writable: off the shared path, backlogged
    assert sink_c.writes == [] and c.backlogged and not c.shared


def test_set_routes_moves_a_member_between_groups_and_keeps_what_it_was_queued() -> None:
    hub, _ = make_hub()
    a, sink_a = join(hub)
    b, sink_b = join(hub)
    publish(hub, QUOTE, b"q1")
    hub.take_interest()
    hub.set_routes(b, frozenset({TRADE, OTHER_TRADE}), throttles_ms={}, heartbeat=False)
    # TRADE, in both groups, is neither removed nor added again; OTHER_TRADE is new
    assert interest(hub) == ["+trade"]
    assert group_of(hub, TRADE, a) is not group_of(hub, TRADE, b)
    publish(hub, TRADE, b"t1")
    publish(hub, QUOTE, b"q2")
    publish(hub, OTHER_TRADE, b"o1")
    hub.flush()
    assert sink_a.payloads() == [b"q1", b"t1", b"q2"]
    assert sink_b.payloads() == [b"q1", b"t1", b"o1"]
    # back to the first route set, as an equal but distinct frozenset: the second group goes, with its route
    hub.set_routes(b, frozenset(set(FLEET)), throttles_ms={}, heartbeat=False)
    assert interest(hub) == ["-trade"]
    assert OTHER_TRADE not in hub.routes and len(hub.routes[TRADE]) == 1
    assert group_of(hub, TRADE, b) is group_of(hub, TRADE, a) and b.shared
    publish(hub, QUOTE, b"q3")
    hub.flush()
    assert sink_a.lists[-1] is sink_b.lists[-1]


def test_a_lone_member_that_changes_routes_keeps_the_streams_both_sets_have() -> None:
    hub, _ = make_hub()
    subscriber, _ = join(hub)
    hub.take_interest()
    hub.set_routes(subscriber, frozenset({TRADE, OTHER_TRADE}), throttles_ms={}, heartbeat=False)
    assert interest(hub) == ["+trade", "-quote"]
    assert QUOTE not in hub.routes and len(hub.routes[TRADE]) == 1


def test_detach_and_close_mid_tick() -> None:
    hub, _ = make_hub()
    a, sink_a = join(hub)
    b, sink_b = join(hub)
    c, sink_c = join(hub)
    publish(hub, TRADE, b"t1")
    hub.detach(b)
    hub.close(c, 1000, "bye", [b"bye"])
    assert sink_c.payloads() == [b"t1", b"bye"] and sink_c.closed_with == (1000, "bye")
    publish(hub, TRADE, b"t2")
    hub.flush()
    assert sink_a.payloads() == [b"t1", b"t2"]
    assert sink_b.writes == [] and sink_c.payloads() == [b"t1", b"bye"]
    group = group_of(hub, TRADE, a)
    assert group is not None and list(group.shared) == [a] and not group.single
    hub.take_interest()
    hub.detach(a)
    assert hub.routes == {} and interest(hub) == ["-quote", "-trade"]
