"""Private markets: a connection that dials ``/v1/?seed=N`` gets a market of its own.

It starts at the configured start time when the connection's first hello arrives and runs at the server's
speed, so parallel tests sharing one emulator each get their own reproducible stream, unaffected by anyone
else. It has its own market, clock, hub and feed, and ends with the connection. Building one takes a few
hundred ms of CPU for the default catalogue (the loop is blocked meanwhile): fine for tests, not for crowds.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

from simulator.catalog import Catalog
from simulator.clock import VirtualClock
from simulator.market import Market

from .config import Settings
from .feed import Feed
from .hub import Hub, HubStats
from .metadata import Metadata
from .scenario import Step, Timeline


def _no_steps(step: Step) -> None:
    """Private markets have no scenario timeline; nothing is ever scheduled on it."""


class PrivateMarket:
    """One connection's own market; ``start`` when its hello arrives, ``stop`` when it closes."""

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        *,
        seed: int,
        start_ns: int,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        call_later: Callable[[float, Callable[[], None]], object] | None = None,
        ids: Iterator[int] | None = None,
    ) -> None:
        """``ids``: the emulator's connection counter, so that the admin API can address this connection too;
        ``call_later``: the loop's timer, for injected latency faults."""
        self.seed = seed
        self._monotonic_ns = monotonic_ns
        self.market = Market(catalog, seed=seed, start_ns=start_ns, rate_scale=settings.rate_scale, bars="wanted")
        self.clock = VirtualClock(anchor_virtual_ns=start_ns, anchor_wall_ns=0, speed=settings.speed, paused=True)
        self.hub = Hub(
            max_messages=settings.max_buffered_messages,
            max_bytes=settings.max_buffered_bytes,
            clock=time.monotonic,
            call_later=call_later,
            on_route_added=lambda key: self.feed.route_added(key),
            on_route_removed=lambda key: self.feed.route_removed(key),
            ids=ids,
        )
        self.feed = Feed(
            catalog=catalog,
            market=self.market,
            hub=self.hub,
            clock=self.clock,
            metadata=Metadata(catalog, self.market),
            tick_s=settings.tick_s,
            max_step_ns=settings.max_step_ns,
            live_stamps=False,
            timeline=Timeline(),
            run_step=_no_steps,
            monotonic_ns=monotonic_ns,
        )
        self.started = False

    def start(self) -> None:
        """Let the clock run from the start time (idempotent)."""
        if self.started:
            return
        self.started = True
        self.clock.resume(self._monotonic_ns())
        self.feed.start()

    def stop(self) -> None:
        """Stop ticking and heartbeats."""
        self.feed.stop()


class PrivateMarkets:
    """The private markets open now, and the summed hub counters of those that have ended (for ``/metrics``).

    Ended markets' counters are kept so that a total over all private markets never goes down, as a Prometheus
    counter must not; the markets themselves are dropped with their connections.
    """

    def __init__(self, factory: Callable[[int], PrivateMarket]) -> None:
        self._factory = factory
        self.open: set[PrivateMarket] = set()
        self._ended = HubStats()

    def start(self, seed: int) -> PrivateMarket:
        """A new market for one connection, counted as open until ``end``."""
        market = self._factory(seed)
        self.open.add(market)
        return market

    def end(self, market: PrivateMarket) -> None:
        """Stop ``market`` and keep its counters (idempotent)."""
        market.stop()
        if market in self.open:
            self.open.discard(market)
            _add_stats(self._ended, market.hub.stats)

    def stats(self) -> HubStats:
        """Counters of every private market so far, open or ended."""
        total = dataclasses.replace(self._ended)
        for market in self.open:
            _add_stats(total, market.hub.stats)
        return total


def _add_stats(total: HubStats, stats: HubStats) -> None:
    for counter in dataclasses.fields(HubStats):
        setattr(total, counter.name, getattr(total, counter.name) + getattr(stats, counter.name))
