"""Fixtures for the e2e tests: real ``coinapi-emulator serve`` processes (see ``processes.py``).

Servers that tests can share are session-scoped so the whole e2e suite stays fast. Every server runs on the
virtual clock (``--start-time``), so timestamps derive from the start time, not from the wall clock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .processes import START_TIME, RunningServer, run_server
from .support import API_KEY


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The shared server: defaults (any non-empty key, speed 1) on the virtual clock."""
    with run_server(["--start-time", START_TIME], tmp_path_factory.mktemp("server")) as running:
        yield running


@pytest.fixture(scope="session")
def api_keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ``--api-keys`` file accepting ``API_KEY`` only."""
    path = tmp_path_factory.mktemp("keys") / "keys.txt"
    path.write_text(f"# accepted keys\n{API_KEY}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def keyed_server(tmp_path_factory: pytest.TempPathFactory, api_keys_file: Path) -> Iterator[RunningServer]:
    """A server that accepts only the key in ``api_keys_file``; five exchanges (BINANCE first), to start fast."""
    args = ["--start-time", START_TIME, "--api-keys", str(api_keys_file), "--exchanges", "5"]
    with run_server(args, tmp_path_factory.mktemp("keyed")) as running:
        yield running


@pytest.fixture(scope="session")
def symbols(server: RunningServer) -> dict[str, dict[str, Any]]:
    """The shared server's active symbols by id, from ``GET /v1/symbols``."""
    return {symbol["symbol_id"]: symbol for symbol in server.rest("/v1/symbols")}


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    """Where a test's own server processes write their output."""
    return tmp_path


@pytest.fixture
def plugin_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No ``COINAPI_EMULATOR_*`` variable of this run (the pytest plugin's external mode reads some) reaches the
    pytest runs a test starts; set what the test needs through the returned ``monkeypatch``."""
    for name in [name for name in os.environ if name.startswith("COINAPI_EMULATOR_")]:
        monkeypatch.delenv(name)
    return monkeypatch
