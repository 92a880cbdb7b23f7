"""The ``rest`` phase: what REST market data costs (issue 17's targets), each figure beside its own baseline.

* start-up to ``/ready`` with ``--history 30d`` against without it (history is built per request: no cost);
* a 1,000-candle 1MIN OHLCV history of one symbol, cold (a window never asked) and warm, from before the start
  (``--history``); the ~20 candles of the live market retained so far; 30 days of 1DAY candles, cold;
* 1,000 trades, 1,000 quotes and 1,000 order books (20 levels a side) of one symbol generated before the start,
  cold, beside the 1,000 newest retained live ones (``/latest``); and the largest answer, 100,000 generated trades
  (and quotes; 10,000 books), once; the slowest
  ``/health`` of another client while 100,000 generated trades are written, beside the same at idle;
* ``/v1/trades/latest`` over the whole catalogue before anything is published (every symbol's last minute of
  history is read): how long, and the slowest ``/health`` meanwhile;
* the market's pace at ``--speed max`` with retention (the default ``--retain``) against ``--retain 0``: what
  keeping every trade and quote costs the feed.
"""

from __future__ import annotations

import re
import statistics
import threading
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
#: what is read a thousand at a time, generated and retained: order books of 20 levels a side (the default)
KINDS = ("trades", "quotes", "orderbooks")
#: the largest answer of each: an order book of 20 levels is ~1.6 KB, seven times a trade
LARGEST = {"trades": 100_000, "quotes": 100_000, "orderbooks": 10_000}
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
    result["latest_at_start"] = _latest_at_start(exe, cpu=cpu, log_dir=log_dir, timeout_s=timeout_s)
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
    root = f"http://127.0.0.1:{server.port}/v1"
    base = f"{root}/ohlcv/{SYMBOL}/history?"
    try:
        with httpx.Client(headers=KEY, timeout=60) as client:

            def history(day: int) -> str:
                return f"{base}period_id=1MIN&limit=1000&time_start=2023-12-{day:02d}T00:00:00"

            def ticks(kind: str, day: int, limit: int = 1000) -> str:
                # ends at the start: the history's own, whatever the retention has forgotten since
                window = f"time_start=2023-12-{day:02d}T12:00:00&time_end=2024-01-01T00:00:00"
                return f"{root}/{kind}/{SYMBOL}/history?limit={limit}&{window}"

            cold = [_timed(client, history(2 + n))[0] for n in range(COLD_REQUESTS)]
            warm = [_timed(client, history(2))[0] for _ in range(WARM_REQUESTS)]
            generated = {kind: [_timed(client, ticks(kind, 2 + n))[0] for n in range(COLD_REQUESTS)] for kind in KINDS}
            largest = {kind: _timed(client, ticks(kind, 20, LARGEST[kind])) for kind in KINDS}
            health = f"http://127.0.0.1:{server.port}/health"
            stalls = {
                "idle": _slowest_while(health, None)[0],
                "trades": _slowest_while(health, ticks("trades", 25, 100_000))[0],
            }
            time.sleep(20)  # 20 min of market at speed 60: live candles, trades and quotes to ask for
            live = [_timed(client, f"{base}period_id=1MIN&limit=1000&time_start=2024-01-01") for _ in range(5)]
            retained = {
                # /latest: the retained window (5 virtual min) has moved on from any time_start chosen here; the
                # books' changes are kept from the first book request above
                kind: [_timed(client, f"{root}/{kind}/{SYMBOL}/latest?limit=1000")[0] for _ in range(5)]
                for kind in KINDS
            }
            daily, _ = _timed(client, f"{base}period_id=1DAY&limit=100&time_start=2023-12-02")
    finally:
        server.stop()
    return {
        "history_1000x1min_ms": _stats(cold, warm),
        "live_1min_ms": statistics.median(ms for ms, _ in live),
        "live_1min_candles": live[-1][1],
        "history_30x1day_cold_ms": daily,
        "ticks_1000_ms": {
            kind: {
                "generated_cold_median": statistics.median(generated[kind]),
                "generated_cold_max": max(generated[kind]),
                "retained_median": statistics.median(retained[kind]),
                "generated_100000": largest[kind][0],
                "largest_items": largest[kind][1],
            }
            for kind in KINDS
        },
        "health_slowest_ms": stalls,
    }


def _slowest_while(health_url: str, big_url: str | None) -> tuple[float, float]:
    """The slowest ``/health`` answer (wall ms, one every 10 ms) while another client reads ``big_url`` (None: for
    2 s, about as long as such a read takes), and the read's own wall ms: how long the answer holds up everyone
    else, and how long it takes."""
    took_ms = [0.0]
    failed: list[Exception] = []

    def read() -> None:
        if big_url is not None:
            started = time.perf_counter()
            try:
                httpx.get(big_url, headers=KEY, timeout=60).raise_for_status()
            except httpx.HTTPError as error:  # raised again below: a refused read would measure nothing
                failed.append(error)
            took_ms[0] = (time.perf_counter() - started) * 1000

    reader = threading.Thread(target=read)
    slowest = 0.0
    with httpx.Client(timeout=30) as client:
        _timed_plain(client, health_url)  # the connection is made outside the measure
        reader.start()
        started = time.monotonic()
        while reader.is_alive() or (big_url is None and time.monotonic() - started < 2.0):
            slowest = max(slowest, _timed_plain(client, health_url))
            time.sleep(0.01)
        reader.join()
    if failed:
        raise failed[0]
    return slowest, took_ms[0]


def _timed_plain(client: httpx.Client, url: str) -> float:
    started = time.perf_counter()
    client.get(url).raise_for_status()
    return (time.perf_counter() - started) * 1000


def _latest_at_start(exe: list[str], *, cpu: str, log_dir: Path, timeout_s: float) -> dict[str, float]:
    """``/v1/trades/latest?limit=100`` over the whole catalogue of a paused server with ``--history 1d``: nothing
    published yet, so every symbol's last minute of history is read. Its wall ms, and the slowest ``/health`` of
    another client meanwhile."""
    server = _serve(exe, ["--history", "1d", "--paused"], cpu=cpu, log_dir=log_dir, timeout_s=timeout_s)
    root = f"http://127.0.0.1:{server.port}"
    try:
        slowest, first = _slowest_while(f"{root}/health", f"{root}/v1/trades/latest?limit=100")
        with httpx.Client(headers=KEY, timeout=60) as client:
            again, items = _timed(client, f"{root}/v1/trades/latest?limit=100")
    finally:
        server.stop()
    return {"health_slowest_ms": slowest, "first_ms": first, "again_ms": again, "items": items}


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


def latest_figures(latest: dict[str, float]) -> str:
    """One line of the ``latest_at_start`` figures."""
    return (
        f"/v1/trades/latest?limit=100 over every symbol, nothing published yet (--history 1d):"
        f" {latest['first_ms']:.0f} ms, again {latest['again_ms']:.0f} ms;"
        f" the slowest /health meanwhile {latest['health_slowest_ms']:.1f} ms"
    )


def stall_figures(stalls: dict[str, float]) -> str:
    """One line of the ``health_slowest_ms`` figures."""
    return (
        f"slowest /health while another client reads 100,000 generated trades {stalls['trades']:.1f} ms"
        f" (with no such read: {stalls['idle']:.1f} ms)"
    )


def tick_figures(ticks: dict[str, float]) -> str:
    """One line of a kind's tick figures (``ticks_1000_ms``)."""
    return (
        f"generated before the start cold {ticks['generated_cold_median']:.1f} ms median,"
        f" {ticks['generated_cold_max']:.1f} max; retained live {ticks['retained_median']:.1f} ms;"
        f" {ticks['largest_items']:,} generated {ticks['generated_100000'] / 1000:.2f} s"
    )
