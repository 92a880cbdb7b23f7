"""A real server's output never holds an API key, wherever the client put it (issue 14, item 10)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx2 as httpx
import pytest

from .processes import START_TIME, run_server
from .support import hello, ws_connect

pytestmark = pytest.mark.e2e


def test_keys_in_targets_headers_and_hellos_stay_out_of_the_logs(log_dir: Path) -> None:
    small = ["--start-time", START_TIME, "--exchanges", "3", "--max-symbols-per-exchange", "3", "--log-level", "debug"]
    with run_server(small, log_dir) as running:

        async def clients() -> None:
            for path in ("/v1/?apikey=SECRET-QUERY", "/v1/APIKEY-SECRET-PATH"):
                async with ws_connect(f"ws://127.0.0.1:{running.port}{path}", hello(["trade"])):
                    await asyncio.sleep(0.2)
            first = hello(["trade"], apikey="SECRET-HELLO")
            async with ws_connect(running.ws_url(), first, headers={"X-CoinAPI-Key": "SECRET-HEADER"}):
                await asyncio.sleep(0.2)

        asyncio.run(clients())
        httpx.get(f"{running.http_url}/v1/exchanges?apikey=SECRET-REST", timeout=10)
        httpx.get(f"{running.http_url}/v1/APIKEY-SECRET-REST-PATH/nothing", timeout=10)
        log = running.log()
    assert "apikey=***" in log and "APIKEY-***" in log, "the access lines are there, redacted"
    assert '"GET /v1/exchanges?apikey=*** HTTP/1.1" 200' in log and '"GET /v1/APIKEY-***/nothing HTTP/1.1" 404' in log
    assert "Logging error" not in log
    assert "SECRET" not in log
