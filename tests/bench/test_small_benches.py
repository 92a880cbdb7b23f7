"""The import and order-book benchmarks on tiny inputs: they measure what they say (rows read, L3 entries sent)."""

from __future__ import annotations

from pathlib import Path

from bench.importbench import write_files
from bench.l3bench import one_run
from coinapi_emulator.server.replay.formats.rows import SymbolNames
from coinapi_emulator.server.replay.importer import import_files


def test_the_import_benchmark_imports_every_synthetic_row(tmp_path: Path) -> None:
    paths = write_files(tmp_path, trades=30, book_rows=9)
    summary = import_files(paths, tmp_path / "out.jsonl.gz", SymbolNames({}))
    assert summary.messages == {"trade": 30, "book": 1 + 3} and summary.symbols == {"BINANCE_SPOT_BTC_USDT"}


def test_the_order_book_benchmark_counts_book_changes_and_l3_entries() -> None:
    with_l3 = one_run(["book", "book_l3"], ["BINANCE_SPOT_BTC_USDT$"], 1)
    without = one_run(["book"], ["BINANCE_SPOT_BTC_USDT$"], 1)
    assert with_l3["book_changes"] == without["book_changes"] > 1
    assert with_l3["l3_entries"] > with_l3["book_changes"] and without["l3_entries"] == 0
