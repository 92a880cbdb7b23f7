"""The hardening suite (``make hardening``; not part of ``make test``): one real server, run as a shared team
emulator would be (``--api-keys``, ``--admin``, the default market at speed 1 from the wall clock), attacked
case by case while the ``Watcher`` watches BINANCE_SPOT_BTC_USDT.

Limits are the defaults except the two timeouts, shortened so that the suite waits seconds rather than half a
minute for them (``--hello-timeout 3``, ``--header-timeout 2``), and the per-client backlog
(``--max-buffered-messages 2000``) so that a client that does not read reaches it within seconds, and the
private markets (2) and connections per address (300) so that their caps are reached without hundreds of MB.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import RunningServer, run_server
from tests.e2e.support import API_KEY

from .harness import Harness
from .watcher import Watcher

HELLO_TIMEOUT_S = 3.0
HEADER_TIMEOUT_S = 2.0
SERVER_ARGS = [
    "--admin",
    "--hello-timeout",
    str(HELLO_TIMEOUT_S),
    "--header-timeout",
    str(HEADER_TIMEOUT_S),
    "--max-buffered-messages",
    "2000",
    "--max-private-markets",
    "2",
    "--max-connections-per-ip",
    "300",
]


@pytest.fixture(scope="session")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The attacked server."""
    directory = tmp_path_factory.mktemp("hardening")
    keys = directory / "keys.txt"
    keys.write_text(f"{API_KEY}\n", encoding="utf-8")
    with run_server([*SERVER_ARGS, "--api-keys", str(keys)], directory) as running:
        yield running


@pytest.fixture(scope="session")
def watcher(target: RunningServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watcher]:
    """The good client, watching throughout."""
    good = Watcher(target.ws_url(), tmp_path_factory.mktemp("watcher") / "samples.txt")
    good.start()
    yield good
    good.stop()


@pytest.fixture(scope="session")
def harness(target: RunningServer, watcher: Watcher) -> Harness:
    """Runs each attack and writes the results table."""
    report = Path(os.environ.get("HARDENING_REPORT", "build/hardening.md"))
    return Harness(target.process.pid, watcher, report)
