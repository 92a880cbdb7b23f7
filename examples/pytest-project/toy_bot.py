"""The code under test: a toy trading bot (in a real project it lives in your package).

``ToyBot`` follows one symbol's trades on a thread, keeps a VWAP, and reconnects whenever the feed closes the
connection; ``first_trades`` is the same subscription for asyncio code.
"""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from websockets.asyncio.client import connect as connect_async
from websockets.exceptions import ConnectionClosedError
from websockets.sync.client import ClientConnection, connect

SYMBOL = "BINANCE_SPOT_BTC_USDT"
HELLO = {
    "type": "hello",
    "apikey": "test-key",
    "heartbeat": False,
    "subscribe_data_type": ["trade"],
    "subscribe_filter_symbol_id": [SYMBOL + "$"],
}


class ToyBot(threading.Thread):
    """Follows ``SYMBOL``'s trades at ``url`` until ``stop()``, reconnecting after every close."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.trades: list[dict[str, Any]] = []
        self.close_codes: list[int | None] = []
        self.stopping = threading.Event()
        self.ws: ClientConnection | None = None

    def run(self) -> None:
        while not self.stopping.is_set():
            with connect(self.url, open_timeout=5) as self.ws:
                self.ws.send(json.dumps(HELLO))
                try:
                    for raw in self.ws:  # until the connection closes
                        message = json.loads(raw)
                        if message["type"] == "trade":
                            self.trades.append(message)
                except ConnectionClosedError:
                    pass
            self.close_codes.append(self.ws.close_code)

    def vwap(self) -> float:
        volume = sum(trade["size"] for trade in self.trades)
        return sum(trade["price"] * trade["size"] for trade in self.trades) / volume

    def stop(self) -> None:
        self.stopping.set()
        if self.ws is not None:
            self.ws.close()
        self.join(5)


async def first_trades(url: str, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """The first ``count`` trades of ``SYMBOL`` at ``url``."""
    async with connect_async(url, open_timeout=5) as ws:
        await ws.send(json.dumps(HELLO))
        trades: list[dict[str, Any]] = []
        while len(trades) < count:
            message = json.loads(await asyncio.wait_for(ws.recv(), timeout_s))
            if message["type"] == "trade":
                trades.append(message)
        return trades
