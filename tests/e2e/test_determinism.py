"""Reproducibility across processes (ARCHITECTURE.md "Determinism"), checked only where it is timing-independent.

Two processes started with the same ``--seed`` and ``--start-time`` run the same market on their own virtual
clocks, which start a few hundred ms apart (each anchors at its own start-up). So the claims are:

* the catalogue (REST metadata without the fields that follow the market clock) is identical;
* a market message both processes sent, identified by (type, symbol_id, sequence), is byte-identical: sequences
  count every event from the start whether anyone listens or not (server/plane/streams.py), and with a virtual clock
  ``time_coinapi`` derives from the event time, not from the wall clock;
* a different seed gives a different market.

Book snapshots and the first frame after subscribing depend on when the client connects, so they are not compared.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator, Sequence
from typing import Any, Final

import pytest

from .processes import START_TIME, RunningServer, run_servers, spawn
from .support import collect_texts, hello, ws_connect

pytestmark = pytest.mark.e2e

#: fields that follow the market clock or the market price, so two processes differ in them by design
#: (base-currency volumes are USD estimates divided by the current price, server/protocol/metadata.py)
MOVING_FIELDS: Final = (
    *("data_end", "data_quote_end", "data_orderbook_end", "data_trade_end"),
    *("price", "price_usd", "volume_1hrs", "volume_1day", "volume_1mth"),
)
STREAM_SECONDS: Final = 3.0


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sequence[RunningServer]]:
    """Two processes with seed 7 and one with seed 8, same start time, started together.

    20 exchanges (BINANCE first) rather than 400, so three markets at once stay light on a small CI machine.
    """
    log_dir = tmp_path_factory.mktemp("determinism")
    args = ["--exchanges", "20", "--start-time", START_TIME]
    spawned = [spawn(["--seed", seed, *args], log_dir) for seed in ("7", "7", "8")]
    with run_servers(spawned) as running:
        yield running


def _catalogue(server: RunningServer) -> dict[str, list[dict[str, Any]]]:
    return {
        path: [{k: v for k, v in entity.items() if k not in MOVING_FIELDS} for entity in server.rest(path)]
        for path in ("/v1/exchanges", "/v1/assets", "/v1/symbols")
    }


@pytest.fixture(scope="module")
def streams(servers: Sequence[RunningServer]) -> list[dict[tuple[str, str, int], str]]:
    """BINANCE trades and quotes read from all three processes at once, keyed by (type, symbol_id, sequence)."""

    async def read(server: RunningServer) -> list[str]:
        async with ws_connect(server.ws_url(), hello(["trade", "quote"], exchanges=["BINANCE"])) as ws:
            return await collect_texts(ws, seconds=STREAM_SECONDS)

    async def scenario() -> list[list[str]]:
        return list(await asyncio.gather(*(read(server) for server in servers)))

    keyed = []
    for texts in asyncio.run(scenario()):
        frames = {}
        for text in texts:
            frame = json.loads(text)
            frames[(frame["type"], frame["symbol_id"], frame["sequence"])] = text
        assert frames, "no frames"
        keyed.append(frames)
    return keyed


def test_same_seed_gives_the_same_catalogue(servers: Sequence[RunningServer]) -> None:
    first, second, _ = servers
    assert _catalogue(first) == _catalogue(second)


def test_same_seed_gives_byte_identical_market_messages(streams: list[dict[tuple[str, str, int], str]]) -> None:
    first, second, _ = streams
    common = first.keys() & second.keys()
    assert len(common) >= 10, f"only {len(common)} messages seen by both processes"
    different = [key for key in sorted(common) if first[key] != second[key]]
    assert different == [], (
        f"{len(different)}/{len(common)} differ, e.g. {first[different[0]]} vs {second[different[0]]}"
    )


def test_different_seed_gives_a_different_market(streams: list[dict[tuple[str, str, int], str]]) -> None:
    first, _, other = streams
    trades = [{text for key, text in stream.items() if key[0] == "trade"} for stream in (first, other)]
    assert all(trades), "no trades"
    shared = trades[0] & trades[1]
    assert shared == set(), f"{len(shared)} identical trades across seeds 7 and 8"
