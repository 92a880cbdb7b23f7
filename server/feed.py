"""The feed: drives the market on the event loop, numbers and encodes each event once, hands frames to the hub.

Time: a ``VirtualClock`` maps the loop's monotonic clock to market time (speed 1, 10, ... or ``None`` = max,
which advances a fixed virtual step per loop iteration). Sequences: one counter per (type, symbol_id) on the
stream side, shared by all connections (PROTOCOL.md §4.2, ARCHITECTURE.md "Sequence numbers"), counted whether
or not anyone listens so that what a client sees never depends on other clients. Encoding happens only for
routes that have subscribers, and the market builds only the candles (``Bar``) of subscribed ohlcv routes: it
counts the others itself, so a bar's ``sequence`` is the same whoever listens.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from simulator.catalog import Catalog
from simulator.clock import VirtualClock
from simulator.events import Bar, BookDelta, ExchangeRate, Quote, Trade
from simulator.market import Market

from .frames import text_frame
from .hub import Hub
from .metadata import Metadata
from .protocol.codec import SymbolCodec
from .protocol.datatypes import DataType
from .protocol.encode import encode_exrate
from .protocol.routes import RouteKey, exrate_topic, ohlcv_topic, ohlcv_topic_parts
from .replay import RecordedFrame, ReplaySource
from .scenario import Step, Timeline

logger = logging.getLogger(__name__)

_SEQUENCE_LIMIT = 2**31 - 1  # PROTOCOL.md §4.2: some SDKs parse sequence as a signed 32-bit int
_NS_PER_S = 1_000_000_000
_REFERENCE_ASSET = "USD"
#: at speed "max", the wall time one loop pass may spend advancing the market before the hub flushes: each
#: socket then gets one write per ~20 ms of market work instead of one per 20 ms virtual step (per-socket writes
#: were ~30% of the profile with 100 clients; 100 clients: 126-155k msgs/s per step, 163-195k with 5 ms
#: batches, 241-321k with 20 ms), while handshakes, pings and admin calls wait at most ~20 ms
_MAX_MODE_BATCH_NS = 20_000_000
#: ... and at most this many steps, so that a frozen test clock cannot spin forever
_MAX_MODE_STEPS_PER_BATCH = 50
#: how often idle connections are checked for a due ``hearbeat`` (PROTOCOL.md §5.3: after 1 s of silence)
_HEARTBEAT_CHECK_S = 0.25
# Module constants: the hot path reads these without an attribute lookup on the enum class.
_TRADE, _QUOTE, _BOOK, _BOOK5, _BOOK20, _BOOK50 = (
    DataType.TRADE,
    DataType.QUOTE,
    DataType.BOOK,
    DataType.BOOK5,
    DataType.BOOK20,
    DataType.BOOK50,
)
#: the streams the feed counts per symbol (ohlcv is counted by the market: ``Bar.sequence``)
_COUNTED = (_TRADE, _QUOTE, _BOOK, _BOOK5, _BOOK20, _BOOK50)
#: book5/20/50 are the top levels of the book after a change
_DEPTHS = {_BOOK5: 5, _BOOK20: 20, _BOOK50: 50}
#: the data types whose new subscribers get a snapshot first (``initial_frames``)
_SNAPSHOT_TYPES = frozenset(data_type for data_type in DataType if data_type is _BOOK or data_type.is_metadata)


def simulated_time_coinapi(time_exchange_ns: int) -> int:
    """``time_coinapi`` of an event on a virtual clock: its time plus a 0.5-5 ms "network" delay derived from the
    time itself, so that a run is reproducible to the byte."""
    return time_exchange_ns + 500_000 + (time_exchange_ns * 2654435761 >> 11) % 4_500_000


def wire_sequence(count: int) -> int:
    """The ``sequence`` of a stream's ``count``-th message: 1 to 2**31 - 1, then 1 again (PROTOCOL.md §4.2)."""
    return (count - 1) % _SEQUENCE_LIMIT + 1


class Channel:
    """Per-symbol encoder, route keys, message counters, and which of its streams have subscribers."""

    __slots__ = ("codec", "counts", "keys", "listened", "next_slow_book_ns", "symbol_id")

    def __init__(self, codec: SymbolCodec) -> None:
        self.codec = codec
        self.symbol_id = codec.symbol_id
        self.keys: dict[DataType, RouteKey] = {data_type: (data_type, codec.symbol_id) for data_type in _COUNTED}
        #: messages so far per stream: ``wire_sequence`` of a count is the last message's sequence. The initial
        #: book is message 1 of the book stream, so a snapshot taken before any change has sequence 1.
        self.counts: dict[DataType, int] = dict.fromkeys(_COUNTED, 0)
        self.counts[_BOOK] = 1
        #: streams with at least one subscriber (hub route callbacks); the others are only counted
        self.listened: set[DataType] = set()
        #: book20 and book50 go out together, on the first change at least a virtual second after the last
        #: one that did (PROTOCOL.md §3.4)
        self.next_slow_book_ns = 0


class Feed:
    """Advances the market once per tick and publishes what happened.

    ``live_stamps``: stamp ``time_coinapi`` with the real time of sending (speed 1 on the wall clock, where
    latency figures are meaningful); otherwise it is the event time plus a small deterministic delay, so a
    virtual-clock run is reproducible to the byte.
    """

    def __init__(
        self,
        *,
        catalog: Catalog,
        market: Market,
        hub: Hub,
        clock: VirtualClock,
        metadata: Metadata,
        tick_s: float,
        max_step_ns: int,
        live_stamps: bool,
        timeline: Timeline,
        run_step: Callable[[Step], None],
        source: ReplaySource | None = None,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        epoch_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.market = market
        #: what drives the stream: the market, or a recording being replayed (``server/replay.py``)
        self.source: Market | ReplaySource = market if source is None else source
        self._replay = source
        self.hub = hub
        self.clock = clock
        self.metadata = metadata
        self._channels = {symbol.symbol_id: Channel(SymbolCodec(symbol)) for symbol in catalog.symbols}
        self._tick_s = tick_s
        self._max_step_ns = max_step_ns
        self._live_stamps = live_stamps
        self.timeline = timeline
        self._run_step = run_step
        self._monotonic_ns = monotonic_ns
        self._epoch_ns = epoch_ns
        self._now_epoch_ns = epoch_ns()
        self._crosses: dict[str, set[str]] = {}
        self._handle_by_type: dict[type, Callable[..., None]] = {
            Trade: self._on_trade,
            Quote: self._on_quote,
            BookDelta: self._on_book_delta,
            Bar: self._on_bar,
            ExchangeRate: self._on_rate,
            RecordedFrame: self._on_recorded,
        }
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        self._heartbeat_timer: asyncio.TimerHandle | None = None

    # -- driving ----------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Schedule market ticks and the hub's heartbeat checks on the running loop."""
        self._timer = asyncio.get_running_loop().call_soon(self._tick)
        self._beat()

    def stop(self) -> None:
        """Stop ticking and heartbeats (idempotent)."""
        for timer in (self._timer, self._heartbeat_timer):
            if timer is not None:
                timer.cancel()
        self._timer = self._heartbeat_timer = None

    def _beat(self) -> None:
        # Heartbeats follow the wall clock whatever the market's speed: they are about the connection.
        self.hub.beat()
        self._heartbeat_timer = asyncio.get_running_loop().call_later(_HEARTBEAT_CHECK_S, self._beat)

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        if self.clock.speed is None and not self.clock.paused:
            self._run_max_batch()
            self._timer = loop.call_soon(self._tick)
            return
        started_ns = self._monotonic_ns()
        due_ns = self.clock.now_ns(started_ns)
        # At most one step of virtual time per tick, so a market that fell behind (a busy machine, a high
        # speed) catches up over several loop iterations instead of starving every connection.
        until_ns = min(due_ns, self.source.now_ns + self._max_step_ns)
        self.run_until(until_ns)
        # Ticks start every tick_s, whatever the tick's own work took: sleeping a full tick_s after a busy tick
        # would make the next one cover more virtual time, and so take longer, which is latency (at 80% load
        # a tick covered ~5x tick_s; measured p50 8.6 ms at 10k msgs/s to one client).
        wait_s = self._tick_s - (self._monotonic_ns() - started_ns) / _NS_PER_S
        behind = until_ns < due_ns or wait_s <= 0
        self._timer = loop.call_soon(self._tick) if behind else loop.call_later(wait_s, self._tick)

    def _run_max_batch(self) -> None:
        """Speed "max": step virtual time until the batch's wall-time budget is spent, then flush once."""
        deadline_ns = self._monotonic_ns() + _MAX_MODE_BATCH_NS
        for _ in range(_MAX_MODE_STEPS_PER_BATCH):
            self._publish_until(self.clock.step(self._max_step_ns))
            # a scenario step may have paused the clock or set a speed
            if self.clock.speed is not None or self.clock.paused or self._monotonic_ns() >= deadline_ns:
                break
        self.hub.flush()

    def run_until(self, until_ns: int) -> None:
        """Publish every market event up to ``until_ns`` (virtual), then flush the hub once."""
        self._publish_until(until_ns)
        self.hub.flush()

    def _publish_until(self, until_ns: int) -> None:
        """Hand every market event up to ``until_ns`` to the hub (no flush).

        Scenario steps run at their exact virtual time: the market stops there, the step runs, and the market
        goes on, so a scripted event lands at the same place in the stream on every run.
        """
        self._now_epoch_ns = self._epoch_ns()
        timeline = self.timeline
        timeline.run_due(self.source.now_ns, self._run_step)
        while until_ns > self.source.now_ns:
            step_ns = timeline.next_ns()
            target_ns = until_ns if step_ns is None else max(self.source.now_ns, min(until_ns, step_ns))
            self._advance(target_ns)
            timeline.run_due(target_ns, self._run_step)

    def _advance(self, until_ns: int) -> None:
        handle = self._handle_by_type
        for event in self.source.advance(until_ns):
            handle[type(event)](event)

    def route_added(self, key: RouteKey) -> None:
        """Hub callback: encode the stream from now on; have the market build the candles someone wants;
        remember wanted cross rates (they are computed, not simulated)."""
        self._route_wanted(key, True)

    def route_removed(self, key: RouteKey) -> None:
        """Hub callback: stop encoding a stream, building candles, computing a cross rate, that nobody wants."""
        self._route_wanted(key, False)

    def _route_wanted(self, key: RouteKey, wanted: bool) -> None:
        data_type, topic = key
        if data_type in _COUNTED:
            self._listen(topic, data_type, wanted)
        elif data_type is DataType.OHLCV:
            self._want_bars(topic, wanted)
        elif data_type is DataType.EXRATE:
            self._want_cross(topic, wanted)

    def _want_cross(self, topic: str, wanted: bool) -> None:
        base, quote = topic.split("/")
        if quote == _REFERENCE_ASSET:
            return
        quotes = self._crosses.setdefault(base, set())
        if wanted:
            quotes.add(quote)
            return
        quotes.discard(quote)
        if not quotes:
            del self._crosses[base]

    def _listen(self, symbol_id: str, data_type: DataType, listened: bool) -> None:
        # A replay's topics may name symbols the market does not have (and it never uses the channels).
        channel = self._channels.get(symbol_id)
        if channel is not None:
            if listened:
                channel.listened.add(data_type)
            else:
                channel.listened.discard(data_type)

    def _want_bars(self, topic: str, wanted: bool) -> None:
        # A replay streams recorded candles; its topics may name symbols the market does not have.
        if self._replay is None:
            symbol_id, period_id = ohlcv_topic_parts(topic)
            self.market.want_bars(symbol_id, period_id, wanted)

    # -- snapshots for new subscriptions -----------------------------------------------------------------

    def initial_frames(self, keys: Iterable[RouteKey]) -> list[bytes]:
        """Frames a subscriber gets when it adds ``keys``: a book snapshot per book route, metadata snapshots.

        Sorted so that the bytes a client receives do not depend on set iteration order. In a replay they come
        from the recording (``ReplaySource.initial_frames``), never from the simulated market.
        """
        if self._replay is not None:
            return self._replay.initial_frames(keys)
        frames = []
        # filtered before sorting: a hello for every symbol's trades and quotes adds thousands of keys, none of
        # which has a snapshot, and sorting them all took ~30 ms per subscriber
        with_snapshot = [key for key in keys if key[0] in _SNAPSHOT_TYPES]
        for data_type, topic in sorted(with_snapshot, key=lambda key: (key[0].value, key[1])):
            if data_type is DataType.BOOK:
                frames.append(self._book_snapshot(self._channels[topic]))
            else:  # a metadata type: _SNAPSHOT_TYPES holds nothing else
                frames.append(text_frame(self.metadata.frame(data_type, topic)))
        return frames

    def _book_snapshot(self, channel: Channel) -> bytes:
        """The frame of a snapshot of the channel's book, now."""
        book = self.market.book(channel.symbol_id)
        now_ns = self.market.now_ns
        return channel.codec.book_frame(
            DataType.BOOK,
            book.asks(),
            book.bids(),
            wire_sequence(channel.counts[DataType.BOOK]),
            now_ns,
            self._stamp(now_ns),
            is_snapshot=True,
        )

    # -- per-event handlers (the hot path) ----------------------------------------------------------------

    def _stamp(self, time_exchange_ns: int) -> int:
        if self._live_stamps:
            return max(self._now_epoch_ns, time_exchange_ns)
        return simulated_time_coinapi(time_exchange_ns)

    # Every message is counted, whoever listens; only the streams in ``channel.listened`` are encoded. Counting
    # is inlined (no call per message): most events belong to streams nobody listens to.

    def _on_trade(self, trade: Trade) -> None:
        channel = self._channels[trade.symbol_id]
        channel.counts[_TRADE] += 1
        if _TRADE in channel.listened:
            self._publish(channel, _TRADE, channel.codec.trade_frame, trade, trade.time_exchange_ns)

    def _on_quote(self, quote: Quote) -> None:
        channel = self._channels[quote.symbol_id]
        channel.counts[_QUOTE] += 1
        if _QUOTE in channel.listened:
            self._publish(channel, _QUOTE, channel.codec.quote_frame, quote, quote.time_exchange_ns)

    def _on_book_delta(self, delta: BookDelta) -> None:
        channel = self._channels[delta.symbol_id]
        counts, time_ns = channel.counts, delta.time_exchange_ns
        counts[_BOOK] += 1
        counts[_BOOK5] += 1
        slow = time_ns >= channel.next_slow_book_ns
        if slow:
            channel.next_slow_book_ns = time_ns + _NS_PER_S
            counts[_BOOK20] += 1
            counts[_BOOK50] += 1
        listened = channel.listened
        if listened:
            if _BOOK in listened:
                self._publish(channel, _BOOK, channel.codec.book_delta_frame, delta, time_ns)
            for data_type in (_BOOK5, _BOOK20, _BOOK50) if slow else (_BOOK5,):
                if data_type in listened:
                    self._publish_top(channel, data_type, time_ns)

    def _publish(
        self, channel: Channel, data_type: DataType, frame: Callable[[Any, int, int], bytes], event: Any, time_ns: int
    ) -> None:
        """Encode the stream's last counted message in a frame (``frame``: a ``SymbolCodec.*_frame`` method) and
        hand it to the members of its route."""
        key = channel.keys[data_type]
        members = self.hub.routes.get(key)
        if members:
            sequence = wire_sequence(channel.counts[data_type])
            self.hub.deliver(members, key, frame(event, sequence, self._stamp(time_ns)), time_ns)

    def _publish_top(self, channel: Channel, data_type: DataType, time_ns: int) -> None:
        key = channel.keys[data_type]
        members = self.hub.routes.get(key)
        if members:
            asks, bids = self.market.book(channel.symbol_id).top(_DEPTHS[data_type])
            sequence = wire_sequence(channel.counts[data_type])
            frame = channel.codec.book_frame(data_type, asks, bids, sequence, time_ns, self._stamp(time_ns))
            self.hub.deliver(members, key, frame, time_ns)

    def _on_bar(self, bar: Bar) -> None:
        key = (DataType.OHLCV, ohlcv_topic(bar.symbol_id, bar.period_id))
        members = self.hub.routes.get(key)
        if members:
            frame = self._channels[bar.symbol_id].codec.bar_frame(bar, wire_sequence(bar.sequence))
            self.hub.deliver(members, key, frame, bar.time_ns)

    def _on_rate(self, rate: ExchangeRate) -> None:
        base, time_ns = rate.asset_id_base, rate.time_ns
        self._publish_rate(base, rate.asset_id_quote, "BASE_ALL_CROSSES_TO_REF", time_ns, rate.rate)
        for quote in sorted(self._crosses.get(base, ())):
            cross = rate.rate / self.market.rate_usd(quote)
            self._publish_rate(base, quote, "BASE_AND_QUOTE_TO_REF", time_ns, cross)

    def _on_recorded(self, frame: RecordedFrame) -> None:
        """A replayed frame: its recorded bytes, verbatim, to the members of its route."""
        members = self.hub.routes.get(frame.key)
        if members:
            self.hub.deliver(members, frame.key, text_frame(frame.payload), frame.time_ns)

    def _publish_rate(self, base: str, quote: str, rate_type: str, time_ns: int, rate: float) -> None:
        key = (DataType.EXRATE, exrate_topic(base, quote))
        members = self.hub.routes.get(key)
        if members:
            self.hub.deliver(members, key, text_frame(encode_exrate(base, quote, rate_type, time_ns, rate)), time_ns)
