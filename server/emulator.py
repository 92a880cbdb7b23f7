"""The running emulator, built from ``Settings`` in one place: the shared market plane, the private planes of
``?seed=N`` connections, and the faults injected into their connections. The ASGI app (``server/http/app.py``)
serves it; ``start``/``stop`` run on the event loop (the app's lifespan calls them)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.control.faults import Fault, FaultInjector
from coinapi_emulator.server.control.injection import Injection, InjectionError
from coinapi_emulator.server.control.journal import ConnectionJournal, Journal
from coinapi_emulator.server.control.scenario import Scenario, load_scenario
from coinapi_emulator.server.fanout.budget import OutboxBudget
from coinapi_emulator.server.plane.plane import MarketPlane, MarketSpec, Upstream
from coinapi_emulator.server.plane.private import PRIVATE_EPOCH_NS, PrivatePlanes
from coinapi_emulator.server.plane.tee import FlushingOutlet
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.routes import RouteKey, RouteResolver, ohlcv_topic_parts
from coinapi_emulator.server.protocol.session import KeyPolicy
from coinapi_emulator.server.replay.catalog import routing_catalog
from coinapi_emulator.server.replay.source import ReplaySource
from coinapi_emulator.simulator.catalog import Catalog, catalog_for_start, shard_catalog
from coinapi_emulator.simulator.history import MarketHistory
from coinapi_emulator.simulator.ohlcv import LIVE_PERIODS

logger = logging.getLogger(__name__)

_NS_PER_DAY = 86_400 * 1_000_000_000


def _call_later(delay_s: float, callback: Callable[[], None]) -> object:
    return asyncio.get_running_loop().call_later(delay_s, callback)


def _key_policy(settings: Settings) -> KeyPolicy:
    """Any non-empty key without ``--api-keys`` and ``--api-key``; else the keys in the file and those given."""
    keys = set(settings.api_keys)
    path = settings.api_keys_file
    if path is not None:
        keys.update(KeyPolicy.from_lines(path.read_text(encoding="utf-8"), source=str(path)).allowed or ())
    return KeyPolicy(allowed=frozenset(keys) or None)


def _receives(route: RouteKey, data_type: str, symbol_id: str | None) -> bool:
    route_type, topic = route
    if route_type.value != data_type:
        return False
    if symbol_id is None or topic == symbol_id:
        return True
    return route_type is DataType.OHLCV and ohlcv_topic_parts(topic)[0] == symbol_id


class Emulator:
    """One emulator instance: ``shared``, the market every connection sees by default; ``private``, the planes
    of ``?seed=N`` connections; ``faults``, what the admin API and scenarios inject into their connections."""

    def __init__(
        self,
        settings: Settings,
        *,
        also: FlushingOutlet | None = None,
        upstream: Upstream | None = None,
        shard: tuple[int, int] | None = None,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
        epoch_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        """``also``: where the shared market is published besides its hub (``simulate``'s bus); ``upstream``: the
        shared market comes from there instead of running here (a ``gateway``); ``shard``: (i, n), this process
        simulates shard i of n of the catalogue's exchanges (``simulate --shard``)."""
        self.settings = settings
        self.key_policy = _key_policy(settings)
        start_ns = settings.start_time_ns if settings.start_time_ns is not None else epoch_ns()
        # Read the whole recording before anything listens, so that a bad file fails start-up (RecordingError).
        replay = None if settings.replay_file is None else ReplaySource.open(settings.replay_file, start_ns=start_ns)
        #: the catalogue of the whole market, and ``catalog``: what this process simulates (a shard's part of it)
        self.full_catalog = catalog_for_start(
            start_ns,
            exchanges=settings.exchanges,
            max_symbols_per_exchange=settings.max_symbols_per_exchange,
            seed=settings.seed,
        )
        self.catalog = self.full_catalog if shard is None else shard_catalog(self.full_catalog, *shard)
        #: one numbering for the connections of every plane (the admin API's ids)
        ids = itertools.count(1)
        self.faults = FaultInjector(call_later=_call_later)
        #: what each client sent (the admin API's request journal)
        self.journal = Journal(epoch_ns=epoch_ns)
        #: what the slow clients of every plane may hold together
        self.outbox_budget = OutboxBudget(settings.max_buffered_bytes_total)
        synthetic = self._resolver(self.catalog)
        self.shared = MarketPlane(
            settings,
            self.catalog,
            MarketSpec(
                kind="shared",
                seed=settings.seed,
                start_ns=start_ns,
                live_stamps=settings.live_stamps,
                paused=settings.paused,
                # A replay waits for its first subscription (with --paused, the admin API's resume starts it), and so
                # does a market at --speed max: it would burn a core and run its clock far ahead before anyone listens.
                starts_on_subscription=replay is not None or settings.speed is None,
            ),
            # A replay's filters also select the recorded symbols the synthetic catalogue lacks (replay/catalog.py).
            resolver=synthetic if replay is None else self._resolver(routing_catalog(self.catalog, replay.inventory)),
            replay=replay,
            ids=ids,
            budget=self.outbox_budget,
            on_fault=self._scenario_fault,
            also=also,
            upstream=upstream,
            monotonic_ns=monotonic_ns,
            epoch_ns=epoch_ns,
        )
        #: OHLCV and rates before the start (``--history``), generated on request; None without it or in a replay
        self.history = (
            None
            if settings.history_ns == 0 or replay is not None
            else MarketHistory(
                self.catalog,
                seed=settings.seed,
                start_ns=start_ns,
                span_ns=settings.history_ns,
                anchor_mid_ticks=self.shared.market.start_mid_ticks,
                anchor_rate_usd=self.shared.market.start_rate_usd,
                anchor_book=self.shared.market.start_book,
            )
        )
        self.private = PrivatePlanes(
            settings,
            self._catalog_for,
            # the server's start when it was given, else a fixed epoch: never the moment the server started
            start_ns=PRIVATE_EPOCH_NS if settings.start_time_ns is None else settings.start_time_ns,
            ids=ids,
            budget=self.outbox_budget,
            monotonic_ns=monotonic_ns,
        )
        if settings.scenario_file is not None:
            self.load_scenario(settings.scenario_file.read_text(encoding="utf-8"), source=str(settings.scenario_file))
        self._synthetic = synthetic
        self.running = False
        #: True from the start of a shutdown: /ready answers 503 while the connections drain
        self.draining = False

    def _catalog_for(self, start_ns: int) -> tuple[Catalog, RouteResolver]:
        """The catalogue of a market starting at ``start_ns`` (the shared one's on its day) and its resolver."""
        if start_ns // _NS_PER_DAY == self.shared.spec.start_ns // _NS_PER_DAY:
            return self.catalog, self._synthetic
        settings = self.settings
        catalog = catalog_for_start(
            start_ns,
            exchanges=settings.exchanges,
            max_symbols_per_exchange=settings.max_symbols_per_exchange,
            seed=settings.seed,
        )
        return catalog, self._resolver(catalog)

    def _resolver(self, catalog: Catalog) -> RouteResolver:
        settings = self.settings
        return RouteResolver(
            catalog, combine=settings.filter_combine, live_periods=LIVE_PERIODS, strict=settings.strict_filters
        )

    @property
    def failed(self) -> bool:
        """True once the shared market stopped after repeated failures: not ready, and the process should exit."""
        return self.shared.failed

    def planes(self) -> list[MarketPlane]:
        """The shared plane, then the private planes open now."""
        return [self.shared, *self.private]

    # -- control (admin API, scenarios) -----------------------------------------------------------------------

    def apply_fault(self, fault: Fault) -> int:
        """Carry out ``fault`` on the connections of every plane; how many it touched."""
        return self.faults.apply(fault, self.planes())

    def inject(self, injection: Injection) -> int:
        """Send an injected frame to its connections (every open one when it names none), in their streams'
        order; how many got it. ``InjectionError`` naming the connections that are not open."""
        targets = [
            (plane, subscriber)
            for plane in self.planes()
            for subscriber in plane.hub.subscribers
            if not injection.connections or subscriber.id in injection.connections
        ]
        missing = injection.connections - {subscriber.id for _, subscriber in targets}
        if missing:
            raise InjectionError(f"no open connection {', '.join(map(str, sorted(missing)))}")
        payloads: dict[MarketPlane, bytes] = {}  # built once per plane: its virtual time stamps a built message
        for plane, subscriber in targets:
            if plane not in payloads:
                payloads[plane] = injection.payload(plane.now_ns)
            plane.hub.send(subscriber, payloads[plane])
        for plane in payloads:
            plane.hub.flush_sent()
        return len(targets)

    def journals(self, *, data_type: str | None = None, symbol_id: str | None = None) -> list[ConnectionJournal]:
        """The request journals, oldest connection first; with ``data_type`` (and ``symbol_id``), only the open
        connections that receive it now: a route of that type whose topic is the symbol (an ohlcv topic's
        symbol part, or an exrate's ``BASE/QUOTE``)."""
        if data_type is None:
            return list(self.journal)
        wanted = {
            subscriber.id
            for plane in self.planes()
            for subscriber in plane.hub.subscribers
            if any(_receives(route, data_type, symbol_id) for route in subscriber.routes)
        }
        return [journal for journal in self.journal if journal.id in wanted]

    def _scenario_fault(self, fault: Fault) -> None:
        touched = self.apply_fault(fault)
        logger.info("scenario fault %s applied to %d connections", fault.kind, touched)

    def load_scenario(self, text: str, *, source: str) -> Scenario:
        """Validate a scenario and schedule it on the shared market from its current virtual time."""
        scenario = load_scenario(text, self.catalog, source=source)
        self.shared.schedule(scenario)
        logger.info("scenario %r loaded: %d steps from %s", scenario.name, len(scenario.steps), source)
        return scenario

    def load_scenario_part(self, text: str, *, source: str, start_ns: int) -> Scenario:
        """Validate a scenario against the whole market (a gateway loaded it for every shard) and schedule, from
        virtual ``start_ns``, the part this process's market carries out (``Scenario.within``)."""
        scenario = load_scenario(text, self.full_catalog, source=source).within(self.catalog)
        self.shared.schedule(scenario, start_ns)
        logger.info("scenario %r loaded: %d steps here, from %s", scenario.name, len(scenario.steps), source)
        return scenario

    def clients(self) -> list[dict[str, Any]]:
        """Every open connection, private markets' included, oldest first: id, peer, market, seed, messages sent
        and routes."""
        connections = [(s, plane.spec) for plane in self.planes() for s in plane.hub.subscribers]
        return [
            {
                "id": s.id,
                "peer": s.peer,
                "market": spec.kind,
                "seed": spec.seed,
                "messages_sent": s.messages_sent,
                "routes": len(s.routes),
            }
            for s, spec in sorted(connections, key=lambda connection: connection[0].id)
        ]

    def status(self) -> dict[str, object]:
        """The shared market's status (``MarketPlane.status``) and every connection (``clients``), for the admin
        API."""
        clients = self.clients()
        return {
            **self.shared.status(),
            "connections": len(clients),
            "refusing_connections": self.faults.refusing_connections(),
            "clients": clients,
        }

    # -- life -------------------------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the shared market (private ones start with their first subscription)."""
        settings = self.settings
        if self.shared.replay is not None:  # the simulated catalogue only fills in ids the recording lacks
            logger.info("%s", self.shared.replay.summary())
        else:
            logger.info(
                "market: %d exchanges, %d assets, %d symbols, seed=%d, speed=%s",
                len(self.catalog.exchanges),
                len(self.catalog.assets),
                len(self.catalog.symbols),
                settings.seed,
                "max" if settings.speed is None else settings.speed,
            )
        self.shared.start()
        self.running = True

    def announce_reconnect(self, within_s: int) -> None:
        """Send CoinAPI's ``reconnect`` notice (PROTOCOL.md §3.10) to every connection of every plane; the
        caller closes them when the window ends."""
        for plane in self.planes():
            plane.announce_reconnect(within_s)

    def stop(self) -> None:
        """Stop every plane (idempotent)."""
        self.running = False
        for plane in self.planes():
            plane.stop()
