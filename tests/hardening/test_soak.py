"""The soak (``make soak``, ten minutes; ``SOAK_SECONDS`` shortens it): 100 clients take ~10,000 messages a second
from one real server while they churn (every second two of them leave and come back with other exchanges, one
replaces its subscription with a new hello). The server's resident memory must stay flat: after a minute of warm-up,
no sample more than 10% above the median of the next minute. Every client checks its trades' sequences too.

Results go to ``SOAK_REPORT`` (default ``build/soak.md``), one row a minute; docs/RELIABILITY.md quotes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.processes import RunningServer, run_server
from tests.e2e.support import API_KEY

from .harness import open_fds, rss_bytes

pytestmark = pytest.mark.soak

CLIENTS = 100
#: the full market publishes ~1,150 trades and quotes a second over 400 exchanges: 35 exchanges a client make
#: ~100 messages a second each, ~10,000 for all
EXCHANGES_PER_CLIENT = 35
CHURN_EVERY_S = 1.0
WARM_UP_S = 60.0
SAMPLE_EVERY_S = 5.0
MAX_GROWTH = 0.10


@dataclass
class Load:
    """What the clients have seen so far."""

    messages: int = 0
    reconnects: int = 0
    new_hellos: int = 0
    gaps: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Sample:
    at_s: float
    rss: int
    fds: int
    messages: int
    reconnects: int


def _hello(exchanges: list[str]) -> str:
    return orjson.dumps(
        {
            "type": "hello",
            "apikey": API_KEY,
            "subscribe_data_type": ["trade", "quote"],
            "subscribe_filter_exchange_id": exchanges,
        }
    ).decode()


class Client:
    """One churning client: connects, subscribes, counts and checks sequences until told to leave."""

    def __init__(self, url: str, exchanges: list[str], load: Load, rng: random.Random) -> None:
        self.url, self.exchanges, self.load, self.rng = url, exchanges, load, rng
        self.leave = asyncio.Event()
        self.resubscribe = asyncio.Event()

    async def run(self) -> None:
        while True:
            self.leave.clear()
            with contextlib.suppress(ConnectionClosed):
                await self._session()
            self.load.reconnects += 1

    async def _session(self) -> None:
        sequences: dict[tuple[str, str], int] = {}
        async with connect(self.url, max_size=None, max_queue=None, open_timeout=20) as ws:
            await ws.send(_hello(self._pick()))
            reader = asyncio.create_task(self._read(ws, sequences))
            while not self.leave.is_set():
                waiter = asyncio.create_task(self.resubscribe.wait())
                leaver = asyncio.create_task(self.leave.wait())
                await asyncio.wait([waiter, leaver, reader], return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()
                leaver.cancel()
                if reader.done():
                    self.load.errors.append(f"closed by the server: {ws.close_code} {ws.close_reason}")
                    return
                if self.resubscribe.is_set():
                    self.resubscribe.clear()
                    # a stream the new hello drops and a later one takes again restarts with a legitimate jump
                    sequences.clear()
                    await ws.send(_hello(self._pick()))
                    self.load.new_hellos += 1
            reader.cancel()

    async def _read(self, ws: ClientConnection, sequences: dict[tuple[str, str], int]) -> None:
        async for raw in ws:
            message = orjson.loads(raw)
            self.load.messages += 1
            if message["type"] != "trade":
                continue  # quotes may be conflated for a client that falls behind; trades never are
            sequence = message["sequence"]
            key = (message["type"], message["symbol_id"])
            previous = sequences.get(key)
            if previous is not None and sequence != previous + 1:
                self.load.gaps.append(f"{key}: {previous} -> {sequence}")
            sequences[key] = sequence

    def _pick(self) -> list[str]:
        return self.rng.sample(self.exchanges, EXCHANGES_PER_CLIENT)


async def _soak(running: RunningServer, exchanges: list[str], seconds: float) -> tuple[Load, list[Sample]]:
    load, rng = Load(), random.Random(7)
    clients = [Client(running.ws_url(), exchanges, load, random.Random(i)) for i in range(CLIENTS)]
    tasks = [asyncio.create_task(client.run()) for client in clients]
    samples: list[Sample] = []
    started = time.monotonic()
    next_sample = started
    while (now := time.monotonic()) - started < seconds:
        if now >= next_sample:
            pid = running.process.pid
            samples.append(Sample(now - started, rss_bytes(pid), open_fds(pid), load.messages, load.reconnects))
            next_sample += SAMPLE_EVERY_S
        for client in rng.sample(clients, 2):
            client.leave.set()
        rng.choice(clients).resubscribe.set()
        await asyncio.sleep(CHURN_EVERY_S)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return load, samples


def _report(samples: list[Sample], load: Load, path: Path, verdict: str) -> None:
    rows = ["| minute | RSS MiB | fds | messages/s (last minute) | reconnects so far |", "|---|---|---|---|---|"]
    per_minute = [s for s in samples if s.at_s % 60 < SAMPLE_EVERY_S]
    for previous, sample in itertools.pairwise(per_minute):
        rate = (sample.messages - previous.messages) / (sample.at_s - previous.at_s)
        minute = round(sample.at_s / 60)
        rows.append(f"| {minute} | {sample.rss / (1 << 20):.1f} | {sample.fds} | {rate:,.0f} | {sample.reconnects} |")
    summary = (
        f"\n{load.messages:,} messages, {load.reconnects:,} reconnects, {load.new_hellos:,} replacing hellos, "
        f"{len(load.gaps)} sequence gaps, {len(load.errors)} server closes. {verdict}\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(rows) + "\n" + summary, encoding="utf-8")


def test_memory_stays_flat_under_load_and_churn(tmp_path: Path) -> None:
    seconds = float(os.environ.get("SOAK_SECONDS", "600"))
    with run_server(["--max-connections-per-ip", "1000"], tmp_path) as running:
        exchanges = [exchange["exchange_id"] for exchange in running.rest("/v1/exchanges")]
        load, samples = asyncio.run(_soak(running, exchanges, seconds))
    settled = [s.rss for s in samples if WARM_UP_S <= s.at_s < WARM_UP_S + 60] or [samples[-1].rss]
    baseline = statistics.median(settled)
    peak = max(s.rss for s in samples if s.at_s >= WARM_UP_S) if seconds > WARM_UP_S else samples[-1].rss
    growth = peak / baseline - 1
    duration = samples[-1].at_s - samples[0].at_s
    rate = (samples[-1].messages - samples[0].messages) / duration if duration else 0.0
    verdict = (
        f"RSS baseline (median of minute 2) {baseline / (1 << 20):.1f} MiB, peak after it {peak / (1 << 20):.1f} MiB "
        f"({growth:+.1%}, budget +{MAX_GROWTH:.0%}); {rate:,.0f} messages/s delivered on average."
    )
    _report(samples, load, Path(os.environ.get("SOAK_REPORT", "build/soak.md")), verdict)
    assert not load.gaps, load.gaps[:5]
    assert not load.errors, load.errors[:5]
    assert growth <= MAX_GROWTH, verdict
