"""``/v1/?seed=N``: a connection's own market, starting at the start time when its hello arrives."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

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
    with run_server(["--start-time", START_TIME, "--speed", "20"], tmp_path_factory.mktemp("private")) as running:
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
