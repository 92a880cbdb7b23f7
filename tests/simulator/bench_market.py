"""Throughput of the pure simulator: events generated per CPU second (not a test; pytest does not collect it).

    .venv/bin/python tests/simulator/bench_market.py [--rate-scale 1.0] [--seconds 5] [--reps 10]

Builds the default catalogue and a market (seed 42, 2024-01-01), warms up 10 virtual seconds and builds every
book, then times ``reps`` slices of ``seconds / rate_scale`` virtual seconds each and prints the best and the
median rate. CPU time (``process_time``) keeps the numbers comparable on a busy machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

from coinapi_emulator.simulator.catalog import build_catalog
from coinapi_emulator.simulator.market import Market

START_NS = 1_704_067_200_000_000_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate-scale", type=float, default=1.0)
    parser.add_argument("--seconds", type=float, default=5.0, help="virtual seconds per slice at rate scale 1")
    parser.add_argument("--reps", type=int, default=10)
    args = parser.parse_args()
    catalog = build_catalog()
    market = Market(catalog, seed=42, start_ns=START_NS, rate_scale=args.rate_scale)
    for _ in market.advance(START_NS + 10 * 1_000_000_000):
        pass
    for symbol in catalog.symbols:
        market.book(symbol.symbol_id)
    slice_ns = int(args.seconds / args.rate_scale * 1e9)
    rates, total = [], 0
    for _ in range(args.reps):
        began, count = time.process_time(), 0
        for _ in market.advance(market.now_ns + slice_ns):
            count += 1
        rates.append(count / (time.process_time() - began))
        total += count
    per_virtual_s = total / (args.reps * slice_ns / 1e9)
    print(
        f"{len(catalog.symbols)} symbols, rate scale {args.rate_scale}: {per_virtual_s:,.0f} events per virtual s; "
        f"best {max(rates):,.0f} events/s, median {statistics.median(rates):,.0f} events/s (CPU time)"
    )


if __name__ == "__main__":
    main()
