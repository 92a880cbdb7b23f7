"""What following an order book costs: the shared market published with and without ``book_l3`` followers.

    python -m bench.l3bench [--seconds 30] [--rounds 3] [--symbols BINANCE_SPOT_BTC_USDT,...]

Builds the default emulator in-process (stepped clock, no sockets) and publishes ``--seconds`` virtual seconds,
in 100 ms steps as a stepped test does, for three clients in turn, alternating them ``--rounds`` times so that
the machine's drift hits all three alike:

* ``book``: one connection with ``book`` of the symbols (the baseline: the same book changes are encoded);
* ``book+book_l3``: the same with ``book_l3`` added, so every change of those symbols also goes through their
  order books (``simulator/orders.py``) and is encoded order by order;
* ``none``: nobody subscribed (the market and its counting alone).

Prints one JSON object: wall seconds per virtual second for each (median over rounds), the book changes and
L3 entries sent, and the L3 cost per book change of the followed symbols.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

from bench.hubbench import NullSink
from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.websocket import WebSocketEndpoint
from coinapi_emulator.server.transport.frames import frame_payload

START_NS = 1_704_067_200_000_000_000
STEP_NS = 100_000_000


class CountingSink(NullSink):
    """Always writable; counts the frames, the book changes and the L3 entries it is handed."""

    def __init__(self) -> None:
        super().__init__(join=False)
        self.entries = 0
        self.book_changes = 0

    def send_frames(self, frames: list[bytes]) -> None:
        for frame in frames:
            self._count(frame)

    def offer_shared(self, shared: Any) -> bool:
        self.send_frames(shared.frames)
        return True

    def _count(self, frame: bytes) -> None:
        self.frames += 1
        payload = frame_payload(frame)
        if payload.startswith(b'{"type":"book_l3"'):
            self.entries += payload.count(b'"id":')
        elif payload.startswith(b'{"type":"book"'):
            self.book_changes += 1


def one_run(data_types: list[str], symbols: list[str], seconds: int) -> dict[str, float]:
    emulator = Emulator(Settings(seed=1, start_time_ns=START_NS, speed=None), monotonic_ns=lambda: 0)
    sink = CountingSink()
    if data_types:
        endpoint = WebSocketEndpoint(emulator)
        connection = endpoint.connect(sink, "bench", upgrade_key=None)
        hello = {"type": "hello", "apikey": "b", "subscribe_data_type": data_types}
        hello["subscribe_filter_symbol_id"] = symbols
        endpoint.handle_message(connection, json.dumps(hello))
    driver = emulator.shared.driver
    started = time.perf_counter()
    for step in range(1, seconds * 1_000_000_000 // STEP_NS + 1):
        driver.run_until(START_NS + step * STEP_NS)
    wall_s = time.perf_counter() - started
    return {"wall_s_per_virtual_s": wall_s / seconds, "book_changes": sink.book_changes, "l3_entries": sink.entries}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--symbols", default="BINANCE_SPOT_BTC_USDT$")
    args = parser.parse_args()
    symbols = args.symbols.split(",")
    cases = {"none": [], "book": ["book"], "book+book_l3": ["book", "book_l3"]}
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, data_types in cases.items():
            runs[name].append(one_run(data_types, symbols, args.seconds))
    medians = {name: statistics.median(r["wall_s_per_virtual_s"] for r in found) for name, found in runs.items()}
    changes = runs["book"][0]["book_changes"] - 1  # less the snapshot
    extra_s = (medians["book+book_l3"] - medians["book"]) * args.seconds
    print(
        json.dumps(
            {
                "symbols": symbols,
                "virtual_seconds": args.seconds,
                "rounds": args.rounds,
                "wall_ms_per_virtual_s": {name: round(value * 1000, 2) for name, value in medians.items()},
                "book_changes": changes,
                "l3_entries": runs["book+book_l3"][0]["l3_entries"],
                "l3_us_per_book_change": round(extra_s / max(changes, 1) * 1e6, 1),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
