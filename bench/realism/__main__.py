"""``python -m bench.realism [--seeds 3 7] [--hours 72] [--out docs/REALISM.md]``: measure and write the report."""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

from bench.realism import plots, report
from bench.realism.facts import FACTS
from bench.realism.tape import DAYS, record

REPO = Path(__file__).resolve().parents[2]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.realism", description=__doc__)
    parser.add_argument("--seeds", type=int, nargs="+", default=[3, 7], help="market seeds (default: 3 7)")
    parser.add_argument("--hours", type=float, default=72.0, help="virtual hours per seed (default: 72)")
    parser.add_argument("--days", type=int, default=DAYS, help=f"virtual days of daily returns (default: {DAYS})")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "REALISM.md", help="the report to write")
    args = parser.parse_args(argv)
    if args.hours < 1:
        parser.error("--hours must be at least 1")
    if args.days < 5:
        parser.error("--days must be at least 5")
    started = time.perf_counter()
    # one process per seed: each run is single-threaded Python, and seeds are independent
    with ProcessPoolExecutor(max_workers=min(len(args.seeds), os.cpu_count() or 1)) as pool:
        tapes = list(pool.map(partial(record, hours=args.hours, days=args.days), args.seeds))
    print(f"{len(tapes)} seeds recorded in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    values = {fact.key: [fact.measure(tape) for tape in tapes] for fact in FACTS}
    written = plots.draw_all(tapes, args.out.parent / "realism")
    command = "python -m bench.realism " + " ".join(argv if argv is not None else sys.argv[1:])
    report.write(tapes, values, written, args.out, command=command.strip(), date=datetime.date.today().isoformat())
    for fact in FACTS:
        verdict = "pass" if all(fact.passes(v) for v in values[fact.key]) else "FAIL"
        print(f"{verdict:4}  {fact.key:22} {[fact.fmt.format(v) for v in values[fact.key]]}", file=sys.stderr)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
