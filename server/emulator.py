"""The running emulator: builds catalogue, market, clock, hub, feed and gateway from ``Settings``, in one place."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from simulator.catalog import CatalogConfig, build_catalog
from simulator.clock import VirtualClock
from simulator.market import Market

from .auth import load_key_policy
from .config import Settings
from .connection import Gateway
from .feed import Feed
from .frames import text_frame
from .hub import Hub
from .metadata import Metadata
from .protocol.encode import encode_reconnect

logger = logging.getLogger(__name__)

_HEARTBEAT_CHECK_S = 0.25


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
        self.catalog = build_catalog(
            CatalogConfig(exchanges=settings.exchanges, max_symbols_per_exchange=settings.max_symbols_per_exchange),
            seed=settings.seed,
        )
        start_ns = settings.start_time_ns if settings.start_time_ns is not None else epoch_ns()
        # Anchor before the slow market set-up, or the virtual clock would lag the wall clock by its duration.
        anchor_wall_ns = monotonic_ns()
        self.market = Market(self.catalog, seed=settings.seed, start_ns=start_ns, rate_scale=settings.rate_scale)
        self.clock = VirtualClock(anchor_virtual_ns=start_ns, anchor_wall_ns=anchor_wall_ns, speed=settings.speed)
        self.hub = Hub(
            max_messages=settings.max_buffered_messages,
            max_bytes=settings.max_buffered_bytes,
            clock=time.monotonic,
            on_route_added=lambda key: self.feed.route_added(key),
            on_route_removed=lambda key: self.feed.route_removed(key),
        )
        self.metadata = Metadata(self.catalog, self.market)
        self.feed = Feed(
            catalog=self.catalog,
            market=self.market,
            hub=self.hub,
            clock=self.clock,
            metadata=self.metadata,
            tick_s=settings.tick_s,
            max_step_ns=settings.max_step_ns,
            live_stamps=settings.live_stamps,
            monotonic_ns=monotonic_ns,
            epoch_ns=epoch_ns,
        )
        self.gateway = Gateway(
            settings=settings, catalog=self.catalog, hub=self.hub, feed=self.feed, key_policy=self.key_policy
        )
        self._heartbeat_timer: asyncio.TimerHandle | None = None
        self.running = False

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
        self.feed.start()
        self._schedule_heartbeat()
        self.running = True

    def announce_reconnect(self, within_s: int) -> None:
        """Send every client CoinAPI's ``reconnect`` notice (PROTOCOL.md §3.10); the caller closes them later."""
        notice = text_frame(encode_reconnect(within_s, self.market.now_ns + within_s * 1_000_000_000))
        for subscriber in list(self.hub.subscribers):
            self.hub.send(subscriber, notice)
        self.hub.flush()

    def stop(self) -> None:
        """Stop the market ticks and heartbeat checks (idempotent)."""
        self.running = False
        self.feed.stop()
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None

    def _schedule_heartbeat(self) -> None:
        self._heartbeat_timer = asyncio.get_running_loop().call_later(_HEARTBEAT_CHECK_S, self._beat)

    def _beat(self) -> None:
        self.hub.beat()
        self._schedule_heartbeat()
