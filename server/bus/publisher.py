"""The simulator's side of the bus: ``simulate`` publishes its shared market to the gateways that want it.

``BusOutlet`` is a feed outlet (``plane/tee.py`` puts it beside the plane's own hub): a route's members are the
``GatewayStream`` of each gateway that wants it, and each stream collects its frames of a pass in one batch, sent
when the pass ends. The feed encodes a route only while some gateway (or a local client) wants it, as in one
process. ``Publisher`` connects it to NATS: it answers the gateways' messages (interest, snapshot requests, the
market's description), sends a keep-alive to quiet streams, and forgets gateways that went silent.

Slow bus: the batches of a pass wait in one bounded queue for the NATS client; past ``MAX_QUEUED`` a batch is
dropped, which its gateway sees as a gap in its stream (and tells its clients to reconnect). Nothing blocks the
market.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from nats.aio.client import Client
from nats.aio.msg import Msg

from coinapi_emulator.server.bus.connection import connect, disconnect
from coinapi_emulator.server.bus.rest import RestResponder
from coinapi_emulator.server.bus.wire import (
    MAX_MESSAGE_BYTES,
    SYNC,
    UP,
    Ack,
    BatchBuilder,
    BatchHeader,
    Control,
    Interest,
    MarketDescription,
    MarketRequest,
    RestRequest,
    ScenarioAnswer,
    ScenarioLoad,
    SnapshotRequest,
    decode_up,
    down_subject,
)
from coinapi_emulator.server.control.scenario import Scenario, ScenarioError
from coinapi_emulator.server.plane.plane import MarketPlane
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.routes import RouteKey

logger = logging.getLogger(__name__)


class ScenarioLoader(Protocol):
    """Schedules this shard's part of a scenario a gateway loaded (``Emulator.load_scenario_part``)."""

    def __call__(self, text: str, *, source: str, start_ns: int) -> Scenario: ...


#: a batch is sent once its frames pass this size, before the pass ends
MAX_BATCH_BYTES = MAX_MESSAGE_BYTES
#: batches waiting for the NATS client; past it the newest are dropped (their gateways see the gap)
MAX_QUEUED = 4096
#: a stream with nothing to send gets an empty batch this often: the gateway's sign that the market is alive
KEEPALIVE_S = 0.5
#: at ``--speed max`` the market waits while a gateway has not acknowledged this many batches: without it, a
#: simulator outruns its gateways until NATS cuts them off as slow consumers (measured: every bench run at
#: --speed max lost batches, and its clients were told to reconnect). With 32, a gateway took in bursts its
#: clients could not read, and its hub closed 24-50% of 1,000 clients as slow (1013); with 4 (at most ~2 MB in
#: flight), 1 in 1,000, at 3.8M msgs/s against 3.2M. At a set speed the market never waits: a gateway that cannot
#: keep up loses batches and tells its clients.
MAX_UNACKED = 4

_STREAMED = frozenset(data_type for data_type in DataType if not data_type.is_metadata)


@dataclass(eq=False, slots=True)
class GatewayStream:
    """One gateway's stream from this simulator: its routes, its batch of this pass and its numbering."""

    gateway: str
    subject: str
    routes: set[RouteKey] = field(default_factory=set)
    batch: BatchBuilder = field(default_factory=BatchBuilder)
    #: batches sent so far (the last one's ``stream_seq``), and the last the gateway said it delivered
    sent: int = 0
    acked: int = 0
    last_sent_s: float = 0.0
    last_heard_s: float = 0.0


class BusOutlet:
    """Routes the market's frames into per-gateway batches and sends them once per pass (``FlushingOutlet``)."""

    def __init__(
        self,
        *,
        shard: int,
        owns: Callable[[RouteKey], bool],
        send: Callable[[str, bytes], None],
        gateway_timeout_s: float,
        monotonic_s: Callable[[], float] = time.monotonic,
        epoch_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        """``owns``: whether this shard publishes a route; ``send``: queues one NATS message; a gateway silent for
        ``gateway_timeout_s`` is forgotten with its interest (``simulate --gateway-timeout``; gateways re-send their
        interest every 2 s and acknowledge what they receive)."""
        #: route -> the streams of the gateways that want it
        self.routes: dict[RouteKey, dict[GatewayStream, None]] = {}
        self.streams: dict[str, GatewayStream] = {}
        #: a random id per process: a gateway that sees another one knows the market restarted
        self.instance = random.getrandbits(63)
        self.shard = shard
        self.pass_number = 0
        #: the market's virtual time, clock speed (None: max) and pause, stamped on each batch (``Publisher.bind``)
        self.clock_state: Callable[[], tuple[int, float | None, bool]] = lambda: (0, 1.0, False)
        self.owns = owns
        self._send = send
        self._monotonic_s = monotonic_s
        self._epoch_ns = epoch_ns
        self._gateway_timeout_s = gateway_timeout_s
        self._interest: dict[RouteKey, bool] = {}
        self._dirty: dict[GatewayStream, None] = {}

    # -- the feed's side (hot path) -------------------------------------------------------------------------------

    def deliver(self, members: dict[GatewayStream, None], key: RouteKey, frame: bytes, time_ns: int) -> None:
        """Add one frame to the batch of each gateway that wants ``key``."""
        for stream in members:
            batch = stream.batch
            batch.add(key, frame, time_ns)
            if batch.count == 1:
                self._dirty[stream] = None
            elif batch.size > MAX_BATCH_BYTES:
                self._seal(stream, self.pass_number + 1)

    def behind(self) -> bool:
        """Whether a gateway has more than ``MAX_UNACKED`` batches unacknowledged (``Ack``)."""
        return any(stream.sent - stream.acked > MAX_UNACKED for stream in self.streams.values())

    def take_interest(self) -> dict[RouteKey, bool]:
        """Routes that gained their first or lost their last gateway since the last call."""
        interest, self._interest = self._interest, {}
        return interest

    def flush(self) -> None:
        """End a pass: send each gateway's batch (the keep-alives go on a timer, ``keep_alive``)."""
        ending = self.pass_number + 1
        dirty, self._dirty = self._dirty, {}
        for stream in dirty:
            if stream.batch.count:
                self._seal(stream, ending)
        self.pass_number = ending

    def _seal(self, stream: GatewayStream, pass_number: int) -> None:
        """Send ``stream``'s batch as part of pass ``pass_number`` (a pass under way, for a batch sealed by size)."""
        stream.sent += 1
        stream.last_sent_s = self._monotonic_s()
        self._send(stream.subject, stream.batch.build(self.header(stream.sent, pass_number)))

    def header(self, stream_seq: int, pass_number: int) -> BatchHeader:
        """A header numbered ``stream_seq`` in a gateway's stream and ``pass_number``, with the market's clock
        now."""
        time_ns, speed, paused = self.clock_state()
        return BatchHeader(
            self.instance,
            self.shard,
            stream_seq,
            pass_number,
            time_ns,
            sent_ns=self._epoch_ns(),
            speed=0.0 if speed is None else speed,
            paused=paused,
        )

    # -- the gateways' side ---------------------------------------------------------------------------------------

    def stream_of(self, gateway: str) -> GatewayStream:
        """The gateway's stream, opened on its first message; it counts as heard from now."""
        stream = self.streams.get(gateway)
        if stream is None:
            stream = self.streams[gateway] = GatewayStream(gateway, down_subject(gateway))
            logger.info("bus: gateway %s joined", gateway)
        stream.last_heard_s = self._monotonic_s()
        return stream

    def apply(self, interest: Interest) -> None:
        """A gateway's interest: its whole route set, or what changed."""
        stream = self.stream_of(interest.gateway)
        wanted = {key for key in interest.add if key[0] in _STREAMED and self.owns(key)}
        if interest.full:
            self.unwant(stream, stream.routes - wanted)
        else:
            self.unwant(stream, interest.remove)
        self.want(stream, wanted)

    def acknowledge(self, ack: Ack) -> None:
        """A gateway delivered this shard's batches up to ``ack.stream_seq``; it is alive, too, though its whole
        interest (every 2 s) may come late from a busy gateway."""
        stream = self.streams.get(ack.gateway)
        if ack.shard == self.shard and stream is not None:
            stream.acked = max(stream.acked, ack.stream_seq)
            stream.last_heard_s = self._monotonic_s()

    def want(self, stream: GatewayStream, keys: set[RouteKey] | frozenset[RouteKey]) -> None:
        """Route ``keys`` to ``stream`` from the next pass on."""
        for key in keys - stream.routes:
            stream.routes.add(key)
            members = self.routes.get(key)
            if members is None:
                members = self.routes[key] = {}
                self._interest[key] = True
            members[stream] = None

    def unwant(self, stream: GatewayStream, keys: set[RouteKey] | frozenset[RouteKey]) -> None:
        """Stop routing ``keys`` to ``stream``."""
        for key in keys & stream.routes:
            stream.routes.discard(key)
            members = self.routes[key]
            del members[stream]
            if not members:
                del self.routes[key]
                self._interest[key] = False

    def keep_alive(self) -> None:
        """Send an empty batch to each stream that sent nothing for ``KEEPALIVE_S``; forget silent gateways."""
        now_s, timeout_s = self._monotonic_s(), self._gateway_timeout_s
        for stream in list(self.streams.values()):
            if now_s - stream.last_heard_s > timeout_s:
                logger.warning("bus: gateway %s silent for %g s, forgotten", stream.gateway, timeout_s)
                self.unwant(stream, set(stream.routes))
                self._dirty.pop(stream, None)
                del self.streams[stream.gateway]
            elif not stream.batch.count and now_s - stream.last_sent_s >= KEEPALIVE_S:
                self._seal(stream, self.pass_number)


class Publisher:
    """``simulate``'s NATS side: sends the outlet's batches, answers gateways, keeps streams alive."""

    def __init__(
        self,
        url: str,
        *,
        shard: int,
        owns: Callable[[RouteKey], bool],
        wait_s: float,
        gateway_timeout_s: float,
    ) -> None:
        """``wait_s``: how long ``start`` tries to reach NATS; ``gateway_timeout_s``: ``BusOutlet``'s."""
        self._url = url
        self._wait_s = wait_s
        self.outlet = BusOutlet(shard=shard, owns=owns, send=self._queue, gateway_timeout_s=gateway_timeout_s)
        self._plane: MarketPlane | None = None
        self._description: MarketDescription | None = None
        self._rest: RestResponder | None = None
        self._scenarios: ScenarioLoader | None = None
        self._answering: set[asyncio.Task[None]] = set()
        self._client: Client | None = None
        self._queue_: deque[tuple[str, bytes]] = deque()
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        #: batches dropped because the bus did not take them fast enough (``/metrics``)
        self.dropped = 0

    def bind(
        self, plane: MarketPlane, description: MarketDescription, rest: RestResponder, scenarios: ScenarioLoader
    ) -> None:
        """The plane whose market this publishes (its snapshots answer the gateways), how gateways rebuild its
        catalogue, what answers the REST reads they forward, and what schedules the scenarios they load."""
        self._plane = plane
        self._description = description
        self._rest = rest
        self._scenarios = scenarios
        self.outlet.clock_state = lambda: (plane.now_ns, plane.clock.speed, plane.clock.paused)

    async def start(self) -> None:
        """Connect (``BusUnreachable`` after ``wait_s``), ask every gateway for its interest, start sending."""
        self._client = await connect(
            self._url, name=f"simulate-{self.outlet.shard}", wait_s=self._wait_s, on_reconnected=self._sync
        )
        await self._client.subscribe(UP, cb=self._on_up)
        assert self._description is not None
        logger.info("bus: publishing shard %d/%d of the market", self.outlet.shard, self._description.shards)
        await self._sync()
        self._tasks = [asyncio.create_task(self._sender()), asyncio.create_task(self._keep_alive())]

    async def stop(self) -> None:
        """Stop sending and close the connection."""
        await disconnect(self._client, self._tasks)

    async def _sync(self) -> None:
        assert self._client is not None
        await self._client.publish(SYNC, b"")

    def _queue(self, subject: str, message: bytes) -> None:
        if len(self._queue_) >= MAX_QUEUED:
            self.dropped += 1
            return
        self._queue_.append((subject, message))
        self._wake.set()

    async def _sender(self) -> None:
        client = self._client
        assert client is not None
        queue = self._queue_
        while True:
            await self._wake.wait()
            self._wake.clear()
            while queue:
                subject, message = queue.popleft()
                try:
                    await client.publish(subject, message)
                except Exception as error:  # disconnected past the client's buffer: the gateway sees a gap
                    self.dropped += 1
                    logger.debug("bus: batch dropped (%s)", error)

    async def _keep_alive(self) -> None:
        while True:
            await asyncio.sleep(KEEPALIVE_S / 2)
            self.outlet.keep_alive()

    async def _on_up(self, message: Msg) -> None:
        try:
            request = decode_up(message.data)
        except ValueError as error:
            logger.warning("bus: ignored a message on %s: %s", UP, error)
            return
        match request:
            case Interest():
                self.outlet.apply(request)
                self._note_subscribers()
            case SnapshotRequest():
                if request.shard == self.outlet.shard:
                    await message.respond(self._snapshot(request))
                    self._note_subscribers()
            case MarketRequest():
                assert self._description is not None
                await message.respond(self._description.encode())
            case Ack():
                self.outlet.acknowledge(request)
            case RestRequest():
                if request.shard == self.outlet.shard and message.reply:
                    # in a task of its own: a long history read must not hold up the gateways' interest and acks
                    task = asyncio.create_task(self._answer_rest(message, request))
                    self._answering.add(task)
                    task.add_done_callback(self._answering.discard)
            case ScenarioLoad():
                if message.reply:
                    await message.respond(self._load_scenario(request).encode())
            case Control():
                await self._control(request)
                if message.reply:
                    # an empty batch outside every stream (number 0): its header carries this shard's clock
                    await message.respond(BatchBuilder().build(self.outlet.header(0, 0)))

    async def _answer_rest(self, message: Msg, request: RestRequest) -> None:
        assert self._rest is not None
        try:
            for part in await self._rest.answer(request.path, request.query):
                await message.respond(part)
        except Exception as error:  # the bus went away meanwhile: the gateway's request times out and says so
            logger.warning("bus: a REST answer was not sent: %s", error)

    def _load_scenario(self, request: ScenarioLoad) -> ScenarioAnswer:
        """A gateway's admin API loaded a scenario: schedule this shard's part of it, or say why not."""
        assert self._scenarios is not None
        shard = self.outlet.shard
        try:
            scenario = self._scenarios(request.text, source=request.source, start_ns=request.start_ns)
        except ScenarioError as error:
            return ScenarioAnswer(shard, error=str(error))
        return ScenarioAnswer(shard, steps=len(scenario.steps))

    async def _control(self, control: Control) -> None:
        """A gateway's admin API moves the clock: this shard does as asked (every shard gets the same)."""
        assert self._plane is not None
        plane = self._plane
        logger.info("bus: clock %s %g from a gateway", control.action, control.value)
        match control.action:
            case "pause":
                plane.pause()
            case "resume":
                plane.resume()
            case "speed":
                plane.set_speed(control.value or None)
            case "step":
                await plane.step_in_chunks(int(control.value))

    def _note_subscribers(self) -> None:
        """A gateway's clients count as subscribers: a market that waits for the first one (``--speed max``)
        starts."""
        if self.outlet.routes and self._plane is not None:
            self._plane.subscribed()

    def _snapshot(self, request: SnapshotRequest) -> bytes:
        """Book snapshots of the routes asked for, as of the last pass; the gateway gets their deltas from the
        next pass on. The reply's ``stream_seq`` is the last batch sent to that gateway so far."""
        assert self._plane is not None
        outlet = self.outlet
        stream = outlet.stream_of(request.gateway)
        keys = {key for key in request.keys if key[0].is_incremental_book and outlet.owns(key)}
        outlet.want(stream, keys)
        batch = BatchBuilder()
        for key in sorted(keys, key=lambda key: key[1]):
            for frame in self._plane.snapshots.initial_frames([key]):
                batch.add(key, frame, self._plane.now_ns)
        return batch.build(outlet.header(stream.sent, outlet.pass_number))
