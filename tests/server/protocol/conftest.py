"""Fixtures shared by the protocol tests; factories live in ``factories.py``."""

from __future__ import annotations

import pytest

from coinapi_emulator.simulator.catalog import Catalog
from tests.server.protocol.factories import small_catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The small hand-built catalogue (see ``factories.small_catalog``)."""
    return small_catalog()
