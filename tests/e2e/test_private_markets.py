"""``/v1/?seed=N``: a connection's own market, starting at the start time when its hello arrives."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from coinapi_emulator.server.testing.admin_client import AdminClient

from .processes import START_TIME, RunningServer, run_server

pytestmark = pytest.mark.e2e
HELLO = json.dumps(
    {
        "type": "hello",
        "apikey": "k",
        "subscribe_data_type": ["trade", "quote", "book"],
        "subscribe_filter_symbol_id": ["BINANCE_SPOT_BTC_USDT$", "COINBASE_SPOT_ETH_USD$"],
    }
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    args = ["--start-time", START_TIME, "--speed", "20", "--admin"]
    with run_server(args, tmp_path_factory.mktemp("private")) as running:
        yield running


async def first_frames(url: str, count: int = 300) -> list[bytes]:
    async with connect(url, max_queue=None) as ws:
        await ws.send(HELLO)
        return [await asyncio.wait_for(ws.recv(decode=False), 10) for _ in range(count)]


def test_same_seed_same_bytes_at_different_times(server: RunningServer) -> None:
    first = asyncio.run(first_frames(server.ws_url() + "?seed=5"))
    second = asyncio.run(first_frames(server.ws_url() + "?seed=5"))
    assert first == second
    assert json.loads(first[0])["time_exchange"].startswith("2024-01-01T00:00:00")


def test_parallel_private_markets_do_not_disturb_each_other(server: RunningServer) -> None:
    async def both() -> tuple[list[bytes], list[bytes], list[bytes]]:
        return await asyncio.gather(
            first_frames(server.ws_url() + "?seed=5"),
            first_frames(server.ws_url() + "?seed=6"),
            first_frames(server.ws_url()),
        )

    five, six, shared = asyncio.run(both())
    assert five == asyncio.run(first_frames(server.ws_url() + "?seed=5"))
    assert five != six and five != shared


def test_bad_seed_is_refused_with_400(server: RunningServer) -> None:
    async def run() -> None:
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.ws_url() + "?seed=abc")
        assert refused.value.response.status_code == 400

    asyncio.run(run())


def test_admin_faults_reach_a_private_connection_by_its_id(server: RunningServer) -> None:
    admin = AdminClient(server.http_url)

    async def run() -> tuple[dict[str, object], list[dict[str, object]], int | None]:
        async with connect(server.ws_url() + "?seed=9", max_queue=None) as ws:
            await ws.send(HELLO)
            await asyncio.wait_for(ws.recv(), 10)  # the hello was processed
            status = await asyncio.to_thread(admin.status)
            mine = next(client for client in status["clients"] if client["market"] == "private" and client["seed"] == 9)
            await asyncio.to_thread(admin.inject_fault, "reconnect", within_seconds=2, connections=[mine["id"]])
            received = []
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    received.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return mine, received, closed.value.rcvd.code if closed.value.rcvd else None

    mine, received, code = asyncio.run(run())
    assert mine["routes"] == 6
    notices = [message for message in received if message["type"] == "reconnect"]
    # dated on the private market's clock, which started at the start time a moment ago
    assert len(notices) == 1 and str(notices[0]["before_time"]).startswith("2024-01-01")
    assert code == 1001


def test_a_latency_fault_on_a_private_connection_keeps_its_stream_whole(server: RunningServer) -> None:
    admin = AdminClient(server.http_url)

    async def run() -> tuple[int, list[dict[str, object]]]:
        async with connect(server.ws_url() + "?seed=10", max_queue=None) as ws:
            await ws.send(HELLO)
            await asyncio.wait_for(ws.recv(), 10)
            status = await asyncio.to_thread(admin.status)
            mine = next(client for client in status["clients"] if client["seed"] == 10)
            touched = await asyncio.to_thread(
                admin.inject_fault, "latency", ms=100, duration_s=5, connections=[mine["id"]]
            )
            # far more than could have been queued before the fault: the held frames must keep coming
            return touched["connections"], [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(600)]

    touched, messages = asyncio.run(run())
    assert touched == 1
    last: dict[tuple[object, object], int] = {}
    for message in messages:
        if "sequence" in message:
            key = (message["type"], message["symbol_id"])
            sequence = int(str(message["sequence"]))
            assert key not in last or sequence == last[key] + 1, f"gap in {key}"
            last[key] = sequence


def test_a_seed_alone_gives_the_same_bytes_on_servers_started_at_different_times(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Issue 18: no --start-time on either server, started a second apart; the private markets start at the fixed
    private epoch, so the same URL gives the same stream byte for byte."""
    runs = []
    for _ in range(2):
        with run_server(["--exchanges", "5"], tmp_path_factory.mktemp("epoch")) as running:
            runs.append(asyncio.run(first_frames(running.ws_url("/v1/?seed=42&speed=50"), count=200)))
        time.sleep(1.1)
    assert runs[0] == runs[1]
    assert json.loads(runs[0][0])["time_exchange"].startswith("2024-01-01T00:00:")
