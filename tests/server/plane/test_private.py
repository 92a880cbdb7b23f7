"""Private planes: capped, counted after they end, and freed (with their memory released) when closed."""

from __future__ import annotations

import asyncio
import itertools
import weakref

import pytest

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.plane.private import PrivatePlanes, PrivateRequest
from coinapi_emulator.server.protocol.errors import TooManyPrivateMarkets
from coinapi_emulator.server.protocol.routes import RouteResolver
from coinapi_emulator.simulator.catalog import Catalog, CatalogConfig, build_catalog
from coinapi_emulator.simulator.ohlcv import LIVE_PERIODS

START_NS = 1_704_067_200_000_000_000


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return build_catalog(CatalogConfig(exchanges=3, max_symbols_per_exchange=4), seed=0)


def make_planes(catalog: Catalog, max_private_markets: int = 2) -> PrivatePlanes:
    settings = Settings(max_private_markets=max_private_markets)
    resolver = RouteResolver(catalog, combine="union", live_periods=LIVE_PERIODS, strict=False)
    return PrivatePlanes(settings, lambda start_ns: (catalog, resolver), start_ns=START_NS, ids=itertools.count(1))


def test_no_more_than_the_cap_are_open_or_being_built(catalog: Catalog) -> None:
    async def scenario() -> None:
        planes = make_planes(catalog, max_private_markets=1)
        building = asyncio.create_task(planes.open(PrivateRequest(1)))
        await asyncio.sleep(0)
        with pytest.raises(TooManyPrivateMarkets):
            await planes.open(PrivateRequest(2))
        first = await building
        with pytest.raises(TooManyPrivateMarkets):
            await planes.open(PrivateRequest(2))
        planes.close(first)
        planes.close(first)
        assert len(planes) == 0 and (await planes.open(PrivateRequest(2))).spec.seed == 2

    asyncio.run(scenario())


def test_a_plane_is_built_off_the_event_loop(catalog: Catalog) -> None:
    async def scenario() -> int:
        planes = make_planes(catalog)
        ticks = 0

        async def count() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        counter = asyncio.create_task(count())
        await planes.open(PrivateRequest(1))
        counter.cancel()
        return ticks

    assert asyncio.run(scenario()) > 1, "the loop ran nothing while the plane was built"


def test_on_a_loop_the_memory_is_released_once_the_connection_let_go(catalog: Catalog) -> None:
    async def scenario() -> weakref.ref[object]:
        planes = make_planes(catalog)
        plane = await planes.open(PrivateRequest(1))
        freed: weakref.ref[object] = weakref.ref(plane)
        planes.close(plane)
        del plane
        assert freed() is not None, "its cycles keep it until a full collection"
        await asyncio.sleep(0.3)
        return freed

    assert asyncio.run(scenario())() is None
