"""Every scenario event and transport fault, observed by a real WebSocket client over a real socket.

One paused server with the admin API; each test drives the virtual clock with ``step`` so what the client
sees follows from the scenario, not from timing.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from coinapi_emulator.server.testing.admin_client import AdminClient

from .processes import START_TIME, RunningServer, run_server

pytestmark = pytest.mark.e2e
BTC = "BINANCE_SPOT_BTC_USDT"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    args = ["--admin", "--paused", "--start-time", START_TIME, "--exchanges", "40"]
    with run_server(args, tmp_path_factory.mktemp("faults")) as running:
        yield running


@pytest.fixture
def admin(server: RunningServer) -> AdminClient:
    return AdminClient(server.http_url)


def hello(*types: str, symbols: tuple[str, ...] = (BTC + "$",), **extra: Any) -> str:
    return json.dumps(
        {
            "type": "hello",
            "apikey": "k",
            "subscribe_data_type": list(types),
            "subscribe_filter_symbol_id": list(symbols),
        }
        | extra
    )


async def drain(ws: ClientConnection, quiet_s: float = 0.4) -> list[dict[str, Any]]:
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), quiet_s)))
    except TimeoutError:
        return frames


async def subscribed(server: RunningServer, message: str) -> ClientConnection:
    ws = await connect(server.ws_url(), max_queue=None)
    await ws.send(message)
    await asyncio.sleep(0.2)
    return ws


async def step(admin: AdminClient, seconds: float) -> None:
    await asyncio.to_thread(admin.step, seconds)


async def scenario(admin: AdminClient, toml: str) -> None:
    await asyncio.to_thread(admin.load_scenario, toml)


def test_price_jump_moves_every_venue(server: RunningServer, admin: AdminClient) -> None:
    async def run() -> None:
        async with await subscribed(server, hello("trade", symbols=(BTC + "$", "COINBASE_SPOT_BTC_USD$"))) as ws:
            await step(admin, 2)
            before = [f["price"] for f in await drain(ws)]
            await scenario(admin, '[[events]]\nat = 0\ntype = "price_jump"\nasset = "BTC"\npercent = -10')
            await step(admin, 2)
            after = [f for f in await drain(ws)]
            assert before and after
            for symbol in (BTC, "COINBASE_SPOT_BTC_USD"):
                last = [f["price"] for f in after if f["symbol_id"] == symbol][-1]
                assert last < 0.93 * before[-1] or last < 0.93 * before[0], (symbol, last, before[-1])

    asyncio.run(run())


def test_halt_stops_trades_and_book_until_it_ends(server: RunningServer, admin: AdminClient) -> None:
    async def run() -> None:
        async with await subscribed(server, hello("trade", "book")) as ws:
            await drain(ws)
            await scenario(admin, f'[[events]]\nat = 0\ntype = "halt"\nsymbol = "{BTC}"\nduration = 3')
            await step(admin, 2.5)
            assert await drain(ws) == []
            await step(admin, 2)
            assert any(f["type"] == "trade" for f in await drain(ws))

    asyncio.run(run())


def test_outage_silences_a_whole_exchange(server: RunningServer, admin: AdminClient) -> None:
    async def run() -> None:
        async with await subscribed(server, hello("trade", "quote", symbols=("KRAKEN_",))) as ws:
            await scenario(admin, '[[events]]\nat = 0\ntype = "outage"\nexchange = "KRAKEN"\nduration = 5')
            await step(admin, 0.01)
            await drain(ws)
            await step(admin, 4)
            assert await drain(ws) == []

    asyncio.run(run())


def test_spread_widening_shows_in_quotes(server: RunningServer, admin: AdminClient) -> None:
    async def run() -> None:
        async with await subscribed(server, hello("quote")) as ws:
            await step(admin, 3)
            normal = [f["ask_price"] - f["bid_price"] for f in await drain(ws)]
            await scenario(
                admin, f'[[events]]\nat = 0\ntype = "spread"\nsymbol = "{BTC}"\nmultiplier = 50\nduration = 30'
            )
            await step(admin, 3)
            wide = [f["ask_price"] - f["bid_price"] for f in await drain(ws)]
            assert max(wide) > 5 * (sum(normal) / len(normal))

    asyncio.run(run())


def test_volatility_burst_loads(server: RunningServer, admin: AdminClient) -> None:
    toml = '[[events]]\nat = 0\ntype = "volatility"\nasset = "BTC"\nmultiplier = 20\nduration = 5'
    pending = admin.status()["scenario_steps_pending"]
    assert admin.load_scenario(toml) == {"name": "admin request", "steps": 2}
    assert admin.step(6)["scenario_steps_pending"] <= pending


def test_drop_quotes_makes_sequence_gaps(server: RunningServer, admin: AdminClient) -> None:
    async def run() -> None:
        async with await subscribed(server, hello("quote")) as ws:
            await scenario(admin, '[[events]]\nat = 0\ntype = "drop_quotes"\nfraction = 0.5\nduration_s = 30')
            await step(admin, 5)
            sequences = [f["sequence"] for f in await drain(ws)]
            gaps = sum(1 for a, b in itertools.pairwise(sequences) if b != a + 1)
            assert len(sequences) > 10 and gaps > 0

    asyncio.run(run())


@pytest.mark.parametrize(
    ("fault", "params", "code", "text"),
    [
        ("close", {"code": 4000, "reason": "bye"}, 4000, None),
        ("error", {"message": "Simulated", "code": 1011}, 1011, "Simulated"),
        ("rate_limit", {}, 1013, "Too many hello messages: rate limit exceeded, retry later"),
        ("quota", {}, 1008, "API key quota exceeded"),
    ],
)
def test_closing_faults(
    server: RunningServer, admin: AdminClient, fault: str, params: dict[str, Any], code: int, text: str | None
) -> None:
    async def run() -> None:
        async with await subscribed(server, hello("trade")) as ws:
            await asyncio.to_thread(admin.inject_fault, fault, **params)
            frames = []
            with pytest.raises(ConnectionClosed):
                while True:
                    frames.append(json.loads(await asyncio.wait_for(ws.recv(), 5)))
            assert ws.close_code == code
            if text is not None:
                assert frames[-1] == {"type": "error", "message": text}

    asyncio.run(run())


def test_reconnect_notice_then_close(server: RunningServer, admin: AdminClient) -> None:
    async def run() -> None:
        async with await subscribed(server, hello("trade")) as ws:
            await asyncio.to_thread(admin.inject_fault, "reconnect", within_seconds=1)
            notice = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert notice["type"] == "reconnect" and notice["within_seconds"] == 1
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1001

    asyncio.run(run())


def test_stall_holds_frames_then_delivers_them(server: RunningServer, admin: AdminClient) -> None:
    async def run() -> None:
        async with await subscribed(server, hello("trade")) as ws:
            await asyncio.to_thread(admin.inject_fault, "stall", ms=1500)
            await step(admin, 3)
            assert await drain(ws, quiet_s=0.5) == []
            assert [f["type"] for f in await drain(ws, quiet_s=2.0)][:1] == ["trade"]

    asyncio.run(run())


def test_latency_delays_delivery(server: RunningServer, admin: AdminClient) -> None:
    async def run() -> None:
        async with await subscribed(server, hello("trade")) as ws:
            await asyncio.to_thread(admin.inject_fault, "latency", ms=1200, duration_s=5)
            await step(admin, 3)
            assert await drain(ws, quiet_s=0.6) == []
            assert await drain(ws, quiet_s=1.5)

    asyncio.run(run())


def test_refuse_connections_answers_429(server: RunningServer, admin: AdminClient) -> None:
    async def run() -> None:
        await asyncio.to_thread(admin.inject_fault, "refuse_connections", duration_s=1.0)
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.ws_url())
        assert refused.value.response.status_code == 429
        await asyncio.sleep(1.2)
        async with await connect(server.ws_url()):
            pass

    asyncio.run(run())


def test_admin_rejects_bad_requests(server: RunningServer) -> None:
    bad = httpx.post(f"{server.http_url}/admin/faults", json={"fault": "meteor"})
    assert bad.status_code == 400 and "must be one of" in bad.json()["error"]
    bad = httpx.post(f"{server.http_url}/admin/clock/speed", json={"speed": -1})
    assert bad.status_code == 400 and "positive number" in bad.json()["error"]
    toml = {"Content-Type": "application/toml"}
    bad = httpx.post(f"{server.http_url}/admin/scenario", content=b"[[events]]\nat = 1\ntype = 'halt'", headers=toml)
    assert bad.status_code == 400 and "needs 'symbol' or 'exchange'" in bad.json()["error"]


def test_scenario_file_at_start_and_bad_file_exit_2(tmp_path: Path) -> None:
    import subprocess

    from .processes import serve_argv

    bad = tmp_path / "bad.toml"
    bad.write_text('[[events]]\nat = 1\ntype = "halt"\n')
    result = subprocess.run(serve_argv("--scenario", str(bad), "--port", "0"), capture_output=True, timeout=60)
    assert result.returncode == 2
    assert b"event 1 (halt): needs 'symbol' or 'exchange'" in result.stderr
