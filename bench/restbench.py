"""The ``rest`` phase: what REST market data costs (issue 17's targets), each figure beside its own baseline.

* start-up to ``/ready`` with ``--history 30d`` against without it (history is built per request: no cost);
* a 1,000-candle 1MIN OHLCV history of one symbol, cold (a window never asked) and warm, from before the start
  (``--history``); the ~20 candles of the live market retained so far; 30 days of 1DAY candles, cold;
* the market's pace at ``--speed max`` with retention (the default ``--retain``) against ``--retain 0``: what
  keeping every trade and quote costs the feed.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2 as httpx

from coinapi_emulator.server.testing.admin_client import AdminClient

from .procs import Server, free_port

START = "2024-01-01T00:00:00Z"
START_S = 1_704_067_200
SYMBOL = "BINANCE_SPOT_BTC_USDT"
KEY = {"X-CoinAPI-Key": "bench"}
#: cold requests of the 1,000-candle history: each asks a window no earlier request built
COLD_REQUESTS = 12
WARM_REQUESTS = 12
#: wall seconds the market runs at --speed max for its pace
PACE_S = 8.0


def measure(exe: list[str], *, cpu: str, log_dir: Path, timeout_s: float) -> dict[str, Any]:
    """Every figure of the phase, as a dict for the report."""
    result: dict[str, Any] = {}
    result["startup_s"] = {
        label: _ready_after(exe, args, cpu=cpu, log_dir=log_dir, timeout_s=timeout_s)
        for label, args in (("plain", []), ("history_30d", ["--history", "30d"]))
    }
    result.update(_requests(exe, cpu=cpu, log_dir=log_dir, timeout_s=timeout_s))
    result["pace_x_real_time"] = {
        label: _pace(exe, args, cpu=cpu, log_dir=log_dir, timeout_s=timeout_s)
        for label, args in (("retain_0", ["--retain", "0"]), ("retain_default", []))
    }
    return result


def _serve(exe: list[str], args: list[str], *, cpu: str, log_dir: Path, timeout_s: float) -> Server:
    port = free_port()
    argv = [*exe, "serve", "--port", str(port), "--start-time", START, "--log-level", "warning", *args]
    return Server("emulator-rest", argv, cpu=cpu, port=port, log_dir=log_dir, timeout_s=timeout_s)


def _ready_after(exe: list[str], args: list[str], *, cpu: str, log_dir: Path, timeout_s: float) -> float:
    """Median of 3 starts: seconds from the process start to ``/ready`` answering 200."""
    times = []
    for _ in range(3):
        started = time.monotonic()
        server = _serve(exe, [*args, "--paused"], cpu=cpu, log_dir=log_dir, timeout_s=timeout_s)
        try:
            while httpx.get(f"http://127.0.0.1:{server.port}/ready", timeout=5).status_code != 200:
                time.sleep(0.01)
            times.append(time.monotonic() - started)
        finally:
            server.stop()
    return statistics.median(times)


def _requests(exe: list[str], *, cpu: str, log_dir: Path, timeout_s: float) -> dict[str, Any]:
    server = _serve(exe, ["--history", "30d", "--speed", "60"], cpu=cpu, log_dir=log_dir, timeout_s=timeout_s)
    base = f"http://127.0.0.1:{server.port}/v1/ohlcv/{SYMBOL}/history?"
    try:
        with httpx.Client(headers=KEY, timeout=30) as client:

            def history(day: int) -> str:
                return f"{base}period_id=1MIN&limit=1000&time_start=2023-12-{day:02d}T00:00:00"

            cold = [_timed(client, history(2 + n))[0] for n in range(COLD_REQUESTS)]
            warm = [_timed(client, history(2))[0] for _ in range(WARM_REQUESTS)]
            time.sleep(20)  # 20 min of market at speed 60: live candles to ask for
            live = [_timed(client, f"{base}period_id=1MIN&limit=1000&time_start=2024-01-01") for _ in range(5)]
            daily, _ = _timed(client, f"{base}period_id=1DAY&limit=100&time_start=2023-12-02")
    finally:
        server.stop()
    return {
        "history_1000x1min_ms": _stats(cold, warm),
        "live_1min_ms": statistics.median(ms for ms, _ in live),
        "live_1min_candles": live[-1][1],
        "history_30x1day_cold_ms": daily,
    }


def _timed(client: httpx.Client, url: str) -> tuple[float, int]:
    """Wall ms of one request (gzip accepted, as httpx does by default) and the items it answered."""
    started = time.perf_counter()
    response = client.get(url)
    elapsed_ms = (time.perf_counter() - started) * 1000
    items = len(response.json()) if response.status_code == 200 else 0
    if not items:
        raise RuntimeError(f"GET {url}: {response.status_code} {response.text[:200]}")
    return elapsed_ms, items


def _stats(cold: list[float], warm: list[float]) -> dict[str, float]:
    return {
        "cold_median": statistics.median(cold),
        "cold_max": max(cold),
        "warm_median": statistics.median(warm),
        "warm_max": max(warm),
    }


def _pace(exe: list[str], args: list[str], *, cpu: str, log_dir: Path, timeout_s: float) -> float:
    """Virtual seconds per wall second at --speed max over ``PACE_S``."""
    server = _serve(exe, ["--speed", "max", "--admin", *args], cpu=cpu, log_dir=log_dir, timeout_s=timeout_s)
    url = f"http://127.0.0.1:{server.port}/metrics"
    try:
        # at --speed max the market waits for its first subscriber; with nobody to send to, resume starts it
        AdminClient(f"http://127.0.0.1:{server.port}").resume()
        market_time = _metric(url, "coinapi_emulator_market_time_seconds")
        first, started = market_time(), time.monotonic()
        time.sleep(PACE_S)
        return (market_time() - first) / (time.monotonic() - started)
    finally:
        server.stop()


def _metric(url: str, name: str) -> Callable[[], float]:
    pattern = re.compile(rf"^{name} (\S+)$", re.M)

    def read() -> float:
        found = pattern.search(httpx.get(url, timeout=10).text)
        if found is None:
            raise RuntimeError(f"{name} missing from {url}")
        return float(found.group(1))

    return read
