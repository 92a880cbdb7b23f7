"""Shared fixtures of the simulator tests: catalogues are built once per session (they are immutable)."""

from __future__ import annotations

import pytest

from coinapi_emulator.simulator.catalog import Catalog, CatalogConfig, build_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The default catalogue (400 real exchanges, seed 0)."""
    return build_catalog(CatalogConfig(), seed=0)


@pytest.fixture(scope="session")
def small_catalog() -> Catalog:
    """The top 24 exchanges with at most 6 symbols each: quick markets with all symbol types."""
    return build_catalog(CatalogConfig(exchanges=24, max_symbols_per_exchange=6), seed=0)
