from __future__ import annotations

import collections
import itertools
import json
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinapi_emulator.simulator import _native
from coinapi_emulator.simulator.catalog import Catalog, Symbol, SymbolType
from coinapi_emulator.simulator.events import Bar, BookDelta, ExchangeRate, MarketEvent, Quote, TakerSide, Trade
from coinapi_emulator.simulator.market import Market
from tests.simulator.helpers import SECOND_NS, START_NS, canonical, digest, run, subset

#: Regenerate with ``pytest tests/simulator/test_market.py --update-golden`` and review the diff: a changed
#: hash means every seeded market changed (and so do the server's golden streams in tests/golden/*.jsonl).
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "simulator_seed42.json"
GOLDEN_EVENTS = 10_000


@pytest.fixture(scope="module", autouse=True, params=["c", "python"])
def implementation(request: pytest.FixtureRequest) -> Iterator[str]:
    """Every test here runs on the C twins (simulator/csrc/) and on the pure-Python reference."""
    with pytest.MonkeyPatch.context() as patch:
        if request.param == "python":
            patch.setattr(_native, "speedups", None)
        yield request.param


def _time(event: MarketEvent) -> int:
    if isinstance(event, (Trade, Quote, BookDelta)):
        return event.time_exchange_ns
    return event.time_ns


def _symbol_of(event: MarketEvent) -> str | None:
    return None if isinstance(event, ExchangeRate) else event.symbol_id


def test_golden_first_events(catalog: Catalog, request: pytest.FixtureRequest) -> None:
    market = Market(catalog, seed=42, start_ns=START_NS)
    events = list(itertools.islice(market.advance(START_NS + 60 * SECOND_NS), GOLDEN_EVENTS))
    counts = collections.Counter(type(e).__name__ for e in events)
    actual = {
        "seed": 42,
        "start": "2024-01-01T00:00:00Z",
        "events": GOLDEN_EVENTS,
        "sha256": digest(events),
        "counts": dict(sorted(counts.items())),
        "first": canonical(events[0]).decode(),
        "last": canonical(events[-1]).decode(),
    }
    if request.config.getoption("--update-golden"):
        GOLDEN.write_text(json.dumps(actual, indent=1) + "\n")
    assert json.loads(GOLDEN.read_text()) == actual


def test_same_seed_same_events_and_other_seeds_differ(small_catalog: Catalog) -> None:
    first = run(Market(small_catalog, seed=5, start_ns=START_NS), 10)
    again = run(Market(small_catalog, seed=5, start_ns=START_NS), 10)
    other = run(Market(small_catalog, seed=6, start_ns=START_NS), 10)
    assert digest(first) == digest(again)
    assert digest(first) != digest(other)


@settings(max_examples=12, deadline=None)
@given(cuts=st.lists(st.integers(0, 5 * SECOND_NS), max_size=6), seed=st.integers(0, 1000))
def test_chunking_does_not_change_the_events(small_catalog: Catalog, cuts: list[int], seed: int) -> None:
    end = START_NS + 5 * SECOND_NS
    whole = list(Market(small_catalog, seed=seed, start_ns=START_NS, rate_scale=0.5).advance(end))
    market = Market(small_catalog, seed=seed, start_ns=START_NS, rate_scale=0.5)
    pieces: list[MarketEvent] = []
    for cut in sorted(cuts):
        pieces += market.advance(START_NS + cut)
        assert market.now_ns == START_NS + cut
    pieces += market.advance(end)
    assert digest(pieces) == digest(whole)


def test_a_symbols_stream_does_not_depend_on_the_other_symbols(small_catalog: Catalog) -> None:
    ids = [s.symbol_id for s in small_catalog.symbols]
    kept = ids[::3]
    full = run(Market(small_catalog, seed=8, start_ns=START_NS), 15)
    part = run(Market(subset(small_catalog, kept), seed=8, start_ns=START_NS), 15)
    wanted = set(kept)
    assert digest(e for e in full if _symbol_of(e) in wanted) == digest(e for e in part if _symbol_of(e) in wanted)


def test_events_are_totally_ordered(small_catalog: Catalog) -> None:
    market = Market(small_catalog, seed=2, start_ns=START_NS + 123_456_789)
    index = {s.symbol_id: i for i, s in enumerate(small_catalog.symbols)}
    previous: tuple[int, int] = (0, -1)
    for event in market.advance(START_NS + 12 * SECOND_NS):
        symbol_id = _symbol_of(event)
        # ticks (bars, exchange rates) come before symbol events of the same instant, symbols in catalogue order
        order = -1 if isinstance(event, (Bar, ExchangeRate)) or symbol_id is None else index[symbol_id]
        key = (_time(event), order)
        assert key >= previous
        previous = key
        assert START_NS + 123_456_789 < _time(event) <= START_NS + 12 * SECOND_NS


def test_busy_symbols_are_lively(catalog: Catalog) -> None:
    symbol_id = "BINANCE_SPOT_BTC_USDT"
    market = Market(subset(catalog, [symbol_id]), seed=42, start_ns=START_NS)
    events = run(market, 60)
    trades = sum(isinstance(e, Trade) for e in events)
    book_changes = sum(isinstance(e, BookDelta) for e in events)
    assert trades / 60 >= 3
    assert book_changes / 60 > 10
    assert market.trades_count(symbol_id) == trades
    assert market.volume_lots_since_start(symbol_id) == sum(e.size_lots for e in events if isinstance(e, Trade))


def test_the_same_pair_moves_together_across_exchanges(catalog: Catalog) -> None:
    pair = ("BINANCE_SPOT_BTC_USDT", "COINBASE_SPOT_BTC_USD")
    market = Market(subset(catalog, pair), seed=42, start_ns=START_NS, rate_scale=0.2)
    mids = {symbol_id: 0.0 for symbol_id in pair}
    worst, moved, samples, first_mid = 0.0, 0.0, 0, 0.0
    for event in market.advance(START_NS + 3600 * SECOND_NS):
        if isinstance(event, Quote):
            mids[event.symbol_id] = (event.ask_price_ticks + event.bid_price_ticks) / 200
            if all(mids.values()):
                first_mid = first_mid or mids[pair[0]]
                worst = max(worst, abs(mids[pair[0]] / mids[pair[1]] - 1))
                moved = max(moved, abs(mids[pair[0]] / first_mid - 1))
                samples += 1
    assert samples > 1000
    assert worst < 0.003  # within 30 bps at every quote over a virtual hour
    assert moved > 2 * worst  # while the price itself moved further than that


def test_exchange_rates_every_second(small_catalog: Catalog) -> None:
    market = Market(small_catalog, seed=3, start_ns=START_NS + 500_000_000)
    rates = [e for e in market.advance(START_NS + 10 * SECOND_NS) if isinstance(e, ExchangeRate)]
    assets = [a.asset_id for a in small_catalog.assets if a.asset_id != "USD"]
    assert [(r.asset_id_base, r.time_ns) for r in rates] == [
        (asset_id, START_NS + second * SECOND_NS) for second in range(1, 11) for asset_id in assets
    ]
    assert all(r.asset_id_quote == "USD" and r.rate > 0 for r in rates)
    btc = [r.rate for r in rates if r.asset_id_base == "BTC"]
    assert market.rate_usd("BTC") == btc[-1]
    assert market.rate_usd("USD") == 1.0
    assert abs(btc[0] / 42280.0 - 1) < 0.01


def test_last_price_and_statistics(small_catalog: Catalog) -> None:
    market = Market(small_catalog, seed=4, start_ns=START_NS)
    symbol_id = "BINANCE_SPOT_BTC_USDT"
    ask, _, bid, _ = market.book(symbol_id).touch()
    assert market.last_price_ticks(symbol_id) == (ask + bid) // 2
    assert market.trades_count(symbol_id) == 0 and market.volume_lots_since_start(symbol_id) == 0
    trades = [e for e in run(market, 10) if isinstance(e, Trade) and e.symbol_id == symbol_id]
    assert trades
    assert market.last_price_ticks(symbol_id) == trades[-1].price_ticks
    assert market.trades_count(symbol_id) == len(trades)


def test_advance_contract(small_catalog: Catalog) -> None:
    market = Market(small_catalog, seed=1, start_ns=START_NS)
    assert market.now_ns == START_NS
    with pytest.raises(ValueError, match="before now"):
        market.advance(START_NS - 1)
    iterator = market.advance(START_NS + SECOND_NS)
    first = next(iter(iterator))
    assert market.now_ns == _time(first)
    with pytest.raises(RuntimeError, match="still open"):
        market.advance(START_NS + 2 * SECOND_NS)
    rest = list(iterator)
    assert market.now_ns == START_NS + SECOND_NS
    assert list(market.advance(START_NS + SECOND_NS)) == []
    assert digest([first, *rest]) == digest(run(Market(small_catalog, seed=1, start_ns=START_NS), 1))


def test_a_dropped_iterator_resumes_where_it_stopped(small_catalog: Catalog) -> None:
    reference = run(Market(small_catalog, seed=9, start_ns=START_NS), 5)
    market = Market(small_catalog, seed=9, start_ns=START_NS)
    got: list[MarketEvent] = []
    for take in (1, 2, 3, 50, 7):  # stop in the middle of instants (a trade's fills, delta and quote)
        iterator = market.advance(START_NS + 5 * SECOND_NS)
        got += itertools.islice(iterator, take)
        iterator.close()  # type: ignore[attr-defined]
    got += market.advance(START_NS + 5 * SECOND_NS)
    assert digest(got) == digest(reference)


def test_halted_symbols_are_silent_until_resumed(small_catalog: Catalog) -> None:
    market = Market(small_catalog, seed=6, start_ns=START_NS)
    symbol_id = "BINANCE_SPOT_BTC_USDT"
    state = market.symbol_state(symbol_id)
    state.halted = True
    quiet = run(market, 5)
    assert not [e for e in quiet if _symbol_of(e) == symbol_id and not isinstance(e, Bar)]
    state.halted = False
    assert [e for e in run(market, 5) if isinstance(e, Trade) and e.symbol_id == symbol_id]


def test_spread_multiplier_widens_the_book(catalog: Catalog) -> None:
    symbol_id = "BINANCE_SPOT_BTC_USDT"
    spreads = []
    for multiplier in (1.0, 8.0):
        market = Market(subset(catalog, [symbol_id]), seed=6, start_ns=START_NS)
        market.symbol_state(symbol_id).spread_multiplier = multiplier
        quotes = [e for e in run(market, 60) if isinstance(e, Quote)]
        spreads.append(sum(q.ask_price_ticks - q.bid_price_ticks for q in quotes) / len(quotes))
    assert spreads[1] > 2 * spreads[0]


def test_volatility_multiplier_hook(small_catalog: Catalog) -> None:
    market = Market(small_catalog, seed=6, start_ns=START_NS)
    factor = market.asset_factor("BTC")
    assert factor is not None and market.asset_factor("USD") is None
    factor.volatility_multiplier = 0.0
    run(market, 30)
    assert market.rate_usd("BTC") == pytest.approx(42280.0)


def test_invalid_arguments(small_catalog: Catalog) -> None:
    with pytest.raises(ValueError, match="rate_scale"):
        Market(small_catalog, seed=1, start_ns=START_NS, rate_scale=0.0)
    orphan = Symbol(
        "X_SPOT_NOPE_USD", "X", small_catalog.symbols[0].symbol_type, "NOPE", "USD", "nopeusd", 2, 2, 1.0, 1.0
    )
    broken = Catalog(small_catalog.exchanges, small_catalog.assets, (orphan,))
    with pytest.raises(ValueError, match="asset missing"):
        Market(broken, seed=1, start_ns=START_NS)


def test_every_symbol_type_trades_with_sane_prices(catalog: Catalog) -> None:
    chosen: dict[tuple[SymbolType, bool], str] = {}
    for s in catalog.symbols:
        chosen.setdefault((s.symbol_type, s.asset_id_base == "SHIB"), s.symbol_id)
    market = Market(subset(catalog, chosen.values()), seed=12, start_ns=START_NS, rate_scale=20.0)
    events = run(market, 60)
    traded = {e.symbol_id for e in events if isinstance(e, Trade)}
    assert traded == set(chosen.values())
    for symbol_id in chosen.values():
        symbol = catalog.symbol(symbol_id)
        assert symbol is not None
        price = market.last_price_ticks(symbol_id) / 10**symbol.price_decimals
        assert price > 0 and math.isfinite(price)


def test_no_trade_when_the_opposite_side_holds_a_single_lot(small_catalog: Catalog) -> None:
    market = Market(small_catalog, seed=1, start_ns=START_NS)
    symbol_id = "BINANCE_SPOT_BTC_USDT"
    book = market.book(symbol_id)
    for level in book.asks()[1:]:
        book.set_ask(level.price_ticks, 0)
    for level in book.bids()[1:]:
        book.set_bid(level.price_ticks, 0)
    book.set_ask(book.asks()[0].price_ticks, 1)
    book.set_bid(book.bids()[0].price_ticks, 1)
    book.emit(symbol_id, START_NS)
    # white box: drive one trade arrival directly; neither side can give a lot away
    state = market.symbol_state(symbol_id)
    assert state.event(state.next_trade_ns) == ()
    assert market.trades_count(symbol_id) == 0


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    start_s=st.integers(0, 7 * 86_400),
    picks=st.lists(st.integers(0, 10_000), min_size=1, max_size=3),
)
def test_book_invariants_hold_event_by_event(small_catalog: Catalog, seed: int, start_s: int, picks: list[int]) -> None:
    """bid < ask after every change, every quote is the top of the book, every trade is at or through the touch."""
    by_rate = sorted(small_catalog.symbols, key=lambda s: -s.trade_rate)
    # the busiest symbol, so that there are trades, and any others: busy ones and the quiet tail
    symbol_ids = sorted({by_rate[0].symbol_id} | {by_rate[pick % len(by_rate)].symbol_id for pick in picks})
    start = START_NS + start_s * SECOND_NS
    market = Market(subset(small_catalog, symbol_ids), seed=seed, start_ns=start, rate_scale=4.0)
    replicas = {symbol_id: market.book(symbol_id).copy() for symbol_id in symbol_ids}
    trades = 0
    for event in market.advance(start + 20 * SECOND_NS):
        if isinstance(event, Trade):
            ask, _, bid, _ = replicas[event.symbol_id].touch()
            assert event.price_ticks >= ask if event.taker_side is TakerSide.BUY else event.price_ticks <= bid
            trades += 1
        elif isinstance(event, BookDelta):
            replica = replicas[event.symbol_id]
            replica.apply(event)
            ask, _, bid, _ = replica.touch()
            assert bid < ask
        elif isinstance(event, Quote):
            top = replicas[event.symbol_id].touch()
            assert (event.ask_price_ticks, event.ask_size_lots, event.bid_price_ticks, event.bid_size_lots) == top
    assert trades > 0
