"""The good client: watches trades and quotes of one symbol on a real server, in a process of its own (an attack
built in the test's process would otherwise hold the interpreter lock and show up as the client's own lag), while
the suite attacks that server. It measures what a user would notice:

- data lag: how much later than the market's clock a message arrives, against the best seen so far (the market runs
  at speed 1 from the wall clock, so a stalled server shows as late ``time_coinapi`` stamps);
- ping lag: the round trip of a WebSocket ping every 50 ms (the event loop's answer time, whatever the market does);
- sequence gaps: a ``sequence`` of one (type, symbol) that is not the previous one plus 1.

The process appends one line per sample to a file (``d``ata lag, ``p``ing lag, ``g``ap, ``c``losed, each with
its wall time); ``Watcher.since`` reads the samples after a mark.
"""

from __future__ import annotations

import asyncio
import calendar
import contextlib
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import orjson
from websockets.asyncio.client import ClientConnection, connect

from tests.e2e.support import API_KEY

SYMBOL = "BINANCE_SPOT_BTC_USDT"
PING_EVERY_S = 0.05


def time_ns(stamp: str) -> int:
    """``2024-01-01T00:00:01.3012345Z`` in ns since the epoch (CoinAPI's 7 fraction digits)."""
    seconds = calendar.timegm(time.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S"))
    fraction = stamp[20:-1].ljust(9, "0")
    return seconds * 1_000_000_000 + int(fraction)


def p99(values: list[float]) -> float:
    """The 99th percentile (nearest rank); 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@dataclass
class Window:
    """What the watcher saw after a mark."""

    data_lags_s: list[float] = field(default_factory=list)
    ping_lags_s: list[float] = field(default_factory=list)
    gaps: list[str] = field(default_factory=list)
    closed: str | None = None

    @property
    def messages(self) -> int:
        """Trades and quotes received."""
        return len(self.data_lags_s)

    @property
    def p99_lag_s(self) -> float:
        """The worse of the two lags' 99th percentiles."""
        return max(p99(self.data_lags_s), p99(self.ping_lags_s))


class Watcher:
    """The watching process; ``mark`` / ``since`` cut its samples into windows."""

    def __init__(self, url: str, samples: Path) -> None:
        self.url = url
        self.samples = samples
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 30) -> None:
        """Start the process and wait for its first message."""
        self.samples.write_text("")
        argv = [sys.executable, "-m", "tests.hardening.watcher", self.url, str(self.samples)]
        self._process = subprocess.Popen(argv, cwd=Path(__file__).parents[2])
        deadline = time.monotonic() + timeout_s
        while not self.since(0.0).messages:
            window = self.since(0.0)
            if window.closed or time.monotonic() > deadline:
                raise RuntimeError(f"the watcher got no message: {window.closed or 'timed out'}")
            time.sleep(0.1)

    def stop(self) -> None:
        """End the process."""
        if self._process is not None:
            self._process.terminate()
            self._process.wait(10)

    @staticmethod
    def mark() -> float:
        """A position in the samples, for ``since``: the wall time now."""
        return time.time()

    def since(self, mark: float) -> Window:
        """What was seen after ``mark``."""
        window = Window()
        for line in self.samples.read_text().splitlines():
            kind, at, value = line.split(" ", 2)
            if float(at) < mark:
                continue
            if kind == "d":
                window.data_lags_s.append(float(value))
            elif kind == "p":
                window.ping_lags_s.append(float(value))
            elif kind == "g":
                window.gaps.append(value)
            else:
                window.closed = value
        return window


# -- the watching process ----------------------------------------------------------------------------------------


class _Recorder:
    def __init__(self, out: TextIO) -> None:
        self._out = out
        self._best_offset_ns: int | None = None
        self._sequences: dict[tuple[str, str], int] = {}

    def write(self, kind: str, value: object) -> None:
        self._out.write(f"{kind} {time.time():.6f} {value}\n")
        self._out.flush()

    def take(self, message: dict[str, object], received_ns: int) -> None:
        kind = message.get("type")
        if kind not in ("trade", "quote"):
            return
        symbol, sequence, stamp = message["symbol_id"], message["sequence"], message["time_coinapi"]
        assert isinstance(symbol, str) and isinstance(sequence, int) and isinstance(stamp, str)
        previous = self._sequences.get((kind, symbol))
        if previous is not None and sequence != previous + 1:
            self.write("g", f"{kind} {symbol}: {previous} -> {sequence}")
        self._sequences[(kind, symbol)] = sequence
        offset_ns = received_ns - time_ns(stamp)
        if self._best_offset_ns is None or offset_ns < self._best_offset_ns:
            self._best_offset_ns = offset_ns
        self.write("d", (offset_ns - self._best_offset_ns) / 1e9)


async def _watch(url: str, recorder: _Recorder) -> None:
    hello = {
        "type": "hello",
        "apikey": API_KEY,
        "heartbeat": True,
        "subscribe_data_type": ["trade", "quote"],
        "subscribe_filter_symbol_id": [SYMBOL + "$"],
    }
    try:
        async with connect(url, max_size=None, max_queue=None, open_timeout=10) as ws:
            await ws.send(orjson.dumps(hello).decode())
            pinger = asyncio.create_task(_ping(ws, recorder))
            async for raw in ws:
                recorder.take(orjson.loads(raw), time.time_ns())
            pinger.cancel()
            recorder.write("c", f"closed by the server: {ws.close_code} {ws.close_reason}")
    except Exception as error:  # whatever ended it is what the suite reports
        recorder.write("c", f"{type(error).__name__}: {error}")


async def _ping(ws: ClientConnection, recorder: _Recorder) -> None:
    while True:
        started = time.monotonic()
        with contextlib.suppress(TimeoutError):
            pong = await ws.ping()
            await asyncio.wait_for(pong, timeout=30)
            recorder.write("p", time.monotonic() - started)
        await asyncio.sleep(max(0.0, PING_EVERY_S - (time.monotonic() - started)))


if __name__ == "__main__":
    with open(sys.argv[2], "a", encoding="utf-8") as samples:
        asyncio.run(_watch(sys.argv[1], _Recorder(samples)))
