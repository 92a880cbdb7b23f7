"""The gateway's side of the bus: a shared plane fed from the simulators instead of a market of its own.

``BusLink`` is the plane's ``Upstream``. It subscribes to its own subject, where every simulator shard sends the
batches of the routes this gateway's clients want, and hands their frames to the hub as the in-process feed does
(one dict lookup per frame; market JSON is never parsed). It tells the simulators its interest: each change as
the hub notes it, and the whole set every ``INTEREST_EVERY_S`` (which also says the gateway is alive).

Late ``book`` and ``book_l3`` subscribers: the snapshot comes from the shard that owns the symbol, with the
number of the last batch that shard had sent this gateway and the pass it reflects. The subscription waits until
that batch has arrived (the reply may overtake it: nats-py keeps order within a subscription only), then gets the
snapshot and the route's frames of the later passes this gateway already delivered (``RECENT_BATCHES`` are kept
for this), so that nothing is missing or doubled.

Losses: a gap in a shard's batch numbers (NATS dropped messages, a NATS restart), a new simulator instance, a
stream started over (the simulator forgot this gateway while it was stalled), or a shard silent for ``SILENCE_S``
means clients of this plane may have missed data: each gets CoinAPI's ``reconnect`` notice and a 1001 close, and
``/ready`` answers 503 while a shard is silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError

from coinapi_emulator.server.bus.connection import connect, disconnect
from coinapi_emulator.server.bus.rest import REST_TIMEOUT_S, RestForwarder
from coinapi_emulator.server.bus.shards import ShardMap
from coinapi_emulator.server.bus.wire import (
    SYNC,
    UP,
    Ack,
    BatchHeader,
    Control,
    Interest,
    MarketDescription,
    MarketRequest,
    RestRequest,
    ScenarioAnswer,
    ScenarioLoad,
    SnapshotRequest,
    UpMessage,
    decode_rest_part,
    down_subject,
    encode_up,
    read_frames,
    read_header,
)
from coinapi_emulator.server.control.scenario import ScenarioError
from coinapi_emulator.server.fanout.hub import Hub
from coinapi_emulator.server.plane.driver import HOLD_RETRY_S, SPARE_SHARE
from coinapi_emulator.server.plane.snapshots import with_snapshots
from coinapi_emulator.server.protocol.encode import encode_reconnect
from coinapi_emulator.server.protocol.errors import MarketUnavailable
from coinapi_emulator.server.protocol.metadata import Metadata
from coinapi_emulator.server.protocol.routes import CatalogIndex, RouteKey
from coinapi_emulator.server.transport.frames import text_frame

logger = logging.getLogger(__name__)
#: the status NATS answers a request with when nothing subscribes to its subject
_NO_RESPONDERS = "503"


class _ShardReply(Protocol):
    """What every shard answers to a question put to all of them (a clock's batch header, a scenario answer)."""

    @property
    def shard(self) -> int: ...


_Reply = TypeVar("_Reply", bound=_ShardReply)

#: the whole interest is re-sent this often (a simulator forgets a gateway silent for 10 s)
INTEREST_EVERY_S = 2.0
#: how often interest changes are looked for (a new subscriber's first frames wait at most this long for them)
INTEREST_POLL_S = 0.005
#: a shard that sent nothing, not even a keep-alive (every 0.5 s), for this long is gone
SILENCE_S = 3.0
#: batches of each shard kept for late ``book`` subscribers (a few hundred ms of passes at any speed)
RECENT_BATCHES = 512
#: how long a snapshot request may take
SNAPSHOT_TIMEOUT_S = 5.0
#: a scenario loaded through a gateway starts this long (wall time, at the market's speed) after the latest clock
#: a shard reported, so that it reaches every shard before its first step is due
SCENARIO_LEAD_S = 0.25
#: CoinAPI's ``reconnect`` notice on a loss says "now": the stream is already broken
_CLOSE_GOING_AWAY = 1001


async def describe_market(url: str, *, wait_s: float) -> MarketDescription:
    """Ask the simulators what market they run, trying for ``wait_s`` (``BusUnreachable``, ``TimeoutError``)."""
    client = await connect(url, name="gateway-describe", wait_s=wait_s)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                reply = await client.request(UP, encode_up(MarketRequest()), timeout=1.0)
            except Exception:  # no responders yet, or a timeout: the simulator may still be starting
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"no simulator answered on {url} within {wait_s:g} s") from None
                await asyncio.sleep(0.25)
                continue
            return MarketDescription.decode(reply.data)
    finally:
        await client.close()


@dataclass(slots=True)
class ShardStream:
    """What this gateway knows of one shard's stream."""

    instance: int | None = None
    #: the last batch delivered (its ``stream_seq``), and its pass
    seq: int = 0
    pass_number: int = 0
    #: the last ``seq`` acknowledged to the simulator
    acked: int = 0
    time_ns: int = 0
    #: the market clock's speed (0: max) and pause, as of the last batch or control answer
    speed: float = 1.0
    paused: bool = False
    last_heard_s: float = 0.0
    recent: deque[tuple[int, bytes]] = field(default_factory=lambda: deque(maxlen=RECENT_BATCHES))
    #: (stream_seq, future) of the snapshots waiting for that batch
    waiting: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)


@dataclass(slots=True)
class BusStats:
    """Counters of the bus for ``/metrics``."""

    batches: int = 0
    frames: int = 0
    #: seconds between the simulator's send and this gateway's receipt of the last batch (wall clocks)
    lag_s: float = 0.0
    losses: int = 0
    reconnects: int = 0
    rest_reads: int = 0
    rest_unanswered: int = 0


class BusLink:
    """The shared plane's ``Upstream`` in a gateway (``plane.Upstream``)."""

    def __init__(self, url: str, description: MarketDescription, *, wait_s: float) -> None:
        """``wait_s``: how long ``start`` tries to reach NATS."""
        self.url = url
        self._wait_s = wait_s
        self.description = description
        self.gateway_id = uuid.uuid4().hex[:12]
        self.stats = BusStats()
        self._shards: ShardMap | None = None
        self._rest: RestForwarder | None = None
        self._streams = [ShardStream() for _ in range(description.shards)]
        self._keys: dict[bytes, RouteKey] = {}
        self._client: Client | None = None
        self._hub: Hub | None = None
        self._metadata: Metadata | None = None
        #: book snapshots fetched for a subscription, with the shard and pass they reflect
        self._ready: dict[RouteKey, tuple[bytes, int, int]] = {}
        #: book routes being fetched: the simulators must keep sending them (``_wanted``) before the hub routes them
        self._fetching: Counter[RouteKey] = Counter()
        self._tasks: list[asyncio.Task[None]] = []
        self._flush_due = False
        #: the loop time before which the next flush waits (``_flush_soon``)
        self._next_flush_s = 0.0

    def bind(self, hub: Hub, metadata: Metadata, shards: ShardMap, index: CatalogIndex) -> None:
        """The hub this link feeds, the metadata its subscriptions' metadata routes are answered from, which
        shard publishes which route, and the catalogue's order (REST answers merged from several shards)."""
        self._hub = hub
        self._metadata = metadata
        self._shards = shards
        self._rest = RestForwarder(self._ask_shard, shards, index)

    # -- Upstream -------------------------------------------------------------------------------------------------

    @property
    def now_ns(self) -> int:
        """Virtual time of the newest batch (the market's start before any)."""
        return max((stream.time_ns for stream in self._streams), default=0) or self.description.start_ns

    @property
    def healthy(self) -> bool:
        """Connected, and every shard heard from within ``SILENCE_S``."""
        now_s = time.monotonic()
        return self._connected() and all(now_s - stream.last_heard_s < SILENCE_S for stream in self._streams)

    def missing(self, keys: Iterable[RouteKey]) -> list[RouteKey]:
        """The ``book`` and ``book_l3`` routes of ``keys`` whose snapshot has not been fetched."""
        return [key for key in keys if key[0].is_incremental_book and key not in self._ready]

    async def fetch(self, keys: list[RouteKey]) -> None:
        """Fetch the snapshots of ``keys`` from their shards and wait until this gateway holds the batches they
        follow; ``MarketUnavailable`` when a shard does not answer in time."""
        assert self._shards is not None
        by_shard: dict[int, list[RouteKey]] = {}
        for key in keys:
            by_shard.setdefault(self._shards.shard(key), []).append(key)
        self._fetching.update(keys)
        try:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT_S):
                await asyncio.gather(*(self._fetch_shard(shard, shard_keys) for shard, shard_keys in by_shard.items()))
        except (TimeoutError, ConnectionError) as error:
            raise MarketUnavailable("no book snapshot from the simulator") from error
        finally:
            self._fetching.subtract(keys)
            self._fetching = +self._fetching

    async def _fetch_shard(self, shard: int, keys: list[RouteKey]) -> None:
        client = self._client
        if client is None or not client.is_connected:
            raise ConnectionError("not connected to the bus")
        request = SnapshotRequest(gateway=self.gateway_id, shard=shard, keys=tuple(keys))
        while True:
            reply = await client.request(UP, encode_up(request), timeout=SNAPSHOT_TIMEOUT_S)
            header = read_header(reply.data)
            stream = self._streams[shard]
            if stream.seq < header.stream_seq or stream.instance != header.instance:
                future = asyncio.get_running_loop().create_future()
                stream.waiting.append((header.stream_seq, future))
                await future
            if stream.instance == header.instance and self._replayable(stream, header.pass_number):
                for key, frame, _ in read_frames(reply.data, self._keys):
                    self._ready[key] = (frame, shard, header.pass_number)
                return
            # the gateway moved past what it keeps since the reply was made, or the market restarted: again

    @staticmethod
    def _replayable(stream: ShardStream, pass_number: int) -> bool:
        """Whether the frames after ``pass_number`` this gateway delivered are all still kept."""
        recent = stream.recent
        nothing_evicted = len(recent) < RECENT_BATCHES
        return stream.pass_number <= pass_number or nothing_evicted or recent[0][0] <= pass_number

    def initial_frames(self, keys: Iterable[RouteKey]) -> list[bytes]:
        """Each new book route's snapshot and its frames since, each new metadata route's object, sorted."""
        assert self._metadata is not None
        frames: list[bytes] = []
        for key in with_snapshots(keys):
            data_type, topic = key
            if data_type.is_incremental_book:
                snapshot, shard, pass_number = self._ready.pop(key)
                frames.append(snapshot)
                frames += self._since(self._streams[shard], key, pass_number)
            else:
                frames.append(text_frame(self._metadata.payload(data_type, topic)))
        return frames

    def _since(self, stream: ShardStream, wanted: RouteKey, pass_number: int) -> list[bytes]:
        """The frames of ``wanted`` in the batches of passes after ``pass_number``, in order."""
        return [
            frame
            for batch_pass, message in stream.recent
            if batch_pass > pass_number
            for key, frame, _ in read_frames(message, self._keys)
            if key == wanted
        ]

    # -- life -----------------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, subscribe to this gateway's batches, start telling the simulators its interest."""
        self._client = await connect(
            self.url,
            name=f"gateway-{self.gateway_id}",
            wait_s=self._wait_s,
            on_reconnected=self._reconnected,
        )
        await self._client.subscribe(down_subject(self.gateway_id), cb=self._on_batch)
        await self._client.subscribe(SYNC, cb=self._on_sync)
        description = self.description
        logger.info(
            "bus: serving the market of seed %d from %d simulator shard(s)", description.seed, description.shards
        )
        now_s = time.monotonic()
        for stream in self._streams:
            stream.last_heard_s = now_s  # a grace period before a silent shard counts as gone
        self._tasks = [asyncio.create_task(self._interest_loop()), asyncio.create_task(self._watch_silence())]

    async def stop(self) -> None:
        """Stop and close the connection."""
        await disconnect(self._client, self._tasks)

    # -- frames ---------------------------------------------------------------------------------------------------

    async def _on_batch(self, message: Msg) -> None:
        self.deliver(message.data)

    def deliver(self, data: bytes) -> None:
        """Hand one batch's frames to the hub (unless it is late or a loss came before it) and flush."""
        assert self._hub is not None
        header = read_header(data)
        if header.shard >= len(self._streams):
            logger.warning("bus: a batch of shard %d, but the market has %d", header.shard, len(self._streams))
            return
        stream = self._streams[header.shard]
        stream.last_heard_s = time.monotonic()
        if stream.instance != header.instance:
            if stream.instance is not None:
                self._lost(f"the market's simulator (shard {header.shard}) restarted")
            stream.instance, stream.seq = header.instance, header.stream_seq - 1
        if header.stream_seq <= stream.seq:
            # NATS neither repeats nor reorders one connection's messages on one subject: a number at or below the
            # last one is a new stream, opened after the simulator forgot this gateway (silent for its timeout), and
            # whatever the market made meanwhile never came
            self._lost(f"simulator shard {header.shard} had forgotten this gateway and started its stream again")
        elif header.stream_seq > stream.seq + 1:
            self._lost(f"{header.stream_seq - stream.seq - 1} batches from shard {header.shard} lost on the bus")
        stream.seq, stream.pass_number = header.stream_seq, header.pass_number
        self._note_clock(stream, header)
        self.stats.batches += 1
        self.stats.lag_s = max(0.0, (time.time_ns() - header.sent_ns) / 1e9)
        hub = self._hub
        routes = hub.routes
        count = 0
        for key, frame, time_ns in read_frames(data, self._keys):
            groups = routes.get(key)
            if groups:
                hub.deliver(groups, key, frame, time_ns)
            count += 1
        if count:
            stream.recent.append((header.pass_number, data))
            self.stats.frames += count
            self._flush_soon()
        self._wake(stream)

    def _flush_soon(self) -> None:
        """Flush the hub once the batches that arrived together are delivered: nats-py hands a subscription's
        queued messages over without returning to the event loop, so a gateway that fell behind writes each
        socket once per burst, not once per batch (once per batch, 1,000 clients at ~1,200 msgs/s each fell
        further and further behind: p50 7.4 s). After a long flush (thousands of sockets), the next one waits a
        share of its time, as the market's next pass does (``SPARE_SHARE``)."""
        if not self._flush_due:
            self._flush_due = True
            loop = asyncio.get_running_loop()
            wait_s = self._next_flush_s - loop.time()
            if wait_s > 0:
                loop.call_later(wait_s, self._flush)
            else:
                loop.call_soon(self._flush)

    def _flush(self) -> None:
        hub = self._hub
        assert hub is not None
        if self._holding():
            # the frames wait in the hub, as the market waits for the acknowledgements withheld meanwhile: written
            # now, they would be queued (and quotes conflated) for each paused client alone
            asyncio.get_running_loop().call_later(HOLD_RETRY_S, self._flush)
            return
        self._flush_due = False
        loop = asyncio.get_running_loop()
        started_s = loop.time()
        hub.flush()
        ended_s = loop.time()
        self._next_flush_s = ended_s + SPARE_SHARE * (ended_s - started_s)

    def _holding(self) -> bool:
        """At --speed max, whether the hub waits for a client's full socket (``Hub.behind``); at a set speed the
        market keeps its clock and nothing waits."""
        assert self._hub is not None
        return self.speed is None and self._hub.behind()

    @staticmethod
    def _note_clock(stream: ShardStream, header: BatchHeader) -> None:
        stream.time_ns, stream.speed, stream.paused = header.time_ns, header.speed, header.paused

    @property
    def speed(self) -> float | None:
        """Shard 0's clock speed, None for "max" (every shard is told the same)."""
        return self._streams[0].speed or None

    @property
    def paused(self) -> bool:
        """Whether shard 0's clock is paused."""
        return self._streams[0].paused

    async def control(self, action: str, value: float) -> None:
        """Have every shard move its clock; each answers with its clock, noted here before this returns."""
        # a step of up to a virtual day runs a second at a time on the simulators
        timeout_s = SNAPSHOT_TIMEOUT_S + (value / 1e9 * 0.1 if action == "step" else 0)
        for header in await self._ask_every_shard(Control(action, value), read_header, timeout_s):
            self._note_clock(self._streams[header.shard], header)

    async def load_scenario(self, text: str, source: str) -> int:
        """Have every shard schedule its part of a scenario (which this gateway validated) from one virtual time:
        the latest clock any shard reported, plus ``SCENARIO_LEAD_S`` of wall time at the market's speed (at
        ``--speed max`` none: a shard that is ahead runs the steps already due at once). Returns that time."""
        speed = self.speed
        lead_ns = int(SCENARIO_LEAD_S * speed * 1e9) if speed else 0
        start_ns = max(stream.time_ns for stream in self._streams) + lead_ns
        load = ScenarioLoad(text, source, start_ns)
        answers = await self._ask_every_shard(load, ScenarioAnswer.decode, SNAPSHOT_TIMEOUT_S)
        refused = next((answer for answer in answers if answer.error is not None), None)
        if refused is not None:
            raise ScenarioError(f"simulator shard {refused.shard}: {refused.error}")
        return start_ns

    async def _ask_every_shard(
        self, message: UpMessage, decode: Callable[[bytes], _Reply], timeout_s: float
    ) -> list[_Reply]:
        """Send ``message`` up with a reply inbox and wait for every shard's reply, decoded, in shard order
        (``TimeoutError`` naming those that did not answer within ``timeout_s``)."""
        client = self._client
        if client is None or not client.is_connected:
            raise TimeoutError("not connected to the bus")
        inbox = client.new_inbox()
        answers = await client.subscribe(inbox, max_msgs=len(self._streams))
        replies: dict[int, _Reply] = {}
        try:
            await client.publish(UP, encode_up(message), reply=inbox)
            deadline = time.monotonic() + timeout_s
            while len(replies) < len(self._streams):
                remaining = deadline - time.monotonic()
                try:
                    reply = await answers.next_msg(timeout=max(remaining, 0.001))
                except TimeoutError:
                    missing = sorted(set(range(len(self._streams))) - set(replies))
                    raise TimeoutError(f"no answer from simulator shard(s) {missing} on the bus") from None
                answer = decode(reply.data)
                replies[answer.shard] = answer
        finally:
            await answers.unsubscribe()
        return [replies[shard] for shard in sorted(replies)]

    async def rest(self, path: str, query: str, symbol_id: str | None) -> tuple[int, bytes]:
        """The simulators' answer to a REST read of the running market (``bus.rest.RestForwarder``)."""
        assert self._rest is not None
        return await self._rest.answer(path, query, symbol_id)

    async def _ask_shard(self, shard: int, path: str, query: str) -> tuple[int, bytes]:
        self.stats.rest_reads += 1
        client, answer = self._client, None
        if client is not None and client.is_connected:
            request = encode_up(RestRequest(shard, path, query))
            with contextlib.suppress(TimeoutError, NatsError):  # no responders, or none in time
                answer = await asyncio.wait_for(_request_in_parts(client, request), REST_TIMEOUT_S)
        if answer is None:
            self.stats.rest_unanswered += 1
            raise TimeoutError(f"no answer from simulator shard {shard} on the bus")
        return answer

    @staticmethod
    def _wake(stream: ShardStream) -> None:
        still = []
        for seq, future in stream.waiting:
            if seq <= stream.seq:
                if not future.done():
                    future.set_result(None)
            else:
                still.append((seq, future))
        stream.waiting = still

    def _lost(self, reason: str) -> None:
        """Clients may have missed frames: each subscribed one gets ``reconnect`` and a 1001 close."""
        assert self._hub is not None
        self.stats.losses += 1
        hub = self._hub
        subscribed = [subscriber for subscriber in hub.subscribers if subscriber.routes]
        logger.warning("bus: %s; %d clients told to reconnect", reason, len(subscribed))
        notice = encode_reconnect(0, self.now_ns)
        for subscriber in subscribed:
            hub.close(subscriber, _CLOSE_GOING_AWAY, "market data interrupted: reconnect", [notice])
        for stream in self._streams:
            stream.recent.clear()
        self._ready.clear()

    # -- interest -------------------------------------------------------------------------------------------------

    async def _interest_loop(self) -> None:
        last_full_s = 0.0
        while True:
            await asyncio.sleep(INTEREST_POLL_S)
            assert self._hub is not None
            for ack in self.take_acks():
                await self._send(ack)
            changes = self._hub.take_interest()
            if time.monotonic() - last_full_s >= INTEREST_EVERY_S:
                last_full_s = time.monotonic()
                await self._send_full()
            elif changes:
                add = frozenset(key for key, wanted in changes.items() if wanted)
                remove = frozenset(key for key, wanted in changes.items() if not wanted) - self._wanted()
                await self._send(Interest(self.gateway_id, add=add, remove=remove))

    def take_acks(self) -> list[Ack]:
        """The acknowledgements due: one for each shard whose batches reached the hub since the last. None while
        the hub waits for a client's full socket at --speed max: that holds the simulators
        (``publisher.MAX_UNACKED``), so the market goes at its slowest reader's pace through the bus too."""
        if self._holding():
            return []
        acks = []
        for shard, stream in enumerate(self._streams):
            if stream.seq != stream.acked:
                stream.acked = stream.seq
                acks.append(Ack(self.gateway_id, shard, stream.seq))
        return acks

    def _wanted(self) -> frozenset[RouteKey]:
        """The routes the simulators must send: the hub's, and the book routes of subscriptions being joined."""
        assert self._hub is not None
        return frozenset(self._hub.routes.keys() | self._fetching.keys() | self._ready.keys())

    async def _send_full(self) -> None:
        await self._send(Interest(self.gateway_id, add=self._wanted(), full=True))

    async def _send(self, interest: Interest | Ack) -> None:
        client = self._client
        if client is None or not client.is_connected:
            return  # the next full interest after the reconnect says it all
        try:
            await client.publish(UP, encode_up(interest))
        except Exception as error:
            logger.debug("bus: interest not sent (%s)", error)

    async def _on_sync(self, message: Msg) -> None:
        await self._send_full()

    async def _reconnected(self) -> None:
        self.stats.reconnects += 1
        await self._send_full()

    def metrics(self) -> list[tuple[str, str, float, bool]]:
        """The bus figures ``/metrics`` exports."""
        stats = self.stats
        return [
            ("bus_batches", "Frame batches received from the simulators.", stats.batches, True),
            ("bus_frames", "Frames received from the simulators (before fan-out).", stats.frames, True),
            (
                "bus_lag_seconds",
                "Send-to-receipt time of the last batch (the two machines' wall clocks).",
                stats.lag_s,
                False,
            ),
            (
                "bus_losses",
                "Gaps, restarts and silences after which clients were told to reconnect.",
                stats.losses,
                True,
            ),
            ("bus_reconnects", "Reconnections to the NATS server.", stats.reconnects, True),
            ("bus_rest_reads", "REST market reads sent to a simulator shard.", stats.rest_reads, True),
            (
                "bus_rest_unanswered",
                "REST market reads a simulator shard did not answer (503 to the client).",
                stats.rest_unanswered,
                True,
            ),
            ("bus_connected", "1 while connected to the NATS server.", float(self._connected()), False),
        ]

    def _connected(self) -> bool:
        return self._client is not None and self._client.is_connected

    async def _watch_silence(self) -> None:
        silent: set[int] = set()
        while True:
            await asyncio.sleep(SILENCE_S / 4)
            now_s = time.monotonic()
            for shard, stream in enumerate(self._streams):
                if now_s - stream.last_heard_s < SILENCE_S:
                    silent.discard(shard)
                elif shard not in silent:
                    silent.add(shard)
                    self._lost(f"nothing from the market's simulator (shard {shard}) for {SILENCE_S:g} s")


async def _request_in_parts(client: Client, request: bytes) -> tuple[int, bytes]:
    """Publish a ``RestRequest`` and read its reply's messages (``wire.encode_rest_reply``) up to the last:
    (status, body). ``NoRespondersError`` at once when no simulator listens."""
    inbox = client.new_inbox()
    subscription = await client.subscribe(inbox)
    try:
        await client.publish(UP, request, reply=inbox)
        body = bytearray()
        while True:
            message = await subscription.next_msg(timeout=REST_TIMEOUT_S)
            if message.headers and message.headers.get("Status") == _NO_RESPONDERS:
                raise NoRespondersError
            status, last, part = decode_rest_part(message.data)
            body += part
            if last:
                return status, bytes(body)
    finally:
        await subscription.unsubscribe()
