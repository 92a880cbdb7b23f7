"""How fast ``coinapi-emulator import`` reads: synthetic Tardis.dev files, seeded, timed end to end in-process.

    python -m bench.importbench [--trades 500000] [--book-rows 500000] [--rounds 3]

Writes a ``trades`` and an ``incremental_book_L2`` file of BTCUSDT (three book rows an exchange message, as a busy
book's updates come) into a temporary folder, imports both into one recording ``--rounds`` times, and prints one
JSON object: rows, messages written, and seconds and rows a second (median over rounds).
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from coinapi_emulator.server.replay.formats.rows import SymbolNames
from coinapi_emulator.server.replay.importer import import_files

START_US = 1_704_067_200_000_000


def write_files(folder: Path, trades: int, book_rows: int) -> list[Path]:
    """The two synthetic files, the same for the same arguments."""
    rng = random.Random(1)
    trades_path, book_path = folder / "trades.csv.gz", folder / "book.csv.gz"
    with gzip.open(trades_path, "wt") as file:
        file.write("exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n")
        for i in range(trades):
            at = START_US + i * 170
            side = "buy" if rng.random() < 0.5 else "sell"
            price, amount = 42000 + rng.randint(-500, 500) / 100, rng.randint(1, 100_000) / 1e5
            file.write(f"binance,BTCUSDT,{at},{at + 5000},{i},{side},{price:.2f},{amount:.5f}\n")
    with gzip.open(book_path, "wt") as file:
        file.write("exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n")
        for i in range(100):
            file.write(f"binance,BTCUSDT,{START_US},{START_US + 1000},true,ask,{42000 + i / 100:.2f},1.5\n")
            file.write(f"binance,BTCUSDT,{START_US},{START_US + 1000},true,bid,{41999.99 - i / 100:.2f},1.5\n")
        for i in range(book_rows):
            at = START_US + 2000 + i // 3 * 300
            side = "ask" if rng.random() < 0.5 else "bid"
            price, amount = 42000 + rng.randint(-300, 300) / 100, rng.randint(0, 300_000) / 1e5
            file.write(f"binance,BTCUSDT,{at},{at + 4000},false,{side},{price:.2f},{amount:.5f}\n")
    return [trades_path, book_path]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=500_000)
    parser.add_argument("--book-rows", type=int, default=500_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        paths = write_files(Path(folder), args.trades, args.book_rows)
        seconds, messages = [], 0
        for _ in range(args.rounds):
            started = time.perf_counter()
            summary = import_files(paths, Path(folder) / "out.jsonl.gz", SymbolNames({}))
            seconds.append(time.perf_counter() - started)
            messages = sum(summary.messages.values())
    rows = args.trades + args.book_rows + 200
    median = statistics.median(seconds)
    figures = {"rows": rows, "messages": messages, "seconds": round(median, 2), "rows_per_s": round(rows / median)}
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
