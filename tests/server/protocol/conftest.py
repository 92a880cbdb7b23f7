"""Fixtures shared by the protocol tests; factories live in ``protocol_factories.py``."""

from __future__ import annotations

import pytest
from protocol_factories import small_catalog

from simulator.catalog import Catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    """The small hand-built catalogue (see ``protocol_factories.small_catalog``)."""
    return small_catalog()
