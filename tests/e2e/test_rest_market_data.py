"""REST market data on real servers: a stepped market's trades and candles over REST equal what a WebSocket client
received, ``--history`` joins the live candles without a seam and is the same on two servers, gzip and the quota
headers reach a real client."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx2 as httpx
import orjson
import pytest

from coinapi_emulator.server.testing.admin_client import AdminClient

from .processes import run_servers, spawn
from .support import API_KEY, collect, hello, rest_get, ws_connect

pytestmark = pytest.mark.e2e

BTC = "BINANCE_SPOT_BTC_USDT"
#: a start in the middle of a minute, so that the candle spanning it is partly history, partly live
START = "2024-01-01T00:00:30Z"
SMALL = ["--exchanges", "5", "--start-time", START, "--seed", "11"]


def _without(message: dict[str, Any], *fields: str) -> dict[str, Any]:
    return {key: value for key, value in message.items() if key not in fields}


def test_a_stepped_markets_trades_and_candles_over_rest_are_what_the_client_got(log_dir: Path) -> None:
    with run_servers([spawn([*SMALL, "--admin", "--paused", "--history", "1d"], log_dir)]) as (running,):
        admin = AdminClient(running.http_url)

        async def client() -> list[dict[str, Any]]:
            first = hello(["trade", "ohlcv"], symbols=[BTC + "$"], periods=["1MIN"])
            async with ws_connect(running.ws_url(), first) as ws:
                await asyncio.to_thread(admin.wait_for_subscribers, 1)
                await asyncio.to_thread(admin.step, 120)
                return await collect(ws, seconds=2)

        received = asyncio.run(client())
        trades = rest_get(running.http_url, f"/v1/trades/{BTC}/history", time_start=START, limit="100000")
        candles = rest_get(running.http_url, f"/v1/ohlcv/{BTC}/history", period_id="1MIN", time_start="2024-01-01")
        before = rest_get(
            running.http_url, f"/v1/ohlcv/{BTC}/history", period_id="1MIN", time_start="2023-12-31T23:50:00", limit="10"
        )
        last_minute = rest_get(
            running.http_url,
            f"/v1/trades/{BTC}/history",
            time_start="2023-12-31T23:59:00",
            time_end="2024-01-01",
            limit="1000",
        )
    streamed_trades = [_without(m, "type", "sequence") for m in received if m["type"] == "trade"]
    assert len(streamed_trades) > 20 and trades == streamed_trades
    streamed_candles = {
        m["time_period_start"]: _without(m, "type", "sequence", "symbol_id", "period_id")
        for m in received
        if m["type"] == "ohlcv"
    }
    # the candle spanning the start (00:00) is the live market's, as on the WebSocket, then the next ones
    assert candles[:2] == [streamed_candles[c["time_period_start"]] for c in candles[:2]]
    assert candles[0]["time_period_start"] == "2024-01-01T00:00:00.0000000Z"
    # the history's candles end where the live ones begin
    assert [c["time_period_start"][11:16] for c in before] == [f"23:5{n}" for n in range(10)]
    seam = abs(before[-1]["price_close"] / candles[0]["price_open"] - 1)
    assert seam < 0.005, f"history closes at {before[-1]['price_close']}, live opens at {candles[0]['price_open']}"
    # and the history's trades are its candles' ticks
    prices = [t["price"] for t in last_minute]
    assert (before[-1]["trades_count"], before[-1]["price_open"], before[-1]["price_close"]) == (
        len(last_minute), prices[0], prices[-1]
    )  # fmt: skip
    assert (before[-1]["time_open"], before[-1]["price_high"]) == (last_minute[0]["time_exchange"], max(prices))


def test_two_servers_with_the_same_seed_answer_the_same_history_byte_for_byte(log_dir: Path) -> None:
    args = [*SMALL, "--history", "3d", "--paused"]
    paths = [
        f"/v1/ohlcv/{BTC}/history?period_id=1HRS&time_start=2023-12-29T12:00:00&limit=50",
        "/v1/ohlcv/KRAKEN_SPOT_ETH_USD/history?period_id=1MIN&time_start=2023-12-31T10:00:00&limit=300",
        "/v1/exchangerate/BTC/EUR?time=2023-12-30T08:00:00",
        "/v1/exchangerate/ETH/USD/history?period_id=1HRS&time_start=2023-12-30&limit=24",
        f"/v1/trades/{BTC}/history?time_start=2023-12-30T06:00:00&limit=2000",
        "/v1/quotes/KRAKEN_SPOT_ETH_USD/history?time_start=2023-12-29T23:59:00&limit=500",
        f"/v1/orderbooks/{BTC}/history?time_start=2023-12-31T20:00:00&limit=300&limit_levels=10",
    ]
    with run_servers([spawn(args, log_dir), spawn(args, log_dir)]) as servers:
        answers = [
            [httpx.get(s.http_url + path, headers={"X-CoinAPI-Key": API_KEY}, timeout=30) for path in paths]
            for s in servers
        ]
    for one, other in zip(*answers, strict=True):
        assert one.status_code == other.status_code == 200, one.text
        assert one.content == other.content and len(orjson.loads(one.content)) > 0


def test_gzip_and_the_quota_headers_reach_a_real_client(log_dir: Path) -> None:
    with run_servers([spawn([*SMALL, "--rest-rate-limit", "2"], log_dir)]) as (running,):
        url = f"{running.http_url}/v1/quotes/current?filter_symbol_id=BINANCE_"
        first = httpx.get(url, headers={"X-CoinAPI-Key": API_KEY, "Accept-Encoding": "gzip"}, timeout=30)
        assert first.headers["content-encoding"] == "gzip" and first.json()[0]["symbol_id"].startswith("BINANCE_")
        assert (first.headers["x-ratelimit-limit"], first.headers["x-ratelimit-remaining"]) == ("2", "1")
        httpx.get(url, headers={"X-CoinAPI-Key": API_KEY}, timeout=30)
        refused = httpx.get(url, headers={"X-CoinAPI-Key": API_KEY}, timeout=30)
        assert refused.status_code == 429 and "Too many requests" in refused.json()["error"]


ENDPOINTS = [
    (f"/v1/quotes/{BTC}/current", dict, "ask_price"),
    ("/v1/quotes/current?filter_symbol_id=KRAKEN_SPOT_BTC", list, "last_trade"),
    (f"/v1/quotes/{BTC}/latest?limit=3", list, "bid_size"),
    ("/v1/quotes/latest?filter_symbol_id=BINANCE_SPOT_ETH&limit=3", list, "bid_price"),
    (f"/v1/quotes/{BTC}/history?time_start={START}&limit=3", list, "ask_size"),
    (f"/v1/orderbooks/{BTC}/current?limit_levels=2", dict, "asks"),
    (f"/v1/orderbooks/current?filter_symbol_id={BTC}&limit_levels=2", list, "bids"),
    (f"/v1/orderbooks/{BTC}/latest?limit=2", list, "asks"),
    (f"/v1/orderbooks/{BTC}/history?time_start={START}&limit=2&limit_levels=3", list, "time_coinapi"),
    (f"/v1/trades/{BTC}/latest?limit=3", list, "taker_side"),
    ("/v1/trades/latest?filter_symbol_id=BINANCE_&limit=3", list, "uuid"),
    (f"/v1/trades/{BTC}/history?time_start={START}&limit=3", list, "price"),
    (f"/v1/ohlcv/{BTC}/latest?period_id=1MIN&limit=3", list, "price_close"),
    (f"/v1/ohlcv/{BTC}/history?period_id=1HRS&time_start=2023-12-31T01:00:00&limit=3", list, "trades_count"),
    ("/v1/exchangerate/BTC/USD?time=2023-12-31T12:00:00", dict, "rate"),
    ("/v1/exchangerate/ETH?time=2024-01-01T00:00:40&filter_asset_id=BTC", dict, "rates"),
    ("/v1/exchangerate/BTC/USD/history?period_id=1MIN&time_start=2023-12-31T23:00:00&limit=3", list, "rate_close"),
]


def test_every_market_data_endpoint_answers_on_a_real_server(log_dir: Path) -> None:
    with run_servers([spawn([*SMALL, "--history", "1d", "--speed", "20"], log_dir)]) as (running,):
        _get(f"{running.http_url}/v1/orderbooks/{BTC}/current")  # its book changes are kept from now on
        while rest_get(running.http_url, "/ready")["market_time"] < "2024-01-01T00:01:00":
            asyncio.run(asyncio.sleep(0.2))
        answers = [(path, kind, field, _get(running.http_url + path)) for path, kind, field in ENDPOINTS]
    for path, kind, field, answer in answers:
        assert isinstance(answer, kind), path
        first = answer if isinstance(answer, dict) else answer[0]
        assert field in first, (path, first)
    newest = dict(zip((p for p, _, _ in ENDPOINTS), (a for *_, a in answers), strict=True))
    latest = newest[f"/v1/trades/{BTC}/latest?limit=3"]
    assert [t["time_exchange"] for t in latest] == sorted((t["time_exchange"] for t in latest), reverse=True)
    assert newest[f"/v1/orderbooks/{BTC}/current?limit_levels=2"]["asks"][0]["price"] > 0


def _get(url: str) -> Any:
    """GET a URL whose query is part of it, with the test key; the parsed body (status must be 200)."""
    response = httpx.get(url, headers={"X-CoinAPI-Key": API_KEY}, timeout=30)
    assert response.status_code == 200, f"GET {url}: {response.status_code} {response.text[:300]}"
    return response.json()
