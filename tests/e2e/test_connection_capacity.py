"""How many clients a real server takes, and whose they are: a server started under a low soft limit on open files
raises it and serves more connections than that limit allowed; a hard limit below ``--max-connections`` is
reported at start-up; behind a trusted proxy, ``--max-connections-per-ip`` counts the clients ``X-Forwarded-For``
names, and an untrusted proxy's header is ignored."""

from __future__ import annotations

import asyncio
import re
import resource
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from .processes import RunningServer, run_servers, spawn
from .support import hello, receive_text, ws_connect

pytestmark = pytest.mark.e2e

SMALL = ["--exchanges", "3", "--max-symbols-per-exchange", "3", "--start-time", "2024-01-01T00:00:00Z"]
#: the soft limit the server starts with: far fewer descriptors than the clients below
LOW_SOFT_LIMIT = 256
CLIENTS = 400


def _open_files_limit(soft: int, hard: int) -> Callable[[], None]:
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return limit


def _soft_limit_of(running: RunningServer) -> int:
    limits = Path(f"/proc/{running.process.pid}/limits").read_text()
    found = re.search(r"Max open files\s+(\d+)", limits)
    assert found, limits
    return int(found.group(1))


async def _clients_served(url: str, clients: int) -> int:
    """Open ``clients`` connections at once, each asking for BTC's symbol record; how many got it."""
    first = hello(["symbol"], symbols=["BINANCE_SPOT_BTC_USDT$"])

    async def one() -> bool:
        async with ws_connect(url, first) as ws:
            return '"type":"symbol"' in (await receive_text(ws, timeout=30)).replace(" ", "")

    served = 0
    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one()) for _ in range(clients)]
    for task in tasks:
        served += task.result()
    return served


@pytest.mark.skipif(not Path("/proc/self/limits").exists(), reason="reads a process's limits from /proc (Linux)")
def test_a_low_soft_limit_is_raised_and_more_clients_than_it_allowed_are_served(log_dir: Path) -> None:
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 2 * CLIENTS:
        pytest.skip(f"this machine's hard limit on open files ({hard}) is too low to open {CLIENTS} clients")
    args = [*SMALL, "--max-connections", "1000", "--max-connections-per-ip", "1000"]
    spawned = spawn(args, log_dir, preexec_fn=_open_files_limit(LOW_SOFT_LIMIT, hard))
    with run_servers([spawned]) as (running,):
        assert _soft_limit_of(running) == 1064  # --max-connections and 64 of the server's own
        assert f"open files limit raised from {LOW_SOFT_LIMIT} to 1064 for --max-connections 1000" in running.log()
        assert asyncio.run(_clients_served(running.ws_url(), CLIENTS)) == CLIENTS
        assert "Too many open files" not in running.log()


def test_a_hard_limit_below_max_connections_is_reported_and_the_server_serves(log_dir: Path) -> None:
    with run_servers([spawn(SMALL, log_dir, preexec_fn=_open_files_limit(512, 512))]) as (running,):
        assert _soft_limit_of(running) == 512
        assert (
            "the open files limit (512, hard limit 512) leaves room for about 448 connections, fewer than"
            " --max-connections 10000" in running.log()
        )
        assert asyncio.run(_clients_served(running.ws_url(), 3)) == 3


async def _per_ip_answers(url: str, forwarded_for: list[str]) -> list[str]:
    """Open one connection per entry, each saying it comes from that address: "open", or the refusal's status and
    body. The connections stay open until every one has been tried."""
    answers: list[str] = []
    opened = []
    try:
        for address in forwarded_for:
            try:
                opened.append(await connect(url, additional_headers={"X-Forwarded-For": address}, open_timeout=10))
                answers.append("open")
            except InvalidStatus as refused:
                answers.append(f"{refused.response.status_code} {refused.response.body!r}")
    finally:
        for ws in opened:
            await ws.close()
    return answers


def test_behind_a_trusted_proxy_the_per_ip_limit_counts_the_forwarded_clients(log_dir: Path) -> None:
    limit = ["--max-connections-per-ip", "1"]
    trusted = spawn([*SMALL, *limit], log_dir)  # the default trusts this machine's proxies
    untrusted = spawn([*SMALL, *limit, "--forwarded-allow-ips", "192.0.2.1"], log_dir)
    clients = ["198.51.100.1", "198.51.100.2", "198.51.100.1"]
    with run_servers([trusted, untrusted]):
        *accepted, refused = asyncio.run(_per_ip_answers(trusted.ws_url(), clients))
        assert accepted == ["open", "open"]
        assert refused.startswith("429 ") and "Too many connections from 198.51.100.1 (1," in refused, refused
        assert "198.51.100.2:" in trusted.log()  # the client the proxy named, in the connection's log line
        first, *refused_all = asyncio.run(_per_ip_answers(untrusted.ws_url(), clients))
        assert first == "open"
        assert all(answer.startswith("429 ") and "from 127.0.0.1 " in answer for answer in refused_all), refused_all
        assert "198.51.100" not in untrusted.log()
