"""Encoder micro-benchmark: ns per event of each ``SymbolCodec`` method, the Python reference against the C one.

    python -m bench.encodebench [--seconds 10] [--repeat 7] [--seed 0]

Takes the events of ``--seconds`` virtual seconds of the default market (every candle built), then encodes each
type's events with either codec, ``--repeat`` times, and reports the best pass in ns per event: ``payload`` (the
``trade``, ``quote``, ``book_delta``, ``bar`` methods, and ``book`` for book5 views of the books after the last
5,000 deltas) and ``frame_method`` (their ``*_frame`` twins, what the feed calls). ``text_frame`` is what framing
a payload apart costs (``text_frame`` of ``server/transport/frames.py``, as the feed did before the ``*_frame``
methods): the same for both codecs, whose payloads are the same bytes. Each figure includes the loop that makes
the calls (a dict lookup of the symbol's method, a few attribute reads, an addition: ~0.1-0.2 us).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from typing import Any

START_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z, as bench.simbench
#: time_coinapi: a fixed delay after the event (the feed's deterministic one costs the same for both codecs)
_DELAY_NS = 2_500_000
#: event type per measured method
_EVENTS = {"trade": "Trade", "quote": "Quote", "book_delta": "BookDelta", "bar": "Bar", "book5": "Top5"}

Pass = Callable[[], list[bytes]]


def _events(seconds: float, seed: int) -> tuple[list[Any], dict[str, list[Any]]]:
    """The catalogue's symbols and the market's events by type (``Top5``: a delta with its book's top 5)."""
    from coinapi_emulator.simulator.catalog import CatalogConfig, build_catalog
    from coinapi_emulator.simulator.market import Market

    catalog = build_catalog(CatalogConfig(), seed=seed)
    market = Market(catalog, seed=seed, start_ns=START_NS)
    by_type: dict[str, list[Any]] = {}
    for event in market.advance(START_NS + int(seconds * 1e9)):
        by_type.setdefault(type(event).__name__, []).append(event)
    # the books as they are now: the views cost what views of their own instant would
    by_type["Top5"] = [(delta, *market.book(delta.symbol_id).top(5)) for delta in by_type["BookDelta"][-5000:]]
    return list(catalog.symbols), by_type


def _passes(codecs: dict[str, Any], events: dict[str, list[Any]], suffix: str) -> dict[str, Pass]:
    """Per method, a pass that encodes all its events once with the codecs' ``<method><suffix>``."""
    from coinapi_emulator.server.protocol.datatypes import DataType

    def bound(name: str) -> dict[str, Any]:
        return {symbol_id: getattr(codec, name + suffix) for symbol_id, codec in codecs.items()}

    trade, quote, delta, bar, book = (bound(name) for name in ("trade", "quote", "book_delta", "bar", "book"))
    book5, delay = DataType.BOOK5, _DELAY_NS
    return {
        "trade": lambda: [trade[e.symbol_id](e, 7, e.time_exchange_ns + delay) for e in events["Trade"]],
        "quote": lambda: [quote[e.symbol_id](e, 7, e.time_exchange_ns + delay) for e in events["Quote"]],
        "book_delta": lambda: [delta[e.symbol_id](e, 7, e.time_exchange_ns + delay) for e in events["BookDelta"]],
        "bar": lambda: [bar[e.symbol_id](e, e.sequence) for e in events["Bar"]],
        "book5": lambda: [
            book[d.symbol_id](book5, asks, bids, 7, d.time_exchange_ns, d.time_exchange_ns + delay)
            for d, asks, bids in events["Top5"]
        ],
    }


def _framing(payloads: list[bytes]) -> Pass:
    """A pass that frames ``payloads`` apart, as the feed did before the ``*_frame`` methods."""
    from coinapi_emulator.server.transport.frames import text_frame

    return lambda: [text_frame(payload) for payload in payloads]


def _best_ns(run: Pass, count: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        run()
        best = min(best, time.perf_counter_ns() - t0)
    return round(best / count, 1)


def run(seconds: float, repeat: int, seed: int) -> dict[str, Any]:
    from coinapi_emulator.server.plane import _speedups
    from coinapi_emulator.server.plane.codec import ReferenceCodec

    symbols, events = _events(seconds, seed)
    counts = {name: len(events[kind]) for name, kind in _EVENTS.items()}
    results: dict[str, Any] = {"events": counts}
    for label, codec_type in (("python", ReferenceCodec), ("c", _speedups.SymbolCodec)):
        codecs = {symbol.symbol_id: codec_type(symbol) for symbol in symbols}
        for variant, suffix in (("payload", ""), ("frame_method", "_frame")):
            passes = _passes(codecs, events, suffix)
            results[f"{label}_{variant}_ns"] = {name: _best_ns(passes[name], counts[name], repeat) for name in passes}
    payloads = {name: encode_pass() for name, encode_pass in _passes(codecs, events, "").items()}
    results["text_frame_ns"] = {name: _best_ns(_framing(payloads[name]), counts[name], repeat) for name in payloads}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10.0, help="virtual seconds of market events")
    parser.add_argument("--repeat", type=int, default=7, help="passes per figure; the best counts")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(json.dumps(run(args.seconds, args.repeat, args.seed)))


if __name__ == "__main__":
    main()
