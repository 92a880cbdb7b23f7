"""The fan-out hub: routing table, subscription groups, outboxes, one write per socket per tick, slow-client policy.

Longer than this project's ~400-line rule on purpose: one hot-path class whose delivery, group and backlog paths
share private state; split into objects, every message would pay the calls between them.

Hot path (``deliver``): one routing-table lookup per message (done by the caller), then one append of the
shared, pre-framed bytes per subscription group. No task, lock or await per message or per subscriber.

Subscription groups: the subscribers of one route set with the same throttles (bots of one fleet send the same
hello) form a ``Group``, and the routing table holds groups. Throttles (``subscribe_update_limit_ms_*``) are
decided once per group and message, so a member joining a throttled group takes up its rhythm. Members on the
shared path (no backlog, no frames of their own this tick) get the group's frames of a tick as one
batch, handed to each of their sinks by ``flush`` and joined once for all the sinks that write frames as they
are. A member that needs more leaves the shared path and is served on its own, exactly as before groups: with a
copy of the group's frames of the tick so far, so that its frames keep the order they would have had.

Interest: the hub notes each route that gains its first group or loses its last one (``take_interest``); the
feed drains these notes before it publishes, so that it encodes, builds candles and computes cross rates only for
routes someone wants. Pulled rather than called back, so that hub and feed are built in either order, and so
that the same notes can cross a message bus when the feed runs in another process.

Slow clients: a subscriber whose transport is paused (its kernel and transport buffers are full) keeps its
frames in the outbox. While backlogged, a new quote/book5/book20/book50 frame replaces the unsent one of the
same (type, symbol) (conflation). Trades, book deltas and everything else are never dropped: once the outbox
holds more than ``max_messages`` frames or ``max_bytes`` bytes, the subscriber gets CoinAPI's buffer error and
is closed with 1013 (PROTOCOL.md §6). While the backlogs of every hub together hold more than the ``OutboxBudget``
(``fanout/budget.py``), the hub closes its largest backlogs the same way until they fit. The counters of those
events live in ``HubStats``.

Readers at ``--speed max``: a market with no clock to follow waits for its readers (``behind``), as the kit's
coalescing baselines do. The transport tells the hub when a socket stops taking frames (``pause``) and when it
takes them again (``resume``); while a full socket's reader keeps taking bytes from it, the driver holds the
market. So at speed max every client gets every message, at the pace of the slowest reader, and no frame is
queued, copied or conflated per subscriber. A socket whose reader took nothing for ``STALLED_READER_S`` is no
longer waited for: it is served as a slow client, as above.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from coinapi_emulator.server.fanout.budget import OutboxBudget
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.encode import HEARTBEAT
from coinapi_emulator.server.protocol.errors import ProtocolError, SlowConsumer
from coinapi_emulator.server.protocol.routes import RouteKey
from coinapi_emulator.server.transport.frames import SharedFrames, text_frame
from coinapi_emulator.server.transport.sink import Sink

logger = logging.getLogger(__name__)

_HEARTBEAT_FRAME = text_frame(HEARTBEAT)
_NS_PER_MS = 1_000_000
#: at ``--speed max``, how long the market waits for a full socket whose reader takes nothing from it before it goes
#: on without it: a reader that is merely slower than the market keeps taking bytes and is waited for however
#: long it takes (1,000 clients draining 2 MB each over loopback take over a second), while a client stopped in a
#: debugger or a dead peer stalls a test suite's market for a blink only
STALLED_READER_S = 1.0


@dataclass(slots=True)
class HubStats:
    """Counters for metrics and tests."""

    messages_sent: int = 0
    bytes_sent: int = 0
    conflated: int = 0
    slow_consumer_closes: int = 0
    #: of those, closed because the backlogs of all clients together were over the budget
    budget_closes: int = 0
    heartbeats: int = 0
    #: times the market at ``--speed max`` stopped waiting for a full socket whose reader stalled (``STALLED_READER_S``)
    waits_given_up: int = 0
    #: messages routed to at least one subscriber, by data type (each counted once, however many get it)
    routed: dict[DataType, int] = field(default_factory=lambda: dict.fromkeys(DataType, 0))

    def add(self, other: HubStats) -> None:
        """Add ``other``'s counts to these (the private markets' sum)."""
        for counter in dataclasses.fields(HubStats):
            mine = getattr(self, counter.name)
            if isinstance(mine, dict):
                for key, count in getattr(other, counter.name).items():
                    mine[key] += count
            else:
                setattr(self, counter.name, mine + getattr(other, counter.name))


@dataclass(slots=True, eq=False)
class Subscriber:
    """One connection's delivery state; owned and mutated only by the hub."""

    sink: Sink
    peer: str
    #: the group of its route set (``set_routes``); every subscriber is in exactly one
    group: Group
    #: True while it takes its group's frames (``Group.shared``), False while served on its own (``Group.single``)
    shared: bool = False
    #: frames queued for this subscriber alone (always empty while ``shared``)
    frames: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0
    routes: frozenset[RouteKey] = frozenset()
    heartbeat: bool = False
    #: hub-clock seconds of the last flush that wrote something
    last_sent_s: float = 0.0
    backlogged: bool = False
    #: while backlogged: index in ``frames`` of the newest unsent frame of each conflatable route
    conflate_at: dict[RouteKey, int] = field(default_factory=dict)
    closed: bool = False
    #: connection number, for the admin API
    id: int = 0
    messages_sent: int = 0


@dataclass(slots=True, eq=False)
class Group:
    """The subscribers of one route set with the same throttles: what the routing table delivers to, once per
    message."""

    routes: frozenset[RouteKey]
    #: min ns between two frames of one route, per data type (PROTOCOL.md §2.1 subscribe_update_limit_ms_*)
    throttles: dict[DataType, int] = field(default_factory=dict)
    #: time_ns of the last frame of each throttled route that went to the members
    last_emit_ns: dict[RouteKey, int] = field(default_factory=dict)
    #: members that take ``frames`` as they are: no backlog, no frames of their own
    shared: dict[Subscriber, None] = field(default_factory=dict)
    #: members served one by one from their own ``Subscriber.frames``, as they were before groups
    single: dict[Subscriber, None] = field(default_factory=dict)
    #: this tick's routed frames for the ``shared`` members
    frames: list[bytes] = field(default_factory=list)
    pending_bytes: int = 0


_GroupIdentity = tuple[frozenset[RouteKey], frozenset[tuple[DataType, int]]]


def _identity(routes: frozenset[RouteKey], throttles: dict[DataType, int]) -> _GroupIdentity:
    """What makes two subscribers members of one group: equal route sets and equal throttles."""
    return routes, frozenset(throttles.items())


class Hub:
    """Routes encoded frames to subscribers and flushes each subscriber once per tick.

    Call order per feed tick: any number of ``routes.get(key)`` + ``deliver(...)``, then one ``flush()``.
    """

    def __init__(
        self,
        *,
        max_messages: int,
        max_bytes: int,
        clock: Callable[[], float],
        ids: Iterator[int] | None = None,
        budget: OutboxBudget | None = None,
    ) -> None:
        #: (data type, topic) -> groups; dicts keep insertion order and remove in O(1)
        self.routes: dict[RouteKey, dict[Group, None]] = {}
        self.subscribers: set[Subscriber] = set()
        #: (route set, throttles) -> its group; equal sets share one group, whether or not they are the same object
        self._groups: dict[_GroupIdentity, Group] = {}
        self.stats = HubStats()
        self._max_messages = max_messages
        self._max_bytes = max_bytes
        self._clock = clock
        #: connection numbers; hubs that share one counter number their connections apart (the admin API's ids)
        self._ids = itertools.count(1) if ids is None else ids
        #: route -> whether it is wanted now, for each route that gained or lost all its groups since
        #: ``take_interest``; bounded by the number of routes
        self._interest: dict[RouteKey, bool] = {}
        self._dirty: list[Subscriber] = []
        self._dirty_groups: list[Group] = []
        self._backlogged: set[Subscriber] = set()
        #: subscriber -> (hub-clock seconds of its socket's pause or of the last progress seen since, bytes its sink
        #: held then), for the full sockets waited for; oldest first (``behind``)
        self._paused: dict[Subscriber, tuple[float, int]] = {}
        #: shared with the other hubs (``ids`` alike); ``_holding``: this hub reported a backlog to it
        self._budget = budget
        self._holding = False

    # -- membership -------------------------------------------------------------------------------------------

    def attach(self, sink: Sink, peer: str, *, connection_id: int | None = None) -> Subscriber:
        """Register a connection; it receives nothing until ``set_routes``. ``connection_id``: the number it had
        in another hub (a connection moving to its private market keeps it); else a new one."""
        group = self._group_of(frozenset(), {})
        number = next(self._ids) if connection_id is None else connection_id
        subscriber = Subscriber(sink=sink, peer=peer, group=group, last_sent_s=self._clock(), id=number)
        self.subscribers.add(subscriber)
        group.single[subscriber] = None
        self._share(subscriber)
        return subscriber

    def detach(self, subscriber: Subscriber) -> None:
        """Forget a connection (idempotent). Its unsent frames are dropped with it."""
        if subscriber not in self.subscribers:
            return
        self._leave(subscriber)
        self.subscribers.discard(subscriber)
        self._backlogged.discard(subscriber)
        self._paused.pop(subscriber, None)
        subscriber.closed = True
        subscriber.frames.clear()

    def set_routes(
        self,
        subscriber: Subscriber,
        routes: frozenset[RouteKey],
        *,
        throttles_ms: dict[DataType, int],
        heartbeat: bool,
        initial_frames: Iterable[bytes] = (),
    ) -> None:
        """Replace a subscriber's routes and throttles; ``initial_frames`` (snapshots) go before any routed frame."""
        if subscriber.closed:
            return
        # What its old group queued for it this tick stays ahead of the initial frames.
        self._single_out(subscriber)
        subscriber.heartbeat = heartbeat
        for frame in initial_frames:
            self._append(subscriber, frame)
        # The new group is routed before the old one may go: a route in both keeps its feed stream throughout.
        throttles = {data_type: ms * _NS_PER_MS for data_type, ms in throttles_ms.items() if ms > 0}
        group = self._group_of(routes, throttles)
        if group is not subscriber.group:
            if not group.shared and not group.single:
                # a new group goes on from the throttle state its first member had, so a new hello that keeps a
                # route does not let an extra frame through
                old = subscriber.group.last_emit_ns
                group.last_emit_ns = {key: t for key, t in old.items() if key in routes}
            self._leave(subscriber)
            group.single[subscriber] = None
            subscriber.group = group
        subscriber.routes = routes
        self._share(subscriber)

    def set_sink(self, subscriber: Subscriber, sink: Sink) -> None:
        """Write the subscriber's frames to ``sink`` from now on (fault injection wraps a sink this way)."""
        subscriber.sink = sink

    def take_interest(self) -> dict[RouteKey, bool]:
        """The routes that gained their first or lost their last subscriber since the last call: route -> wanted.

        A route that did both in between reports its state now; applying a note that changes nothing is harmless.
        """
        interest, self._interest = self._interest, {}
        return interest

    def _group_of(self, routes: frozenset[RouteKey], throttles: dict[DataType, int]) -> Group:
        identity = _identity(routes, throttles)
        group = self._groups.get(identity)
        if group is None:
            group = self._groups[identity] = Group(routes, throttles)
            for key in routes:
                targets = self.routes.get(key)
                if targets is None:
                    targets = self.routes[key] = {}
                    self._interest[key] = True
                targets[group] = None
        return group

    def _leave(self, subscriber: Subscriber) -> None:
        """Take the subscriber out of its group, and the group out of the routing table once it is empty."""
        group = subscriber.group
        del (group.shared if subscriber.shared else group.single)[subscriber]
        subscriber.shared = False
        if group.shared or group.single:
            return
        del self._groups[_identity(group.routes, group.throttles)]
        for key in group.routes:
            targets = self.routes[key]
            del targets[group]
            if not targets:
                del self.routes[key]
                self._interest[key] = False

    def _single_out(self, subscriber: Subscriber) -> None:
        """Serve a shared member on its own from now on, starting from its copy of the group's frames so far."""
        if not subscriber.shared:
            return
        group = subscriber.group
        del group.shared[subscriber]
        group.single[subscriber] = None
        subscriber.shared = False
        if group.frames:
            subscriber.frames = group.frames.copy()
            subscriber.pending_bytes = group.pending_bytes
            self._dirty.append(subscriber)

    def _share(self, subscriber: Subscriber) -> None:
        """Put a single member back on its group's shared path if nothing calls for serving it on its own."""
        group = subscriber.group
        if (
            subscriber.shared
            or subscriber.frames
            or subscriber.backlogged
            # the group's frames of this tick went to it one by one, or not at all (it joined after them)
            or group.frames
        ):
            return
        del group.single[subscriber]
        group.shared[subscriber] = None
        subscriber.shared = True

    # -- hot path ---------------------------------------------------------------------------------------------

    def deliver(self, groups: dict[Group, None], key: RouteKey, frame: bytes, time_ns: int) -> None:
        """Queue one pre-framed message for every member of one route (``groups = hub.routes[key]``)."""
        self.stats.routed[key[0]] += 1
        size = len(frame)
        for group in groups:
            if group.throttles and self._throttled(group, key, time_ns):
                continue
            if group.shared:
                # this block runs once per message per group
                frames = group.frames
                if not frames:
                    self._dirty_groups.append(group)
                frames.append(frame)
                group.pending_bytes += size
            if group.single:
                self._deliver_single(group.single, key, frame, time_ns)

    def _deliver_single(self, members: dict[Subscriber, None], key: RouteKey, frame: bytes, time_ns: int) -> None:
        conflatable = key[0].conflatable
        size = len(frame)
        dirty = self._dirty
        for subscriber in members:
            if subscriber.backlogged:
                if conflatable:
                    self._conflate(subscriber, key, frame)
                else:
                    self._append(subscriber, frame)
                continue
            # ``_append`` inlined: every frame for a single member that is not backlogged comes here
            frames = subscriber.frames
            if not frames:
                dirty.append(subscriber)
            frames.append(frame)
            subscriber.pending_bytes += size

    def send(self, subscriber: Subscriber, payload: bytes) -> None:
        """Queue one message for one subscriber outside routing (errors, notices): framed here, sent in order."""
        self._append(subscriber, text_frame(payload))

    def _append(self, subscriber: Subscriber, frame: bytes) -> None:
        self._single_out(subscriber)
        if not subscriber.frames and not subscriber.backlogged:
            self._dirty.append(subscriber)
        subscriber.frames.append(frame)
        subscriber.pending_bytes += len(frame)

    @staticmethod
    def _throttled(group: Group, key: RouteKey, time_ns: int) -> bool:
        limit_ns = group.throttles.get(key[0])
        if limit_ns is None:
            return False
        last = group.last_emit_ns.get(key)
        if last is not None and time_ns - last < limit_ns:
            return True
        group.last_emit_ns[key] = time_ns
        return False

    def _conflate(self, subscriber: Subscriber, key: RouteKey, frame: bytes) -> None:
        index = subscriber.conflate_at.get(key)
        if index is None:
            subscriber.conflate_at[key] = len(subscriber.frames)
            self._append(subscriber, frame)
            return
        subscriber.pending_bytes += len(frame) - len(subscriber.frames[index])
        subscriber.frames[index] = frame
        self.stats.conflated += 1

    # -- output -----------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write each dirty group's and subscriber's frames in one go; keep them for paused transports (the feed's
        call, once per pass)."""
        now_s = self._clock()
        groups, self._dirty_groups = self._dirty_groups, []
        # Groups first: their frames are then sent, so a subscriber written below may rejoin its group's path.
        for group in groups:
            self._flush_group(group, now_s)
        self._flush_subscribers(now_s)

    def flush_sent(self) -> None:
        """Write what ``send`` queued (answers, notices, heartbeats) now, and no group's routed frames: those wait
        for the pass's ``flush``, which at ``--speed max`` waits while a socket is full (``behind``). A subscriber
        written here gets its group's frames of the pass first (``send`` singled it out with a copy)."""
        self._flush_subscribers(self._clock())

    def _flush_subscribers(self, now_s: float) -> None:
        dirty, self._dirty = self._dirty, []
        for subscriber in dirty:
            if subscriber.closed:
                continue
            if subscriber.sink.writable():
                self._write(subscriber, now_s)
                self._share(subscriber)
            else:
                self._backlog(subscriber)
        if self._backlogged or self._holding:
            self._enforce_limits()

    def _flush_group(self, group: Group, now_s: float) -> None:
        """One batch for every shared member's sink; a member whose transport is paused gets a copy and leaves."""
        frames, size = group.frames, group.pending_bytes
        group.frames, group.pending_bytes = [], 0
        shared = SharedFrames(frames)
        count = len(frames)
        paused = []
        for member in group.shared:
            if member.sink.offer_shared(shared):
                member.messages_sent += count
                member.last_sent_s = now_s
            else:
                paused.append(member)
        sent = len(group.shared) - len(paused)
        self.stats.messages_sent += count * sent
        self.stats.bytes_sent += size * sent
        for member in paused:
            self._single_out(member)
            member.frames, member.pending_bytes = frames.copy(), size
            self._backlog(member)

    def _backlog(self, subscriber: Subscriber) -> None:
        subscriber.backlogged = True
        self._backlogged.add(subscriber)

    def pause(self, subscriber: Subscriber) -> None:
        """The subscriber's socket stopped taking frames (its buffers are full): the market at speed max waits for
        it (``behind``) until ``resume``, or until its reader stalls."""
        if not subscriber.closed and subscriber not in self._paused:
            self._paused[subscriber] = (self._clock(), subscriber.sink.buffered())

    def behind(self) -> bool:
        """Whether a socket is full and its reader took bytes from it within ``STALLED_READER_S``: the market at
        speed max waits then."""
        paused = self._paused
        now_s = self._clock()
        cutoff_s = now_s - STALLED_READER_S
        while paused:
            oldest = next(iter(paused))
            since_s, buffered = paused[oldest]
            if since_s > cutoff_s:
                return True
            del paused[oldest]
            still = oldest.sink.buffered()
            if still < buffered:
                paused[oldest] = (now_s, still)  # it read meanwhile: a slow reader, waited for again
            else:
                # given up: a transport reports one pause until it resumes, so this one is not waited for again
                self.stats.waits_given_up += 1
        return False

    def resume(self, subscriber: Subscriber) -> None:
        """The sink may be writable again (its transport drained, or a stall ended): send the backlog now."""
        self._paused.pop(subscriber, None)
        if subscriber.closed or not subscriber.backlogged or not subscriber.sink.writable():
            return
        subscriber.backlogged = False
        subscriber.conflate_at.clear()
        self._backlogged.discard(subscriber)
        if subscriber.frames:
            self._write(subscriber, self._clock())
        self._share(subscriber)

    def _write(self, subscriber: Subscriber, now_s: float) -> None:
        frames = subscriber.frames
        self._count_sent(subscriber, frames, subscriber.pending_bytes)
        subscriber.sink.send_frames(frames)
        subscriber.frames = []
        subscriber.pending_bytes = 0
        subscriber.last_sent_s = now_s

    def _count_sent(self, subscriber: Subscriber, frames: list[bytes], size: int) -> None:
        self.stats.messages_sent += len(frames)
        self.stats.bytes_sent += size
        subscriber.messages_sent += len(frames)

    def _enforce_limits(self) -> None:
        held = 0
        for subscriber in list(self._backlogged):
            if len(subscriber.frames) > self._max_messages or subscriber.pending_bytes > self._max_bytes:
                self._close_slow(subscriber, "its own limit")
            else:
                held += subscriber.pending_bytes
        if self._budget is not None:
            excess = self._budget.hold(self, held)
            if excess:
                self._shed(excess)
                self._budget.hold(self, sum(s.pending_bytes for s in self._backlogged))
            self._holding = bool(self._backlogged)

    def _shed(self, excess: int) -> None:
        """Close this hub's largest backlogs until ``excess`` bytes are freed or none is left."""
        for subscriber in sorted(self._backlogged, key=lambda s: s.pending_bytes, reverse=True):
            if excess <= 0:
                return
            excess -= subscriber.pending_bytes
            self.stats.budget_closes += 1
            self._close_slow(subscriber, "the budget of all clients")

    def _close_slow(self, subscriber: Subscriber, limit: str) -> None:
        logger.info(
            "slow consumer %s: %d messages / %d bytes pending, over %s, closing",
            subscriber.peer,
            len(subscriber.frames),
            subscriber.pending_bytes,
            limit,
        )
        self.stats.slow_consumer_closes += 1
        self.fail(subscriber, SlowConsumer(len(subscriber.frames), subscriber.pending_bytes))

    def release_budget(self) -> None:
        """This hub holds nothing any more (its market stopped)."""
        if self._budget is not None:
            self._budget.hold(self, 0)
        self._holding = False

    def fail(self, subscriber: Subscriber, error: ProtocolError) -> None:
        """Send ``error``'s frame, then close with its code and text (PROTOCOL.md §3.11: errors are terminal)."""
        self.close(subscriber, error.close_code, error.close_reason, [error.payload()])

    def close(self, subscriber: Subscriber, code: int, reason: str, final_payloads: Iterable[bytes] = ()) -> None:
        """Send what is queued plus ``final_payloads``, then start the closing handshake and detach.

        A backlogged subscriber's unsent frames are dropped first: PROTOCOL.md §6 says buffered data is not resent.
        """
        if subscriber.closed:
            return
        self._single_out(subscriber)
        if subscriber.backlogged:
            subscriber.frames = []
            subscriber.pending_bytes = 0
        subscriber.frames.extend(text_frame(payload) for payload in final_payloads)
        self._count_sent(subscriber, subscriber.frames, sum(map(len, subscriber.frames)))
        subscriber.sink.send_frames(subscriber.frames)
        subscriber.frames = []
        subscriber.sink.close(code, reason)
        self.detach(subscriber)

    def beat(self) -> None:
        """Send ``hearbeat`` to every subscriber that asked for it and sent nothing for 1 s (PROTOCOL.md §5.3)."""
        now_s = self._clock()
        for subscriber in self.subscribers:
            if subscriber.heartbeat and not subscriber.backlogged and now_s - subscriber.last_sent_s >= 1.0:
                self._append(subscriber, _HEARTBEAT_FRAME)
                self.stats.heartbeats += 1
        self.flush_sent()
