"""The running emulator: builds catalogue, market, clock, hub, feed and gateway from ``Settings``, in one place."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Iterable

from simulator.catalog import CatalogConfig, build_catalog
from simulator.clock import VirtualClock
from simulator.market import Market

from .auth import load_key_policy
from .config import Settings
from .connection import Gateway
from .faults import Fault, FaultInjector
from .feed import Feed
from .frames import text_frame
from .hub import Hub, Subscriber
from .metadata import Metadata
from .private import PrivateMarket, PrivateMarkets
from .protocol.encode import encode_reconnect, format_time
from .protocol.routes import RouteKey
from .replay import ReplaySource
from .replay_catalog import routing_catalog
from .scenario import Scenario, Step, Timeline, load_scenario

logger = logging.getLogger(__name__)


def _call_later(delay_s: float, callback: Callable[[], None]) -> object:
    return asyncio.get_running_loop().call_later(delay_s, callback)


_NS_PER_DAY = 86_400 * 1_000_000_000


class Emulator:
    """One emulator instance; ``start``/``stop`` run on the event loop (the app's lifespan calls them)."""

    def __init__(
        self,
        settings: Settings,
        *,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        epoch_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self.settings = settings
        self.key_policy = load_key_policy(settings.api_keys_file)
        start_ns = settings.start_time_ns if settings.start_time_ns is not None else epoch_ns()
        # Read the whole recording before anything listens, so that a bad file fails start-up (RecordingError).
        self.replay = (
            None if settings.replay_file is None else ReplaySource.open(settings.replay_file, start_ns=start_ns)
        )
        # Contracts expire relative to the start day, so a market started today lists live futures and options.
        catalog_epoch_ns = start_ns - start_ns % _NS_PER_DAY
        self.catalog = build_catalog(
            CatalogConfig(
                exchanges=settings.exchanges,
                max_symbols_per_exchange=settings.max_symbols_per_exchange,
                epoch_ns=catalog_epoch_ns,
            ),
            seed=settings.seed,
        )
        # Anchor before the slow market set-up, or the virtual clock would lag the wall clock by its duration.
        anchor_wall_ns = monotonic_ns()
        self.market = Market(
            self.catalog, seed=settings.seed, start_ns=start_ns, rate_scale=settings.rate_scale, bars="wanted"
        )
        self.clock = VirtualClock(
            anchor_virtual_ns=start_ns, anchor_wall_ns=anchor_wall_ns, speed=settings.speed, paused=settings.paused
        )
        # A replay waits for its first subscription, so that a client connecting after start-up still gets the
        # recording from its first frame (with --paused, the admin API's resume starts it instead).
        self._replay_waiting = self.replay is not None and not self.clock.paused
        if self._replay_waiting:
            self.clock.pause(anchor_wall_ns)
        self._monotonic_ns = monotonic_ns
        #: one numbering for the connections of the shared market and of the private ones (admin API ids)
        connection_ids = itertools.count(1)
        self.hub = Hub(
            max_messages=settings.max_buffered_messages,
            max_bytes=settings.max_buffered_bytes,
            clock=time.monotonic,
            call_later=_call_later,
            on_route_added=self._route_added,
            on_route_removed=lambda key: self.feed.route_removed(key),
            ids=connection_ids,
        )
        self.metadata = Metadata(self.catalog, self.market)
        self.faults = FaultInjector(self._hubs, announce_reconnect=self._announce_in, call_later=_call_later)
        self.timeline = Timeline()
        self.feed = Feed(
            catalog=self.catalog,
            market=self.market,
            hub=self.hub,
            clock=self.clock,
            metadata=self.metadata,
            tick_s=settings.tick_s,
            max_step_ns=settings.max_step_ns,
            live_stamps=settings.live_stamps,
            timeline=self.timeline,
            run_step=self._run_step,
            source=self.replay,
            monotonic_ns=monotonic_ns,
            epoch_ns=epoch_ns,
        )
        self.private_markets = PrivateMarkets(
            lambda seed: PrivateMarket(
                settings,
                self.catalog,
                seed=seed,
                start_ns=start_ns,
                monotonic_ns=monotonic_ns,
                call_later=_call_later,
                ids=connection_ids,
            )
        )
        self.gateway = Gateway(
            settings=settings,
            # A replay's filters also select the recorded symbols the synthetic catalogue lacks (replay_catalog.py).
            catalog=self.catalog if self.replay is None else routing_catalog(self.catalog, self.replay.inventory),
            hub=self.hub,
            feed=self.feed,
            key_policy=self.key_policy,
            refusing_connections=self.faults.refusing_connections,
            private_markets=self.private_markets,
        )
        if settings.scenario_file is not None:
            self.load_scenario(settings.scenario_file.read_text(encoding="utf-8"), source=str(settings.scenario_file))
        self.running = False

    # -- control (admin API, pytest fixture) ----------------------------------------------------------------

    def load_scenario(self, text: str, *, source: str) -> Scenario:
        """Validate a scenario and schedule it from the market's current virtual time."""
        scenario = load_scenario(text, self.catalog, source=source)
        self.timeline.schedule(scenario, self.feed.source.now_ns)
        logger.info("scenario %r loaded: %d steps from %s", scenario.name, len(scenario.steps), source)
        return scenario

    def _route_added(self, key: RouteKey) -> None:
        """Hub callback: tell the feed; in a replay, the first subscription starts the recording's clock."""
        self.feed.route_added(key)
        if self._replay_waiting:
            self._replay_waiting = False
            self.clock.resume(self._monotonic_ns())
            logger.info("replay: first subscription, streaming the recording")

    def _run_step(self, step: Step) -> None:
        action = step.action
        if isinstance(action, Fault):
            touched = self.faults.apply(action)
            logger.info("scenario fault %s applied to %d connections", action.kind, touched)
        elif step.ending:
            action.end(self.market)
        else:
            action.start(self.market)

    def pause(self) -> None:
        """Freeze virtual time (connections stay open; heartbeats continue)."""
        self._replay_waiting = False  # an explicit pause wins over a replay's start at the first subscription
        # Freeze where the stream is, not where the clock is: a busy market may run behind its clock, and
        # nothing may be published after a pause reports its time.
        self.clock.pause_at(self.feed.source.now_ns, self._monotonic_ns())

    def resume(self) -> None:
        """Let virtual time run again from where it stopped."""
        self._replay_waiting = False
        self.clock.resume(self._monotonic_ns())

    def set_speed(self, speed: float | None) -> None:
        """Virtual seconds per wall second; None = max."""
        self.clock.set_speed(speed, self._monotonic_ns())

    def step(self, duration_ns: int) -> None:
        """Move virtual time forward by ``duration_ns`` and publish what happens, now."""
        self.clock.step(duration_ns)
        self.feed.run_until(min(self.clock.now_ns(self._monotonic_ns()), self.feed.source.now_ns + duration_ns))

    def _planes(self) -> list[tuple[Hub, Feed, str, int]]:
        """(hub, feed, market kind, seed) of the shared market and of each private market open now."""
        shared = (self.hub, self.feed, "shared", self.settings.seed)
        return [shared, *((m.hub, m.feed, "private", m.seed) for m in self.private_markets.open)]

    def _hubs(self) -> list[Hub]:
        return [hub for hub, _, _, _ in self._planes()]

    def status(self) -> dict[str, object]:
        """Clock, counters (of the shared market) and every connection, private markets' included, for the admin
        API."""
        stats = self.hub.stats
        connections = [(s, kind, seed) for hub, _, kind, seed in self._planes() for s in hub.subscribers]
        clients = [
            {
                "id": s.id,
                "peer": s.peer,
                "market": kind,
                "seed": seed,
                "messages_sent": s.messages_sent,
                "routes": len(s.routes),
            }
            for s, kind, seed in sorted(connections, key=lambda connection: connection[0].id)
        ]
        return {
            "time": format_time(self.feed.source.now_ns),
            "time_ns": self.feed.source.now_ns,
            "speed": "max" if self.clock.speed is None else self.clock.speed,
            "paused": self.clock.paused,
            "connections": len(clients),
            "messages_sent": stats.messages_sent,
            "bytes_sent": stats.bytes_sent,
            "conflated": stats.conflated,
            "slow_consumer_closes": stats.slow_consumer_closes,
            "scenarios": list(self.timeline.loaded),
            "scenario_steps_pending": self.timeline.pending(),
            "refusing_connections": self.faults.refusing_connections(),
            "clients": clients,
        }

    def start(self) -> None:
        """Start the market ticks and the heartbeat checks on the running loop."""
        logger.info(
            "market: %d exchanges, %d assets, %d symbols, seed=%d, speed=%s",
            len(self.catalog.exchanges),
            len(self.catalog.assets),
            len(self.catalog.symbols),
            self.settings.seed,
            "max" if self.settings.speed is None else self.settings.speed,
        )
        logger.info(
            "CoinAPI WebSocket on ws://%s:%d/v1/, REST on http://%s:%d/v1/%s",
            self.settings.host,
            self.settings.port,
            self.settings.host,
            self.settings.port,
            ", admin API on /admin" if self.settings.admin else "",
        )
        if self.replay is not None:
            logger.info("%s", self.replay.summary())
        self.feed.start()
        self.running = True

    def announce_reconnect(self, within_s: int) -> None:
        """Send CoinAPI's ``reconnect`` notice (PROTOCOL.md §3.10) to every connection, private markets' included.

        The caller closes them when the window ends.
        """
        for hub, feed, _, _ in self._planes():
            self._announce(hub, feed, within_s, hub.subscribers)

    def _announce_in(self, hub: Hub, within_s: int, subscribers: Iterable[Subscriber]) -> None:
        """The notice to some connections of ``hub``, dated on the clock of the market they see."""
        feed = next(feed for plane_hub, feed, _, _ in self._planes() if plane_hub is hub)
        self._announce(hub, feed, within_s, subscribers)

    @staticmethod
    def _announce(hub: Hub, feed: Feed, within_s: int, subscribers: Iterable[Subscriber]) -> None:
        notice = text_frame(encode_reconnect(within_s, feed.source.now_ns + within_s * 1_000_000_000))
        for subscriber in list(subscribers):
            hub.send(subscriber, notice)
        hub.flush()

    def stop(self) -> None:
        """Stop the market ticks and heartbeat checks (idempotent)."""
        self.running = False
        self.feed.stop()
        if self.replay is not None:
            self.replay.close()
