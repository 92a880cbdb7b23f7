"""A market plane: one market and everything that serves it, wired in one constructor.

A plane owns its source (the simulated ``Market``, or a ``ReplaySource``), its ``VirtualClock``, the ``Hub`` of its
connections, the feed that publishes the source into the hub, its metadata and snapshots, the route resolver its
connections subscribe through, the driver and heartbeat timers, and its controls (pause, resume, step, speed).
The shared market is one plane; each ``?seed=N`` connection gets a private one (``private.py``); faults, metrics
and the admin API go over planes.

The split for scale-out runs through the middle: source, clock, driver and feed publish (a ``simulate``
process: ``also`` is its bus); hub, snapshots and heartbeats serve (a ``gateway``: its shared plane has an
``upstream`` instead of a running market). Between them pass only frames, one way, and interest notes, the other
(``feed.Outlet``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.control.faults import Fault
from coinapi_emulator.server.control.scenario import Scenario, Step, Timeline
from coinapi_emulator.server.fanout.budget import OutboxBudget
from coinapi_emulator.server.fanout.hub import Hub, Subscriber
from coinapi_emulator.server.plane.crosses import CrossRates
from coinapi_emulator.server.plane.driver import Driver
from coinapi_emulator.server.plane.feed import MarketFeed, ReplayFeed
from coinapi_emulator.server.plane.retention import Retention
from coinapi_emulator.server.plane.snapshots import MarketSnapshots, Snapshots
from coinapi_emulator.server.plane.streams import Channel, Stamper, channels_of
from coinapi_emulator.server.plane.tee import FlushingOutlet, TeeOutlet
from coinapi_emulator.server.protocol.encode import encode_reconnect, format_time
from coinapi_emulator.server.protocol.errors import MarketFailed
from coinapi_emulator.server.protocol.metadata import Metadata
from coinapi_emulator.server.protocol.routes import RouteKey, RouteResolver
from coinapi_emulator.server.replay.source import ReplaySource
from coinapi_emulator.simulator.catalog import Catalog
from coinapi_emulator.simulator.clock import VirtualClock
from coinapi_emulator.simulator.market import Market
from coinapi_emulator.simulator.orders import OrderBook

logger = logging.getLogger(__name__)

#: how often idle connections are checked for a due ``hearbeat`` (PROTOCOL.md §5.3: after 1 s of silence)
_HEARTBEAT_CHECK_S = 0.25
_NS_PER_S = 1_000_000_000

MarketKind = Literal["shared", "private"]
#: a long step is published a virtual second at a time with the event loop free in between: in one go, 300 s
#: blocked every other connection for 1.16 s
STEP_CHUNK_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """What sets one plane's market apart: who sees it, its seed and start, and how its clock begins."""

    #: "shared": the market every connection sees by default; "private": one ``?seed=N`` connection's own
    kind: MarketKind
    seed: int
    #: virtual start time, ns since the epoch
    start_ns: int
    #: stamp ``time_coinapi`` with the real time of sending (``streams.Stamper``)
    live_stamps: bool = False
    #: the clock starts paused (``resume`` starts it)
    paused: bool = False
    #: the clock stays at the start until the first subscription (a private market, a replay): a client that
    #: connects after start-up still gets the stream from its first message
    starts_on_subscription: bool = False


class Upstream(Protocol):
    """Where a gateway's shared plane gets its market from instead of running one (``server/bus/gateway.py``):
    frames arrive in its hub from outside, and book snapshots may need fetching first."""

    @property
    def now_ns(self) -> int:
        """Virtual time of the newest frames that arrived."""

    def missing(self, keys: Iterable[RouteKey]) -> list[RouteKey]:
        """Of ``keys``, the routes whose snapshot ``fetch`` must get before ``initial_frames`` can give it."""

    async def fetch(self, keys: list[RouteKey]) -> None:
        """Get the snapshots of ``keys`` (``missing``'s answer); ``ProtocolError`` when the market cannot."""

    def initial_frames(self, keys: Iterable[RouteKey]) -> list[bytes]:
        """What a subscriber adding ``keys`` gets first (``snapshots.Snapshots``)."""

    @property
    def healthy(self) -> bool:
        """Whether the market's frames are arriving (``/ready``)."""

    @property
    def speed(self) -> float | None:
        """The market clock's speed, None for "max" (as the simulators last said)."""

    @property
    def paused(self) -> bool:
        """Whether the market's clock is paused (as the simulators last said)."""

    def metrics(self) -> list[tuple[str, str, float, bool]]:
        """(name, description, value, is a counter) of each figure ``/metrics`` exports about the upstream."""

    async def control(self, action: str, value: float) -> None:
        """Have every simulator ``pause``, ``resume``, set its ``speed`` (0: max) or ``step`` (virtual ns), and
        wait for each to answer (``TimeoutError`` saying which did not)."""

    async def load_scenario(self, text: str, source: str) -> int:
        """Have every simulator schedule its part of a scenario (already validated here) from one virtual time,
        which it returns; ``TimeoutError`` when one does not answer."""

    async def rest(self, path: str, query: str, symbol_id: str | None) -> tuple[int, bytes]:
        """(status, JSON body): the simulators' answer to ``GET path?query``, a REST read of the running market
        (quotes, books, trades, OHLCV, rates) about ``symbol_id`` or none; ``TimeoutError`` when they do not."""


class MarketPlane:
    """One market, its connections' hub and the machinery between them; ``start``/``stop`` on the event loop."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        spec: MarketSpec,
        *,
        resolver: RouteResolver,
        replay: ReplaySource | None = None,
        ids: Iterator[int] | None = None,
        budget: OutboxBudget | None = None,
        on_fault: Callable[[Fault], None] | None = None,
        also: FlushingOutlet | None = None,
        upstream: Upstream | None = None,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        epoch_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        """``resolver``: routes of the catalogue connections subscribe in (a replay's includes the recording's
        ids); ``ids``: connection numbers shared with the other planes; ``budget``: the
        outbox budget of every plane; ``on_fault``: carries out a scenario's
        transport faults (they reach the connections of every plane); ``also``: where the market is published
        besides the hub (``simulate``'s bus); ``upstream``: the market comes from there and this plane runs none
        (a ``gateway``)."""
        self.spec = spec
        self.catalog = catalog
        self.resolver = resolver
        self.replay = replay
        self.upstream = upstream
        self._on_fault = on_fault
        self._monotonic_ns = monotonic_ns
        # Anchor before the slow market set-up, or the virtual clock would lag the wall clock by its duration.
        anchor_wall_ns = monotonic_ns()
        self.market = Market(
            catalog, seed=spec.seed, start_ns=spec.start_ns, rate_scale=settings.rate_scale, bars="wanted"
        )
        self.clock = VirtualClock(
            anchor_virtual_ns=spec.start_ns,
            anchor_wall_ns=anchor_wall_ns,
            speed=settings.speed,
            paused=spec.paused or spec.starts_on_subscription,
        )
        self._waiting_for_subscription = spec.starts_on_subscription and not spec.paused
        self.hub = Hub(
            max_messages=settings.max_buffered_messages,
            max_bytes=settings.max_buffered_bytes,
            clock=time.monotonic,
            ids=ids,
            budget=budget,
        )
        self.metadata = Metadata(catalog, self.market)
        self.feed: MarketFeed | ReplayFeed
        self.snapshots: Snapshots
        flush = self.hub.flush
        hold: Callable[[], bool] = self.hub.behind
        #: what REST serves of the past (the shared simulated market only; None with --retain 0)
        self.retention: Retention | None = None
        #: the simulated market's symbol channels (none in a replay)
        self._channels: dict[str, Channel] = {}
        if replay is None:
            stamper = Stamper(live=spec.live_stamps, epoch_ns=epoch_ns)
            channels = self._channels = channels_of(catalog.symbols)
            if spec.kind == "shared" and settings.retain_ns > 0:
                self.retention = Retention(
                    catalog,
                    window_ns=settings.retain_ns,
                    bar_window_ns=settings.retain_bars_ns,
                    start_ns=spec.start_ns,
                    book_of=self.market.book,
                )
            outlet: Hub | TeeOutlet = self.hub
            if also is not None:
                outlet = TeeOutlet(self.hub, also)
                flush, hold = outlet.flush, outlet.behind
            self.feed = MarketFeed(self.market, channels, outlet, stamper, CrossRates(), self.retention)
            self.snapshots = MarketSnapshots(self.market, channels, self.metadata, stamper)
        else:
            self.feed = ReplayFeed(replay, self.hub)
            self.snapshots = replay
        if upstream is not None:
            self.snapshots = upstream
        self.timeline = Timeline()
        self.driver = Driver(
            clock=self.clock,
            feed=self.feed,
            flush=flush,
            timeline=self.timeline,
            run_step=self._run_step,
            tick_s=settings.tick_s,
            max_step_ns=settings.max_step_ns,
            on_failed=self._failed,
            hold=hold,
            monotonic_ns=monotonic_ns,
        )
        self._heartbeat_timer: asyncio.TimerHandle | None = None

    @property
    def now_ns(self) -> int:
        """Virtual time up to which the market has been published (a gateway's: of the newest frames)."""
        return self.feed.now_ns if self.upstream is None else self.upstream.now_ns

    @property
    def failed(self) -> bool:
        """True once the market stopped after repeated failures (``driver.MAX_CONSECUTIVE_FAILURES``)."""
        return self.driver.failed

    @property
    def speed(self) -> float | None:
        """Virtual seconds per wall second, None for "max" (a gateway's: its simulators')."""
        return self.clock.speed if self.upstream is None else self.upstream.speed

    @property
    def paused(self) -> bool:
        """Whether the clock is paused (a gateway's: its simulators')."""
        return self.clock.paused if self.upstream is None else self.upstream.paused

    # -- life -------------------------------------------------------------------------------------------------

    def orders_now(self, symbol_id: str) -> OrderBook:
        """The symbol's orders as a ``book_l3`` subscriber joining now gets them: the order book its subscribers
        follow, or else the book cut into orders now, as the first subscriber's would be (``streams.py``); not
        kept. KeyError for an unknown symbol id."""
        channel = self._channels.get(symbol_id)
        if channel is not None and channel.orders is not None:
            return channel.orders.book
        return self.market.order_book(symbol_id)

    def start(self) -> None:
        """Start the market ticks (none with an upstream) and the heartbeat checks on the running loop
        (idempotent)."""
        if self.upstream is None:
            self.driver.start()
        if self._heartbeat_timer is None:
            self._beat()

    def stop(self) -> None:
        """Stop ticks and heartbeats (idempotent); a replay's file is closed, the outbox budget released."""
        self.driver.stop()
        self.hub.release_budget()
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None
        if self.replay is not None:
            self.replay.close()

    def subscribed(self) -> None:
        """A connection's subscription took effect: a clock that waits for the first subscriber starts now."""
        if self._waiting_for_subscription:
            self._waiting_for_subscription = False
            self.clock.resume(self._monotonic_ns())
            if self.replay is not None:
                logger.info("replay: first subscription, streaming the recording")
            if self.spec.kind == "private":
                # a private market lives for one connection: its ticks and heartbeats start with its subscription
                self.start()

    def _failed(self) -> None:
        """The driver gave up: every connection is told and closed, and heartbeats stop (nothing will follow)."""
        for subscriber in list(self.hub.subscribers):
            self.hub.fail(subscriber, MarketFailed())
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None

    def _beat(self) -> None:
        # Heartbeats follow the wall clock whatever the market's speed: they are about the connection.
        self.hub.beat()
        self._heartbeat_timer = asyncio.get_running_loop().call_later(_HEARTBEAT_CHECK_S, self._beat)

    # -- controls (admin API, pytest fixture) -------------------------------------------------------------------

    def pause(self) -> None:
        """Freeze virtual time (connections stay open; heartbeats continue)."""
        self._waiting_for_subscription = False  # an explicit pause wins over the start at the first subscription
        # Freeze where the stream is, not where the clock is: a busy market may run behind its clock, and
        # nothing may be published after a pause reports its time.
        self.clock.pause_at(self.feed.now_ns, self._monotonic_ns())

    def resume(self) -> None:
        """Let virtual time run again from where it stopped."""
        self._waiting_for_subscription = False
        self.clock.resume(self._monotonic_ns())

    def set_speed(self, speed: float | None) -> None:
        """Virtual seconds per wall second; None = max."""
        self.clock.set_speed(speed, self._monotonic_ns())

    def step(self, duration_ns: int) -> None:
        """Move virtual time forward by ``duration_ns`` and publish what happens, now."""
        self.clock.step(duration_ns)
        self.driver.run_until(min(self.clock.now_ns(self._monotonic_ns()), self.feed.now_ns + duration_ns))

    async def step_in_chunks(self, duration_ns: int) -> None:
        """``step`` a virtual second at a time, with the event loop free in between (``STEP_CHUNK_NS``)."""
        while duration_ns > 0:
            chunk_ns = min(duration_ns, STEP_CHUNK_NS)
            self.step(chunk_ns)
            duration_ns -= chunk_ns
            if duration_ns > 0:
                await asyncio.sleep(0)  # let the other connections be served between chunks

    def status(self) -> dict[str, object]:
        """The market's clock, the hub's counters and the scenarios of this plane (the admin API's status)."""
        stats, speed = self.hub.stats, self.speed
        return {
            "time": format_time(self.now_ns),
            "time_ns": self.now_ns,
            "speed": "max" if speed is None else speed,
            "paused": self.paused,
            "failed": self.failed,
            "messages_sent": stats.messages_sent,
            "bytes_sent": stats.bytes_sent,
            "conflated": stats.conflated,
            "slow_consumer_closes": stats.slow_consumer_closes,
            "scenarios": list(self.timeline.loaded),
            "scenario_steps_pending": self.timeline.pending(),
        }

    def schedule(self, scenario: Scenario, start_ns: int | None = None) -> None:
        """Run ``scenario``'s steps from ``start_ns`` (default: the market's current virtual time); steps already
        due then run at the market's next step."""
        self.timeline.schedule(scenario, self.feed.now_ns if start_ns is None else start_ns)

    def announce_reconnect(self, within_s: int, subscribers: Iterable[Subscriber] | None = None) -> None:
        """Send CoinAPI's ``reconnect`` notice (PROTOCOL.md §3.10), dated on this market's clock, to
        ``subscribers`` (default: every connection). The caller closes them when the window ends."""
        notice = encode_reconnect(within_s, self.feed.now_ns + within_s * _NS_PER_S)
        for subscriber in list(self.hub.subscribers if subscribers is None else subscribers):
            self.hub.send(subscriber, notice)
        self.hub.flush_sent()

    def _run_step(self, step: Step) -> None:
        action = step.action
        if isinstance(action, Fault):
            if self._on_fault is not None:
                self._on_fault(action)
        elif step.ending:
            action.end(self.market)
        else:
            action.start(self.market)
