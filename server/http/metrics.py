"""``GET /metrics``: the emulator's counters in Prometheus text format, read at scrape time.

Nothing here runs per message: the hub already counts its events in plain ints (``HubStats``) and this
collector turns them into metric families only when Prometheus asks. Each app gets its own
``CollectorRegistry``, so several emulators in one process (the pytest plugin, tests) never clash.

Fan-out series carry ``market="shared"`` (the market everyone sees) or ``market="private"`` (all ``?seed=N``
connections together). Private markets come and go with their connections, so a label per seed would leave
Prometheus with a new series per test; their sum keeps two series whatever the load, and ended markets stay
in it (``PrivatePlanes``) so the counters never go down.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator

from prometheus_client import GCCollector, PlatformCollector, ProcessCollector
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.fanout.hub import HubStats
from coinapi_emulator.server.plane.implementation import implementations, package_version

PREFIX = "coinapi_emulator_"

#: (metric name without ``_total``, ``HubStats`` field, help text)
_HUB_COUNTERS = (
    ("sent_messages", "messages_sent", "Frames written to client sockets."),
    ("sent_bytes", "bytes_sent", "Bytes of frames written to client sockets."),
    (
        "conflated_messages",
        "conflated",
        "Quote and book5/20/50 frames replaced by a newer one while their client was behind (slow-client conflation).",
    ),
    (
        "slow_consumer_closes",
        "slow_consumer_closes",
        "Clients closed with 1013 for exceeding --max-buffered-messages or --max-buffered-bytes.",
    ),
    (
        "outbox_budget_closes",
        "budget_closes",
        "Of those, clients closed because the backlogs of all clients were over --max-buffered-bytes-total.",
    ),
    ("heartbeats", "heartbeats", "Heartbeat messages sent to idle clients that asked for them."),
    (
        "reader_waits_given_up",
        "waits_given_up",
        "Times the market at --speed max stopped waiting for a client with a full socket that read nothing for 1 s.",
    ),
)


class EmulatorCollector(Collector):
    """Fan-out counters, connections and the market clock of one emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    def collect(self) -> Iterator[Metric]:
        """Metric families built from the emulator's state now."""
        emulator = self._emulator
        shared, private = emulator.shared.hub, [plane.hub for plane in emulator.private]
        by_market = {"shared": shared.stats, "private": emulator.private.stats()}
        yield from _hub_counters(by_market)
        yield _routed(by_market)
        yield _by_market(
            "connections", "Open WebSocket connections.", len(shared.subscribers), (len(h.subscribers) for h in private)
        )
        yield _by_market(
            "routes",
            "Routes (data type and symbol or pair) with at least one subscriber.",
            len(shared.routes),
            (len(h.routes) for h in private),
        )
        yield _by_market(
            "market_pass_errors",
            "Market passes that raised (logged; the market goes on, and stops after 10 in a row).",
            emulator.shared.driver.errors,
            (emulator.private.pass_errors(),),
            counter=True,
        )
        yield GaugeMetricFamily(
            PREFIX + "buffered_bytes",
            "Bytes of unsent frames held for slow clients, all markets (counted against --max-buffered-bytes-total).",
            value=emulator.outbox_budget.held_bytes,
        )
        yield from self._market()
        yield InfoMetricFamily(
            PREFIX + "build",
            "The emulator's version and implementations: c or python (a build without a C compiler), and the loop.",
            value={"version": package_version(), **implementations()},
        )

    def _market(self) -> Iterator[Metric]:
        plane = self._emulator.shared
        speed = plane.speed
        yield GaugeMetricFamily(
            PREFIX + "market_time_seconds", "Virtual time of the shared market (Unix epoch).", value=plane.now_ns / 1e9
        )
        yield GaugeMetricFamily(
            PREFIX + "market_speed",
            "Virtual seconds per wall second of the shared market; +Inf for --speed max.",
            value=math.inf if speed is None else speed,
        )
        yield GaugeMetricFamily(
            PREFIX + "market_paused", "1 while the shared market's clock is paused.", value=float(plane.paused)
        )
        if plane.upstream is not None:
            for name, documentation, value, counter in plane.upstream.metrics():
                family = CounterMetricFamily if counter else GaugeMetricFamily
                yield family(PREFIX + name, documentation, value=value)
        elif plane.replay is not None:
            yield CounterMetricFamily(
                PREFIX + "replayed_messages", "Recorded messages replayed so far.", value=plane.replay.messages_replayed
            )
        else:
            market = plane.market
            trades = sum(market.trades_count(symbol.symbol_id) for symbol in plane.catalog.symbols)
            yield CounterMetricFamily(
                PREFIX + "market_trades", "Trades the shared market has simulated, on all symbols.", value=trades
            )


def _hub_counters(stats_by_market: dict[str, HubStats]) -> Iterator[Metric]:
    for name, field, documentation in _HUB_COUNTERS:
        family = CounterMetricFamily(PREFIX + name, documentation, labels=["market"])
        for market, stats in stats_by_market.items():
            family.add_metric([market], getattr(stats, field))
        yield family


def _routed(stats_by_market: dict[str, HubStats]) -> Metric:
    family = CounterMetricFamily(
        PREFIX + "routed_messages",
        "Messages published to at least one client, by data type, each counted once however many clients got it.",
        labels=["market", "type"],
    )
    for market, stats in stats_by_market.items():
        for data_type, count in stats.routed.items():
            family.add_metric([market, data_type.value], count)
    return family


def _by_market(name: str, documentation: str, shared: int, private: Iterable[int], *, counter: bool = False) -> Metric:
    kind = CounterMetricFamily if counter else GaugeMetricFamily
    family = kind(PREFIX + name, documentation, labels=["market"])
    family.add_metric(["shared"], shared)
    family.add_metric(["private"], sum(private))
    return family


def metrics_registry(emulator: Emulator) -> CollectorRegistry:
    """A registry of its own for ``emulator``: its collector plus the process, platform and GC collectors."""
    registry = CollectorRegistry()
    registry.register(EmulatorCollector(emulator))
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry
