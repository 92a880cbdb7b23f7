"""Private markets: a connection that dials ``/v1/?seed=N`` gets a market plane of its own.

It starts at the configured start time when the connection's first hello takes effect and runs at the server's
speed, so parallel tests sharing one emulator each get their own reproducible stream, unaffected by anyone else.
It ends with the connection, and its memory goes back to the system (``memory.py``). Building one takes ~200 ms
of CPU for the default catalogue, on a worker thread: fine for tests, not for crowds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterator

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.fanout.budget import OutboxBudget
from coinapi_emulator.server.fanout.hub import HubStats
from coinapi_emulator.server.plane.memory import release_memory
from coinapi_emulator.server.plane.plane import MarketPlane, MarketSpec
from coinapi_emulator.server.protocol.errors import TooManyPrivateMarkets
from coinapi_emulator.server.protocol.routes import RouteResolver
from coinapi_emulator.simulator.catalog import Catalog

#: seconds between a private market's close and the release of its memory
_RELEASE_DELAY_S = 0.1


class PrivatePlanes:
    """The private planes open now, and the summed hub counters of those that have ended (for ``/metrics``).

    Ended planes' counters are kept so that a total over all private markets never goes down, as a Prometheus
    counter must not; the planes themselves are dropped with their connections.
    """

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        resolver: RouteResolver,
        *,
        start_ns: int,
        ids: Iterator[int],
        budget: OutboxBudget | None = None,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """``ids``: the emulator's connection counter, so that the admin API can address these connections too;
        ``budget``: the outbox budget they share with the shared market."""
        self._settings = settings
        self._catalog = catalog
        self._resolver = resolver
        self._start_ns = start_ns
        self._ids = ids
        self._budget = budget
        self._monotonic_ns = monotonic_ns
        self._open: set[MarketPlane] = set()
        #: planes being built now, counted against the limit already
        self._building = 0
        self._ended = HubStats()
        self._ended_pass_errors = 0

    def __iter__(self) -> Iterator[MarketPlane]:
        return iter(self._open)

    def __len__(self) -> int:
        return len(self._open)

    async def open(self, seed: int) -> MarketPlane:
        """A new plane for one connection, counted as open until ``close``; ``TooManyPrivateMarkets`` when
        ``--max-private-markets`` are open or being built.

        Built on a worker thread: the build is ~200 ms of CPU, and on the event loop it was that much lag for
        every client (the hardening suite's good client saw a p99 ping lag of 289 ms while two were built). On
        the thread the loop still gets the interpreter every switch interval (5 ms)."""
        if len(self._open) + self._building >= self._settings.max_private_markets:
            raise TooManyPrivateMarkets(self._settings.max_private_markets)
        self._building += 1
        try:
            plane = await asyncio.to_thread(self._build, seed)
        finally:
            self._building -= 1
        self._open.add(plane)
        return plane

    def _build(self, seed: int) -> MarketPlane:
        spec = MarketSpec(kind="private", seed=seed, start_ns=self._start_ns, starts_on_subscription=True)
        return MarketPlane(
            self._settings,
            self._catalog,
            spec,
            resolver=self._resolver,
            ids=self._ids,
            budget=self._budget,
            monotonic_ns=self._monotonic_ns,
        )

    def close(self, plane: MarketPlane) -> None:
        """Stop ``plane`` and keep its counters (idempotent)."""
        plane.stop()
        if plane in self._open:
            self._open.discard(plane)
            _add_stats(self._ended, plane.hub.stats)
            self._ended_pass_errors += plane.driver.errors
            _release_memory_soon()

    def pass_errors(self) -> int:
        """Market passes that raised, in every private plane so far, open or ended."""
        return self._ended_pass_errors + sum(plane.driver.errors for plane in self._open)

    def stats(self) -> HubStats:
        """Counters of every private plane so far, open or ended."""
        total = dataclasses.replace(self._ended)
        for plane in self._open:
            _add_stats(total, plane.hub.stats)
        return total


def _release_memory_soon() -> None:
    """``release_memory`` once the closing connection has let go of the plane (it still holds it now)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        release_memory()
    else:
        loop.call_later(_RELEASE_DELAY_S, release_memory)


def _add_stats(total: HubStats, stats: HubStats) -> None:
    for counter in dataclasses.fields(HubStats):
        setattr(total, counter.name, getattr(total, counter.name) + getattr(stats, counter.name))
