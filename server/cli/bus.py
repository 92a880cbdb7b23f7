"""``simulate`` and ``gateway``: the two halves of one ``serve``, joined by a NATS bus (``server/bus/``).

Both run the same uvicorn server as ``serve``. A simulator runs the market (all of it, or one shard of its
exchanges) and publishes it besides serving its own port (REST, the admin API with the clock, direct clients); a
gateway first asks the simulators what market they run, builds the same catalogue, and serves clients from the bus.
"""

from __future__ import annotations

import asyncio
import dataclasses

from coinapi_emulator.server.bus.gateway import BusLink, describe_market
from coinapi_emulator.server.bus.publisher import Publisher
from coinapi_emulator.server.bus.rest import RestResponder
from coinapi_emulator.server.bus.shards import ShardMap
from coinapi_emulator.server.bus.wire import MarketDescription
from coinapi_emulator.server.cli.serve import run
from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.rest import market_reads_app
from coinapi_emulator.server.protocol.routes import CatalogIndex


def run_simulator(
    settings: Settings, *, url: str, shard: int, shards: int, wait_s: float, gateway_timeout_s: float
) -> None:
    """Serve ``settings``' market and publish it (shard ``shard`` of ``shards``) on the bus at ``url``; forget a
    gateway silent for ``gateway_timeout_s``."""
    publisher = Publisher(url, shard=shard, owns=lambda key: True, wait_s=wait_s, gateway_timeout_s=gateway_timeout_s)
    emulator = Emulator(settings, also=publisher.outlet, shard=(shard, shards))
    shard_map = ShardMap(emulator.full_catalog, shards)
    publisher.outlet.owns = lambda key: shard_map.shard(key) == shard
    description = MarketDescription(
        seed=settings.seed,
        start_ns=emulator.shared.spec.start_ns,
        exchanges=settings.exchanges,
        max_symbols_per_exchange=settings.max_symbols_per_exchange,
        shards=shards,
    )
    publisher.bind(emulator.shared, description, RestResponder(market_reads_app(emulator)), emulator.load_scenario_part)
    run(settings, emulator=emulator, services=[publisher])


def run_gateway(settings: Settings, *, url: str, wait_s: float) -> None:
    """Serve the market the simulators on the bus at ``url`` publish (``TimeoutError`` if none answers)."""
    description = asyncio.run(describe_market(url, wait_s=wait_s))
    settings = dataclasses.replace(
        settings,
        seed=description.seed,
        start_time_ns=description.start_ns,
        exchanges=description.exchanges,
        max_symbols_per_exchange=description.max_symbols_per_exchange,
        # REST's history lives with the market, in the simulator
        retain_ns=0,
    )
    link = BusLink(url, description, wait_s=wait_s)
    emulator = Emulator(settings, upstream=link)
    shards = ShardMap(emulator.catalog, description.shards)
    link.bind(emulator.shared.hub, emulator.shared.metadata, shards, CatalogIndex(emulator.catalog))
    run(settings, emulator=emulator, services=[link])
