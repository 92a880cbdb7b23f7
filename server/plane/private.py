"""Private markets: a connection that dials ``/v1/?seed=N`` gets a market plane of its own.

Its clock starts when the connection's first hello takes effect, at the server's ``--start-time`` or else at a fixed
epoch (``PRIVATE_EPOCH_NS``, 2024-01-01), never at the moment the server happened to start: so ``?seed=42`` gives the
same bytes on every server, whenever it started. ``&start_time=`` and ``&speed=`` on the URL choose otherwise for
that connection. Parallel tests sharing one emulator each get their own reproducible stream, unaffected by anyone.
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
#: where a private market's clock starts unless the server has --start-time or the URL ``start_time``
PRIVATE_EPOCH_NS = 1_704_067_200_000_000_000
#: catalogues of other start days kept for private markets (futures and options depend on the day)
_CATALOGUE_DAYS = 4
_NS_PER_DAY = 86_400 * 1_000_000_000

CatalogFor = Callable[[int], tuple[Catalog, RouteResolver]]


@dataclasses.dataclass(frozen=True, slots=True)
class PrivateRequest:
    """What a ``?seed=N[&start_time=...][&speed=...]`` connection asked for."""

    seed: int
    #: virtual start, ns; None: the server's default for private markets
    start_ns: int | None = None
    #: virtual seconds per wall second (None: as fast as possible); only with ``speed_given``
    speed: float | None = None
    speed_given: bool = False


class PrivatePlanes:
    """The private planes open now, and the summed hub counters of those that have ended (for ``/metrics``).

    Ended planes' counters are kept so that a total over all private markets never goes down, as a Prometheus
    counter must not; the planes themselves are dropped with their connections.
    """

    def __init__(
        self,
        settings: Settings,
        catalog_for: CatalogFor,
        *,
        start_ns: int,
        ids: Iterator[int],
        budget: OutboxBudget | None = None,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """``catalog_for``: the catalogue (and its route resolver) of a market that starts at a given time;
        ``start_ns``: where a private market starts unless its URL says otherwise; ``ids``: the emulator's
        connection counter, so that the admin API can address these connections too; ``budget``: the outbox budget
        they share with the shared market."""
        self._settings = settings
        self._catalog_for = catalog_for
        self._catalogs: dict[int, tuple[Catalog, RouteResolver]] = {}
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

    @property
    def building(self) -> int:
        """Private markets being built now (counted against ``--max-private-markets`` already)."""
        return self._building

    async def open(self, request: PrivateRequest) -> MarketPlane:
        """A new plane for one connection, counted as open until ``close``; ``TooManyPrivateMarkets`` when
        ``--max-private-markets`` are open or being built.

        Built on a worker thread: the build is ~200 ms of CPU, and on the event loop it was that much lag for
        every client (the hardening suite's good client saw a p99 ping lag of 289 ms while two were built). On
        the thread the loop still gets the interpreter every switch interval (5 ms)."""
        if len(self._open) + self._building >= self._settings.max_private_markets:
            raise TooManyPrivateMarkets(self._settings.max_private_markets)
        self._building += 1
        try:
            plane = await asyncio.to_thread(self._build, request)
        finally:
            self._building -= 1
        self._open.add(plane)
        return plane

    def _build(self, request: PrivateRequest) -> MarketPlane:
        start_ns = self._start_ns if request.start_ns is None else request.start_ns
        spec = MarketSpec(kind="private", seed=request.seed, start_ns=start_ns, starts_on_subscription=True)
        settings = self._settings
        if request.speed_given:
            settings = dataclasses.replace(settings, speed=request.speed)
        catalog, resolver = self._catalog_of_day(start_ns)
        return MarketPlane(
            settings,
            catalog,
            spec,
            resolver=resolver,
            ids=self._ids,
            budget=self._budget,
            monotonic_ns=self._monotonic_ns,
        )

    def _catalog_of_day(self, start_ns: int) -> tuple[Catalog, RouteResolver]:
        day = start_ns // _NS_PER_DAY
        found = self._catalogs.get(day)
        if found is None:
            if len(self._catalogs) >= _CATALOGUE_DAYS:
                del self._catalogs[next(iter(self._catalogs))]
            found = self._catalogs[day] = self._catalog_for(start_ns)
        return found

    def close(self, plane: MarketPlane) -> None:
        """Stop ``plane`` and keep its counters (idempotent)."""
        plane.stop()
        if plane in self._open:
            self._open.discard(plane)
            self._ended.add(plane.hub.stats)
            self._ended_pass_errors += plane.driver.errors
            _release_memory_soon()

    def pass_errors(self) -> int:
        """Market passes that raised, in every private plane so far, open or ended."""
        return self._ended_pass_errors + sum(plane.driver.errors for plane in self._open)

    def stats(self) -> HubStats:
        """Counters of every private plane so far, open or ended."""
        total = HubStats()
        total.add(self._ended)
        for plane in self._open:
            total.add(plane.hub.stats)
        return total


def _release_memory_soon() -> None:
    """``release_memory`` once the closing connection has let go of the plane (it still holds it now)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        release_memory()
    else:
        loop.call_later(_RELEASE_DELAY_S, release_memory)
