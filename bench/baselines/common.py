"""What the three baseline servers share: the command line, a CoinAPI-shaped trade source and the pacing loop.

Contract (the same for B0, B1 and B2, see bench/servers.py):
  python bench/baselines/bX_*.py --port PORT --rate RATE [--host 127.0.0.1] [--batch 16]
A client subscribes by sending any text frame (the hello); from then on it gets every trade. One trade
message is a ~250-byte JSON text frame with the fields of a CoinAPI ``trade``; ``sequence`` counts up by one
per message and ``time_coinapi`` is the wall-clock time at which the message was made, so a client can
measure created->received latency and detect gaps.

``--rate 0`` publishes as fast as the event loop allows (one batch of ``--batch`` messages per loop pass);
``--rate R`` publishes R messages per second in total. Backpressure is lossless: while any subscriber's
transport is paused, nothing is published (a fixed rate that cannot be kept then degrades to "as fast as
possible"). This is a simpler policy than the emulator's (which drops and disconnects slow clients) and
favours the baselines slightly under overload.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from collections.abc import Awaitable, Callable

import orjson

SYMBOL_ID = "BINANCE_SPOT_BTC_USDT"


def parse_args(doc: str | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="messages per second in total; 0 = max")
    parser.add_argument("--batch", type=int, default=16, help="most messages made in one loop pass")
    args = parser.parse_args()
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("baselines listen on loopback only")
    args.batch = max(1, args.batch)
    return args


class Trades:
    """Makes trade messages. Field values cycle through seeded pools so making them costs little."""

    def __init__(self, symbol_id: str = SYMBOL_ID, seed: int = 1) -> None:
        rng = random.Random(seed)
        self.symbol_id = symbol_id
        self.sequence = 0
        self._uuids = [f"{rng.getrandbits(128):032x}" for _ in range(4096)]
        self._uuids = [f"{u[:8]}-{u[8:12]}-4{u[13:16]}-a{u[17:20]}-{u[20:]}" for u in self._uuids]
        price, self._prices = 67_250.0, []
        for _ in range(4096):
            price = round(max(1.0, price + rng.choice((-0.01, 0.0, 0.01)) * rng.randint(1, 200)), 2)
            self._prices.append(price)
        self._sizes = [round(rng.expovariate(8.0), 5) or 0.00001 for _ in range(4096)]
        self._second = -1
        self._second_text = ""

    def _now(self) -> str:
        """Wall-clock time as CoinAPI writes it: ``2026-01-02T03:04:05.1234567Z``."""
        ns = time.time_ns()
        second = ns // 1_000_000_000
        if second != self._second:
            self._second = second
            self._second_text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return f"{self._second_text}.{(ns % 1_000_000_000) // 100:07d}Z"

    def make(self, count: int) -> list[bytes]:
        """``count`` consecutive trades, all stamped now."""
        stamp = self._now()
        first = self.sequence + 1
        self.sequence += count
        out = []
        for seq in range(first, first + count):
            i = seq & 4095
            out.append(
                orjson.dumps(
                    {
                        "type": "trade",
                        "symbol_id": self.symbol_id,
                        "sequence": seq,
                        "time_exchange": stamp,
                        "time_coinapi": stamp,
                        "uuid": self._uuids[i],
                        "price": self._prices[i],
                        "size": self._sizes[i],
                        "taker_side": "BUY" if seq % 3 else "SELL",
                    }
                )
            )
        return out


class Pacer:
    """Decides how many messages are due now: all of a batch at max rate, else by the loop clock."""

    def __init__(self, rate: float, batch: int, clock: Callable[[], float]) -> None:
        self.rate, self.batch, self.clock = rate, batch, clock
        self._origin: float | None = None
        self._done = 0

    def restart(self) -> None:
        """Forget the schedule (after a pause, so the backlog is not burst out at once)."""
        self._origin = None

    def due(self) -> int:
        if self.rate <= 0:
            return self.batch
        now = self.clock()
        if self._origin is None:
            self._origin, self._done = now, 0
        return min(self.batch, int((now - self._origin) * self.rate) - self._done)

    def sent(self, count: int) -> None:
        self._done += count

    def delay(self) -> float:
        """Seconds until the next message is due (0 = go again right after I/O)."""
        if self.rate <= 0 or self._origin is None:
            return 0.0
        behind = int((self.clock() - self._origin) * self.rate) - self._done
        if behind > 0:
            return 0.0
        return max(0.0, self._origin + (self._done + 1) / self.rate - self.clock())


class CallbackPublisher:
    """Publisher for callback-style servers (picows): one loop callback per batch.

    ``publish(messages)`` sends to every subscriber; ``can_publish()`` is false without subscribers or while
    a transport is paused; call ``kick()`` when it may have become true.
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        args: argparse.Namespace,
        publish: Callable[[list[bytes]], None],
        can_publish: Callable[[], bool],
    ) -> None:
        self.loop, self.publish, self.can_publish = loop, publish, can_publish
        self.trades = Trades()
        self.pacer = Pacer(args.rate, args.batch, loop.time)
        self._idle = False
        loop.call_soon(self._run)

    def kick(self) -> None:
        if self._idle:
            self._idle = False
            self.loop.call_soon(self._run)

    def _run(self) -> None:
        if not self.can_publish():
            self._idle = True
            self.pacer.restart()
            return
        count = self.pacer.due()
        if count > 0:
            self.publish(self.trades.make(count))
            self.pacer.sent(count)
        delay = self.pacer.delay()
        if delay <= 0:
            self.loop.call_soon(self._run)
        else:
            self.loop.call_later(delay, self._run)


async def publish_forever(
    args: argparse.Namespace,
    publish: Callable[[list[bytes]], Awaitable[None]],
    has_subscribers: Callable[[], bool],
) -> None:
    """Publisher for async servers (B0): backpressure happens inside ``publish`` (each send awaits)."""
    loop = asyncio.get_running_loop()
    trades = Trades()
    pacer = Pacer(args.rate, args.batch, loop.time)
    while True:
        if not has_subscribers():
            pacer.restart()
            await asyncio.sleep(0.005)
            continue
        count = pacer.due()
        if count > 0:
            await publish(trades.make(count))
            pacer.sent(count)
        await asyncio.sleep(pacer.delay())
