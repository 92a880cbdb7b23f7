"""The simulator's bus outlet, without NATS: interest per gateway, one batch per gateway and pass, numbering,
size-sealed batches, keep-alives and forgotten gateways; and the tee that puts it beside the hub."""

from __future__ import annotations

from coinapi_emulator.server.bus import publisher
from coinapi_emulator.server.bus.publisher import BusOutlet
from coinapi_emulator.server.bus.wire import Ack, Interest, down_subject, read_frames, read_header
from coinapi_emulator.server.fanout.hub import Hub
from coinapi_emulator.server.plane.tee import TeeOutlet
from coinapi_emulator.server.protocol.datatypes import DataType
from tests.server.fakes import FakeSink

BTC = (DataType.TRADE, "BINANCE_SPOT_BTC_USDT")
ETH = (DataType.TRADE, "BINANCE_SPOT_ETH_USDT")
SYMBOL = (DataType.SYMBOL, "BINANCE_SPOT_BTC_USDT")
#: how long a gateway may be silent before it is forgotten
GATEWAY_TIMEOUT_S = 10.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def outlet(clock: Clock | None = None) -> tuple[BusOutlet, list[tuple[str, bytes]]]:
    sent: list[tuple[str, bytes]] = []
    bus = BusOutlet(
        shard=0,
        owns=lambda key: key != ETH,
        send=lambda subject, message: sent.append((subject, message)),
        gateway_timeout_s=GATEWAY_TIMEOUT_S,
        monotonic_s=clock or Clock(),
        epoch_ns=lambda: 5,
    )
    bus.clock_state = lambda: (42, None, True)
    return bus, sent


def deliver(bus: BusOutlet, key: tuple[DataType, str], frame: bytes) -> None:
    members = bus.routes.get(key)
    if members:
        bus.deliver(members, key, frame, 7)


def test_interest_is_kept_per_gateway_and_noted_per_route() -> None:
    bus, _ = outlet()
    bus.apply(Interest("a", add=frozenset({BTC, ETH, SYMBOL})))
    bus.apply(Interest("b", add=frozenset({BTC})))
    # not this shard's route, and a metadata route (answered by gateways themselves): never routed
    assert bus.take_interest() == {BTC: True}
    bus.apply(Interest("a", remove=frozenset({BTC})))
    assert bus.take_interest() == {}
    bus.apply(Interest("b", full=True))  # b's whole interest is now nothing
    assert bus.take_interest() == {BTC: False}
    assert bus.routes == {}


def test_each_gateway_gets_its_frames_of_a_pass_in_one_numbered_batch() -> None:
    bus, sent = outlet()
    bus.apply(Interest("a", add=frozenset({BTC})))
    bus.apply(Interest("b", add=frozenset({BTC})))
    deliver(bus, BTC, b"one")
    deliver(bus, BTC, b"two")
    bus.flush()
    bus.flush()  # a pass with nothing: nothing sent
    deliver(bus, BTC, b"three")
    bus.flush()
    assert [subject for subject, _ in sent] == [down_subject("a"), down_subject("b")] * 2
    first, later = read_header(sent[0][1]), read_header(sent[2][1])
    assert (first.stream_seq, first.pass_number, first.time_ns, first.sent_ns) == (1, 1, 42, 5)
    assert (first.speed, first.paused) == (0.0, True)  # speed "max" travels as 0
    assert (later.stream_seq, later.pass_number) == (2, 3)
    assert [frame for _, frame, _ in read_frames(sent[0][1], {})] == [b"one", b"two"]


def test_a_big_pass_is_sent_in_several_batches(monkeypatch) -> None:
    monkeypatch.setattr(publisher, "MAX_BATCH_BYTES", 10)
    bus, sent = outlet()
    bus.apply(Interest("a", add=frozenset({BTC})))
    for _ in range(3):
        deliver(bus, BTC, b"123456")
    bus.flush()
    assert [read_header(message).stream_seq for _, message in sent] == [1, 2]
    assert {read_header(message).pass_number for _, message in sent} == {1}  # both belong to the first pass
    assert sum(len(list(read_frames(message, {}))) for _, message in sent) == 3


def test_quiet_streams_get_keep_alives_and_silent_gateways_are_forgotten() -> None:
    clock = Clock()
    bus, sent = outlet(clock)
    bus.apply(Interest("a", add=frozenset({BTC})))
    bus.keep_alive()
    assert len(sent) == 1 and not list(read_frames(sent[0][1], {}))
    bus.keep_alive()  # sent one just now
    assert len(sent) == 1
    clock.now += GATEWAY_TIMEOUT_S + 1
    bus.keep_alive()
    assert bus.streams == {} and bus.routes == {}
    assert bus.take_interest() == {BTC: False}


def test_a_gateway_too_far_behind_holds_the_market_until_it_acknowledges() -> None:
    bus, _ = outlet()
    bus.apply(Interest("a", add=frozenset({BTC})))
    for _ in range(publisher.MAX_UNACKED + 1):
        deliver(bus, BTC, b"x")
        bus.flush()
    assert bus.behind()
    bus.streams["a"].acked = 1
    assert not bus.behind()


def test_a_gateway_that_acknowledges_is_alive_and_is_not_forgotten() -> None:
    clock = Clock()
    bus, _ = outlet(clock)
    bus.apply(Interest("a", add=frozenset({BTC})))
    deliver(bus, BTC, b"x")
    bus.flush()
    clock.now += GATEWAY_TIMEOUT_S - 1
    bus.acknowledge(Ack("a", shard=0, stream_seq=1))
    bus.acknowledge(Ack("a", shard=1, stream_seq=9))  # another shard's: not this stream's number
    clock.now += GATEWAY_TIMEOUT_S - 1
    bus.keep_alive()
    assert bus.streams["a"].acked == 1 and BTC in bus.routes
    bus.acknowledge(Ack("gone", shard=0, stream_seq=1))  # a gateway this shard does not know: nothing to do
    assert list(bus.streams) == ["a"]


def test_the_tee_routes_to_the_hub_and_the_bus_and_merges_their_interest() -> None:
    hub = Hub(max_messages=10, max_bytes=10_000, clock=Clock())
    bus, sent = outlet()
    tee = TeeOutlet(hub, bus)
    assert tee.routes.get(BTC) is None
    bus.apply(Interest("a", add=frozenset({BTC})))
    assert tee.take_interest() == {BTC: True}
    members = tee.routes[BTC]
    assert list(tee.routes) == [BTC] and len(tee.routes) == 1
    tee.deliver(members, BTC, b"frame", 1)
    tee.flush()
    assert len(sent) == 1
    bus.apply(Interest("a", full=True))
    assert tee.take_interest() == {BTC: False}


def test_the_tee_holds_the_market_for_a_full_client_socket_as_for_a_gateway_behind() -> None:
    hub = Hub(max_messages=10, max_bytes=10_000, clock=Clock())
    bus, _ = outlet()
    tee = TeeOutlet(hub, bus)
    subscriber = hub.attach(FakeSink(), "peer")
    assert not tee.behind()
    hub.pause(subscriber)
    assert tee.behind()
    hub.resume(subscriber)
    assert not tee.behind()
