"""Simulator-only micro-benchmark: market events generated and encoded to CoinAPI JSON frames, no sockets.

    python -m bench.simbench [--seconds 5] [--seed 0] [--rate-scale 1] [--bars all|none] [--profile]

Builds the catalogue, a ``simulator.market.Market`` and one ``SymbolCodec`` per symbol (the feed's, from
``server.protocol.codec``: the C one when built), then calls ``market.advance`` in 20 ms virtual steps (the feed's
step at ``--speed max``) for about ``--seconds`` of wall time, encoding every event to a WebSocket frame as the
feed does (trade, quote and book delta with a sequence and a time_coinapi, and bars, through the codec's
``*_frame`` methods; exchange rates through ``text_frame``). The feed's derived book5/20/50 snapshots are not
included (they are not events). Every symbol's initial book is built before the clock starts (a one-off start-up
cost, reported as ``market_build_s``; it changes no event), and the start-up heap is frozen (``gc.freeze()``, as
``serve`` does). A second, fresh market with the same seed is then advanced over the same virtual span without
encoding, which splits the time into generation and encoding. ``--bars none`` builds no ``Bar`` (a
``bars="wanted"`` market wanting none: the server's market when nobody subscribed to ohlcv).

Prints one JSON object: events/s (generate + encode), generate-only events/s, events per type, the virtual span,
how many times faster than real time the market ran, and which codec encoded. ``--profile`` prints the top of a
cProfile instead.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

START_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z: fixed, so runs see the same market
STEP_NS = 20_000_000


def run(
    seconds: float, seed: int, rate_scale: float, exchanges: int | None, max_symbols: int | None, bars: str = "all"
) -> dict[str, Any]:
    from coinapi_emulator.server.plane.codec import SymbolCodec
    from coinapi_emulator.server.plane.streams import simulated_time_coinapi
    from coinapi_emulator.server.protocol.encode import encode_exrate
    from coinapi_emulator.server.transport.frames import text_frame
    from coinapi_emulator.simulator.catalog import CatalogConfig, build_catalog
    from coinapi_emulator.simulator.events import Bar, BookDelta, ExchangeRate, Quote, Trade
    from coinapi_emulator.simulator.market import Market

    t0 = time.perf_counter()
    config = CatalogConfig()
    if exchanges is not None or max_symbols is not None:
        config = CatalogConfig(
            exchanges=exchanges or config.exchanges,
            max_symbols_per_exchange=max_symbols or config.max_symbols_per_exchange,
        )
    catalog = build_catalog(config, seed=seed)
    t_catalog = time.perf_counter() - t0

    def new_market() -> Any:
        market = Market(
            catalog, seed=seed, start_ns=START_NS, rate_scale=rate_scale, bars="all" if bars == "all" else "wanted"
        )
        # Each book is built on its symbol's first event, from its own generator: building them all up front
        # changes no event and keeps this one-off start-up cost (measured apart) out of the per-event figures.
        for symbol in catalog.symbols:
            market.book(symbol.symbol_id)
        return market

    t0 = time.perf_counter()
    market = new_market()
    t_market = time.perf_counter() - t0
    codecs = {symbol.symbol_id: SymbolCodec(symbol) for symbol in catalog.symbols}
    # as ``serve`` does after start-up: the long-lived catalogue, books and candle lists leave the collector's
    # generations, so that collections triggered by short-lived events do not traverse them
    gc.freeze()
    # the feed's message counters (server/plane/streams.py ``Channel.counts``) of the streams numbered here
    sequences = {symbol.symbol_id: [0, 0, 0] for symbol in catalog.symbols}
    counts: dict[type, int] = dict.fromkeys((Bar, BookDelta, Quote, Trade, ExchangeRate), 0)

    def frames(events: Iterable[Any]) -> Iterator[bytes]:
        """Each event's frame, numbered and stamped as the feed does at ``--speed max``."""
        for event in events:
            kind = type(event)
            counts[kind] += 1
            if kind is Bar:  # the market numbers bars itself
                yield codecs[event.symbol_id].bar_frame(event, event.sequence)
            elif kind is ExchangeRate:
                base, quote = event.asset_id_base, event.asset_id_quote
                yield text_frame(encode_exrate(base, quote, "BASE_ALL_CROSSES_TO_REF", event.time_ns, event.rate))
            else:
                codec, counters = codecs[event.symbol_id], sequences[event.symbol_id]
                stamp = simulated_time_coinapi(event.time_exchange_ns)
                if kind is BookDelta:
                    counters[2] += 1
                    yield codec.book_delta_frame(event, counters[2], stamp)
                elif kind is Quote:
                    counters[1] += 1
                    yield codec.quote_frame(event, counters[1], stamp)
                elif kind is Trade:
                    counters[0] += 1
                    yield codec.trade_frame(event, counters[0], stamp)
                else:
                    raise TypeError(f"unknown event {kind.__name__}")

    # warm-up: one virtual second (first bars, caches), not measured
    now = START_NS
    for _ in frames(market.advance(now + 1_000_000_000)):
        pass
    now += 1_000_000_000
    counts.update(dict.fromkeys(counts, 0))
    span_start = now

    frame_bytes = 0
    t0 = time.perf_counter()
    deadline = t0 + seconds
    while True:
        now += STEP_NS
        for frame in frames(market.advance(now)):
            frame_bytes += len(frame)
        if time.perf_counter() >= deadline:
            break
    t_total = time.perf_counter() - t0
    events = sum(counts.values())
    span_ns = now - span_start

    # the same virtual span again, generation only
    market2 = new_market()
    gc.freeze()
    for _ in market2.advance(span_start):
        pass
    t0 = time.perf_counter()
    gen_events = 0
    at = span_start
    while at < now:
        at += STEP_NS
        for _ in market2.advance(at):
            gen_events += 1
    t_gen = time.perf_counter() - t0

    return {
        "symbols": len(catalog.symbols),
        "exchanges": len(catalog.exchanges),
        "rate_scale": rate_scale,
        "bars": bars,
        "catalog_build_s": round(t_catalog, 3),
        "market_build_s": round(t_market, 3),  # initial books of every symbol included
        "wall_s": round(t_total, 3),
        "virtual_s": span_ns / 1e9,
        "events": events,
        "events_per_s": events / t_total,
        "generate_only_events_per_s": gen_events / t_gen if t_gen > 0 else 0.0,
        "generate_share": t_gen / t_total if t_total > 0 else 0.0,
        "times_real_time": span_ns / 1e9 / t_total,
        "virtual_events_per_s": events / (span_ns / 1e9),
        "avg_frame_bytes": frame_bytes / max(1, events),
        "by_type": {kind.__name__: count for kind, count in sorted(counts.items(), key=lambda kv: -kv[1])},
        "generate_events_match": gen_events == events,
        "codec": SymbolCodec.__module__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="wall seconds of generate+encode")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate-scale", type=float, default=1.0)
    parser.add_argument("--bars", choices=("all", "none"), default="all", help="build every candle, or none")
    parser.add_argument("--exchanges", type=int, default=None, help="catalogue size (default: the emulator's)")
    parser.add_argument("--max-symbols-per-exchange", type=int, default=None)
    parser.add_argument("--profile", action="store_true", help="print the top 30 of cProfile (cumulative, tottime)")
    args = parser.parse_args()
    call = (args.seconds, args.seed, args.rate_scale, args.exchanges, args.max_symbols_per_exchange, args.bars)
    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        result = profiler.runcall(run, *call)
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(30)
        print(json.dumps(result))
        return
    print(json.dumps(run(*call)))


if __name__ == "__main__":
    main()
