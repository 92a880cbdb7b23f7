"""A stand-in for your own service: it reads the emulator like the real feed and checks what arrives.

It subscribes to BTC/USDT on Binance (trades, quotes, 5-level books), reads for a few seconds, asserts that the
messages are well-formed, ordered and fresh, makes one REST call, and exits 0 (or 1 saying what was wrong).
Configured by COINAPI_URL, COINAPI_REST_URL and COINAPI_API_KEY, exactly as it would be against CoinAPI.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sys
import urllib.request
from collections import Counter

from websockets.asyncio.client import connect

URL = os.environ.get("COINAPI_URL", "ws://coinapi:8765/v1/")
REST_URL = os.environ.get("COINAPI_REST_URL", "http://coinapi:8765")
API_KEY = os.environ.get("COINAPI_API_KEY", "example-key")
SYMBOL = "BINANCE_SPOT_BTC_USDT"
READ_SECONDS = float(os.environ.get("READ_SECONDS", "5"))
#: how old a message's time_exchange may be; the default compose market runs on the wall clock
MAX_AGE = dt.timedelta(seconds=float(os.environ.get("MAX_AGE_SECONDS", "60")))


def parse_time(text: str) -> dt.datetime:
    """CoinAPI's times carry 7 fractional digits; Python reads at most 6."""
    head, _, fraction = text.rstrip("Z").partition(".")
    return dt.datetime.fromisoformat(f"{head}.{fraction[:6]:0<6}+00:00")


async def read_feed() -> list[dict]:
    hello = {
        "type": "hello",
        "apikey": API_KEY,
        "heartbeat": True,
        "subscribe_data_type": ["trade", "quote", "book5"],
        "subscribe_filter_symbol_id": [SYMBOL + "$"],
    }
    messages: list[dict] = []
    async with connect(URL, open_timeout=10) as ws:
        await ws.send(json.dumps(hello))
        try:
            async with asyncio.timeout(READ_SECONDS):
                async for raw in ws:
                    messages.append(json.loads(raw))
        except TimeoutError:
            pass
    return messages


def check(messages: list[dict]) -> Counter[str]:
    counts = Counter(message["type"] for message in messages)
    assert "error" not in counts, [m for m in messages if m["type"] == "error"]
    assert {"trade", "quote", "book5"} <= set(counts), f"missing data types: {counts}"
    now = dt.datetime.now(dt.UTC)
    last_sequence: dict[str, int] = {}
    for message in messages:
        kind = message["type"]
        if kind == "hearbeat":  # CoinAPI's own spelling
            continue
        assert message["symbol_id"] == SYMBOL, message
        assert now - parse_time(message["time_exchange"]) < MAX_AGE, f"stale: {message['time_exchange']}"
        assert message["sequence"] > last_sequence.get(kind, 0), f"{kind} sequence went back: {message}"
        last_sequence[kind] = message["sequence"]
        if kind == "trade":
            assert message["price"] > 0 and message["size"] > 0 and message["taker_side"] in {"BUY", "SELL"}
        elif kind == "quote":
            assert 0 < message["bid_price"] < message["ask_price"], message
        else:
            assert len(message["bids"]) == len(message["asks"]) == 5, message
            assert message["bids"][0]["price"] < message["asks"][0]["price"], message
    return counts


def check_rest() -> str:
    request = urllib.request.Request(f"{REST_URL}/v1/exchanges/BINANCE", headers={"X-CoinAPI-Key": API_KEY})
    with urllib.request.urlopen(request, timeout=10) as response:
        [exchange] = json.loads(response.read())
    assert exchange["exchange_id"] == "BINANCE", exchange
    return exchange["name"]


def main() -> int:
    try:
        counts = check(asyncio.run(read_feed()))
        name = check_rest()
    except AssertionError as error:
        print(f"example-bot: FAILED: {error}", file=sys.stderr)
        return 1
    print(f"example-bot: OK: {dict(counts)} in {READ_SECONDS:g} s from {URL}; REST says BINANCE is {name!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
