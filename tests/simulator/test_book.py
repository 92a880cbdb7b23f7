from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinapi_emulator.simulator import _native
from coinapi_emulator.simulator.book import (
    CATCH_UP,
    HUMP_DEPTH,
    LEVEL_MEAN,
    LEVEL_SIZE_CAP,
    LEVEL_SIZE_TAIL,
    MAX_LEVELS,
    SIZE_PROFILE,
    Book,
    BookMaker,
)
from coinapi_emulator.simulator.catalog import Catalog
from coinapi_emulator.simulator.events import BookDelta, Level, Quote, TakerSide, Trade
from coinapi_emulator.simulator.market import Market
from tests.simulator.helpers import START_NS, run, subset


def _book() -> Book:
    return Book(asks=(Level(103, 5), Level(101, 2), Level(102, 7)), bids=(Level(99, 4), Level(100, 1), Level(97, 3)))


def assert_valid(book: Book) -> None:
    """The book invariants: ordered sides, positive sizes, not crossed."""
    asks, bids = book.asks(), book.bids()
    assert asks and bids
    assert [lv.price_ticks for lv in asks] == sorted({lv.price_ticks for lv in asks})
    assert [lv.price_ticks for lv in bids] == sorted({lv.price_ticks for lv in bids}, reverse=True)
    assert all(lv.size_lots > 0 for lv in asks + bids)
    assert bids[0].price_ticks < asks[0].price_ticks
    assert bids[-1].price_ticks >= 1


def test_levels_are_best_first() -> None:
    book = _book()
    assert book.asks() == (Level(101, 2), Level(102, 7), Level(103, 5))
    assert book.bids() == (Level(100, 1), Level(99, 4), Level(97, 3))
    assert book.top(2) == ((Level(101, 2), Level(102, 7)), (Level(100, 1), Level(99, 4)))
    assert book.best_ask() == Level(101, 2) and book.best_bid() == Level(100, 1)
    assert book.touch() == (101, 2, 100, 1)
    assert book.depth() == (3, 3)
    assert Book().best_ask() is None and Book().best_bid() is None


def test_set_and_delete_levels() -> None:
    book = _book()
    book.set_ask(102, 0)
    book.set_bid(98, 6)
    book.set_bid(100, 9)
    book.set_ask(150, 0)  # deleting a missing level is a no-op
    assert book.asks() == (Level(101, 2), Level(103, 5))
    assert book.bids() == (Level(100, 9), Level(99, 4), Level(98, 6), Level(97, 3))


def test_emit_reports_net_changes_and_quotes_only_when_the_top_changes() -> None:
    book = _book()
    assert book.emit("X", 1) == []
    book.set_ask(103, 0)
    book.set_ask(104, 1)
    book.set_bid(97, 8)
    book.set_bid(97, 2)
    assert book.emit("X", 5) == [BookDelta("X", 5, (Level(103, 0), Level(104, 1)), (Level(97, 2),))]
    book.set_bid(100, 3)
    assert book.emit("X", 6) == [BookDelta("X", 6, (), (Level(100, 3),)), Quote("X", 6, 101, 2, 100, 3)]
    book.set_ask(101, 0)
    book.set_bid(96, 1)
    book.set_bid(95, 1)
    assert book.emit("X", 7) == [
        BookDelta("X", 7, (Level(101, 0),), (Level(96, 1), Level(95, 1))),
        Quote("X", 7, 102, 7, 100, 3),
    ]


def test_apply_and_copy() -> None:
    book = _book()
    copy = book.copy()
    copy.apply(BookDelta("X", 1, (Level(101, 0), Level(105, 2)), (Level(100, 4), Level(50, 0))))
    assert copy.asks() == (Level(102, 7), Level(103, 5), Level(105, 2))
    assert copy.bids() == (Level(100, 4), Level(99, 4), Level(97, 3))
    assert copy.emit("X", 2) == []  # applied deltas are not pending changes
    assert book.asks()[0] == Level(101, 2)  # the original is untouched


def test_sweep_eats_from_the_touch_and_keeps_the_last_level() -> None:
    book = _book()
    assert book.sweep(True, 1) == [(101, 1)]
    assert book.sweep(True, 8) == [(101, 1), (102, 7)]
    assert book.asks() == (Level(103, 5),)
    assert book.sweep(True, 100) == [(103, 4)]  # one lot stays: a side is never emptied
    assert book.sweep(True, 1) == []
    assert book.sweep(False, 6) == [(100, 1), (99, 4), (97, 1)]
    assert book.bids() == (Level(97, 2),)


def test_a_limited_sweep_takes_nothing_priced_worse_than_its_limit() -> None:
    book = _book()
    assert book.sweep(True, 100, 102) == [(101, 2), (102, 7)]
    assert book.asks() == (Level(103, 5),)
    assert book.sweep(True, 100, 102) == []  # nothing rests at or below the limit
    assert book.sweep(False, 3, 99) == [(100, 1), (99, 2)]  # the size runs out before the limit does
    assert book.sweep(False, 100, 101) == []  # a limit above the best bid
    assert book.sweep(False, 100, None) == [(99, 2), (97, 2)]  # no limit: down to the last lot


def _maker(seed: int, gap: int = 3, half_spread: float = 2.0) -> BookMaker:
    return BookMaker(random.Random(seed), gap, half_spread, 50.0)


def test_initial_book() -> None:
    book = _maker(1).initial_book(1000.0, random.Random(2))
    assert_valid(book)
    asks, bids = book.depth()
    assert asks == bids and 25 <= asks <= 45
    assert book.best_ask() is not None and book.best_bid() is not None
    assert book.emit("X", 1) == []
    # a price close to zero still gets positive bids
    low = _maker(1).initial_book(0.2, random.Random(2))
    assert_valid(low)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    moves=st.lists(st.floats(-40.0, 40.0), min_size=1, max_size=150),
    gap=st.integers(1, 20),
    half_spread=st.floats(0.5, 30.0),
    spread_multiplier=st.floats(0.5, 4.0),
)
def test_maker_keeps_the_invariants_and_deltas_replay(
    seed: int, moves: list[float], gap: int, half_spread: float, spread_multiplier: float
) -> None:
    maker = _maker(seed, gap, half_spread)
    mid = 5000.0
    book = maker.initial_book(mid, random.Random(seed))
    replica = book.copy()
    rng = random.Random(seed)
    for move in moves:
        mid = max(1.0, mid + move)
        if rng.random() < 0.2:
            book.sweep(rng.random() < 0.5, rng.randint(1, 400))
        else:
            maker.update(book, mid, spread_multiplier)
        for event in book.emit("X", 1):
            if isinstance(event, BookDelta):
                replica.apply(event)
            else:
                assert (event.ask_price_ticks, event.ask_size_lots, event.bid_price_ticks, event.bid_size_lots) == (
                    book.touch()
                )
        assert_valid(book)
        assert replica.asks() == book.asks() and replica.bids() == book.bids()
        assert max(book.depth()) <= MAX_LEVELS


@pytest.fixture(scope="module")
def busy_catalog(small_catalog: Catalog) -> Catalog:
    return subset(small_catalog, [s.symbol_id for s in small_catalog.symbols][:40])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32), seconds=st.floats(0.5, 4.0))
def test_market_books_stay_valid_and_events_describe_them(busy_catalog: Catalog, seed: int, seconds: float) -> None:
    market = Market(busy_catalog, seed=seed, start_ns=START_NS, rate_scale=3.0)
    replicas = {s.symbol_id: market.book(s.symbol_id).copy() for s in busy_catalog.symbols}
    before_trades: dict[str, Book] = {}
    fills_seen: dict[str, int] = {}
    for event in market.advance(START_NS + int(seconds * 1e9)):
        if isinstance(event, Trade):
            # every fill of one instant comes from the book as it was before the instant (the replica)
            previous = before_trades.setdefault(event.symbol_id, replicas[event.symbol_id].copy())
            k = fills_seen.get(event.symbol_id, 0)
            fills_seen[event.symbol_id] = k + 1
            side = previous.asks() if event.taker_side is TakerSide.BUY else previous.bids()
            assert event.price_ticks == side[k].price_ticks  # the k-th fill is at the k-th level from the touch
            assert 0 < event.size_lots <= side[k].size_lots
            if k:
                assert fills_seen[event.symbol_id] <= len(side)
            continue
        if isinstance(event, BookDelta):
            book = market.book(event.symbol_id)
            replica = replicas[event.symbol_id]
            replica.apply(event)
            assert replica.asks() == book.asks() and replica.bids() == book.bids()
            assert_valid(book)
            before_trades.pop(event.symbol_id, None)
            fills_seen.pop(event.symbol_id, None)
        elif isinstance(event, Quote):
            book = market.book(event.symbol_id)
            assert (event.ask_price_ticks, event.ask_size_lots, event.bid_price_ticks, event.bid_size_lots) == (
                book.touch()
            )


def test_a_multi_level_sweep_fills_whole_levels_before_the_last(busy_catalog: Catalog) -> None:
    market = Market(busy_catalog, seed=11, start_ns=START_NS, rate_scale=3.0)
    events = run(market, 60)
    groups: dict[tuple[str, int], list[Trade]] = {}
    for event in events:
        if isinstance(event, Trade):
            groups.setdefault((event.symbol_id, event.time_exchange_ns), []).append(event)
    sweeps = [g for g in groups.values() if len(g) > 1]
    assert sweeps, "a minute of busy trading has multi-level sweeps"
    for group in sweeps:
        prices = [t.price_ticks for t in group]
        assert len({t.taker_side for t in group}) == 1
        assert prices == (sorted(prices) if group[0].taker_side is TakerSide.BUY else sorted(prices, reverse=True))


class _Scripted(random.Random):
    """A generator whose ``random()`` replays a script (for one exact maker decision)."""

    def __init__(self, values: list[float]) -> None:
        super().__init__(0)
        self._values = values

    def random(self) -> float:
        return self._values.pop(0)


def test_noise_never_improves_the_touch_past_the_fair_band() -> None:
    book = Book(asks=tuple(Level(110 + i, 5) for i in range(20)), bids=tuple(Level(90 - i, 5) for i in range(20)))
    # draws: side (asks), depth 0, action "improve the touch", offset; mid 100, half-spread 4 so tol 2
    maker = BookMaker(_Scripted([0.1, 0.0, 0.9, 0.9]), 10, 4.0, 5.0)
    maker.update(book, 100.0)
    assert book.asks()[0].price_ticks == 110  # 10 ticks better is 100, not above mid + tol: refused
    maker = BookMaker(_Scripted([0.1, 0.0, 0.9, 0.5, 0.5]), 10, 4.0, 5.0)
    maker.update(book, 100.0)
    assert book.asks()[0].price_ticks == 104


def test_update_keeps_bids_positive_when_the_mid_is_tiny() -> None:
    maker = _maker(3, gap=1, half_spread=2.0)
    book = maker.initial_book(50.0, random.Random(1))
    maker.update(book, 0.001)
    assert_valid(book)


def test_noise_never_cancels_the_last_level_of_a_side() -> None:
    book = Book(asks=tuple(Level(110 + i, 5) for i in range(20)), bids=(Level(90, 5),))
    # draws: side (bids), depth 0, action "cancel", then the depth fix refills the thin side behind it
    maker = BookMaker(_Scripted([0.9, 0.0, 0.7] + [0.5] * 60), 10, 4.0, 5.0)
    maker.update(book, 100.0)
    assert book.bids()[0] == Level(90, 5)
    assert book.depth() == (20, 9)  # refilled every 11 ticks down to the lowest positive price


def test_a_liquid_book_quotes_one_tick_most_of_the_time() -> None:
    maker = BookMaker(random.Random(4), 100, 0.01, 50.0, touch_gap_ticks=1)
    rng = random.Random(5)
    mid = 10_000.3
    book = maker.initial_book(mid, random.Random(6))
    spreads = []
    for _ in range(3000):
        mid += rng.gauss(0.0, 1.5)
        if rng.random() < 0.2:  # a trade, mostly within the touch queue
            book.sweep(rng.random() < 0.5, rng.randint(1, 50))
        ask, _, bid, _ = book.touch()
        gap_before = abs(mid - 0.5 * (ask + bid))
        maker.update(book, mid)
        ask, _, bid, _ = book.touch()
        spreads.append(ask - bid)
        # one repricing closes CATCH_UP of the gap to the fair mid (give or take a cancelled touch level)
        assert abs(mid - 0.5 * (ask + bid)) <= (1.0 - CATCH_UP) * gap_before + 2.0
    assert spreads.count(1) / len(spreads) > 0.9


def test_levels_are_dense_near_the_touch_and_sizes_hump_a_few_levels_out() -> None:
    maker = BookMaker(random.Random(7), 40, 0.01, 100.0, touch_gap_ticks=1)
    means = [0.0] * 20
    for seed in range(300):
        asks = maker.initial_book(50_000.5, random.Random(seed)).asks()
        assert all(b.price_ticks - a.price_ticks <= 3 for a, b in itertools.pairwise(asks[:3]))
        for depth, level in enumerate(asks[:20]):
            means[depth] += level.size_lots / 300
    assert 2 <= max(range(20), key=means.__getitem__) <= 9
    assert means[0] < means[int(HUMP_DEPTH)] / 2
    # the capped Pareto draw's mean times the touch's profile is the touch's mean size
    capped_mean = (LEVEL_SIZE_TAIL - LEVEL_SIZE_CAP ** (1.0 - LEVEL_SIZE_TAIL)) / (LEVEL_SIZE_TAIL - 1.0)
    assert SIZE_PROFILE[0] * capped_mean == pytest.approx(LEVEL_MEAN)
    assert max(SIZE_PROFILE) == SIZE_PROFILE[int(HUMP_DEPTH)]


def test_the_touch_the_fair_mid_leans_towards_thins() -> None:
    maker = BookMaker(random.Random(8), 10, 0.01, 40.0, touch_gap_ticks=1)
    book = Book(asks=(Level(101, 90), Level(102, 90)), bids=(Level(99, 90), Level(98, 90)))
    maker._lean(book._asks, book._bids, 100.75)  # three quarters of the way to the ask
    assert book.asks()[0] == Level(101, 10) and book.bids()[0] == Level(99, 90)
    maker._lean(book._asks, book._bids, 100.1)  # within LEAN_START of the mid: nothing
    assert book.asks()[0] == Level(101, 10)
    maker._lean(book._asks, book._bids, 99.0)  # at the bid: the bid queue is what is left of 5 %
    assert book.bids()[0] == Level(99, 2)


def _imbalance_hit_rate(catalog: Catalog, symbol_id: str, seconds: float) -> float:
    """The share of the symbol's mid moves whose direction the L1 queue imbalance of the quote before foretold."""
    market = Market(subset(catalog, [symbol_id]), seed=5, start_ns=START_NS)
    quotes = [e for e in run(market, seconds) if isinstance(e, Quote)]
    hits = moves = 0
    for before, after in itertools.pairwise(quotes):
        move = (after.ask_price_ticks + after.bid_price_ticks) - (before.ask_price_ticks + before.bid_price_ticks)
        if move and before.bid_size_lots != before.ask_size_lots:
            moves += 1
            hits += (move > 0) == (before.bid_size_lots > before.ask_size_lots)
    return hits / moves


def test_queue_imbalance_foretells_the_next_move_because_makers_catch_up_in_steps(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_native, "speedups", None)  # the reference, whose CATCH_UP a test may change
    btc = "BINANCE_SPOT_BTC_USDT"
    assert 0.6 < _imbalance_hit_rate(catalog, btc, 300) < 0.85
    # a book re-centred on the fair mid at once leaves the imbalance nothing to foretell
    monkeypatch.setattr("coinapi_emulator.simulator.book.CATCH_UP", 1.0)
    assert _imbalance_hit_rate(catalog, btc, 300) < 0.56


def test_touch_gap_defaults_to_the_gap_and_is_clamped() -> None:
    assert BookMaker(random.Random(1), 7, 1.0, 5.0).touch_gap_ticks == 7
    assert BookMaker(random.Random(1), 7, 1.0, 5.0, touch_gap_ticks=0).touch_gap_ticks == 1
    assert BookMaker(random.Random(1), 7, 1.0, 5.0, touch_gap_ticks=9).touch_gap_ticks == 7
    assert BookMaker(random.Random(1), 7, 0.0, 5.0).half_spread_ticks == 0.01


def test_noise_deeper_than_the_profile_acts_on_its_last_level() -> None:
    book = Book(asks=tuple(Level(110 + i, 5) for i in range(60)), bids=tuple(Level(90 - i, 5) for i in range(20)))
    # draws: side (asks), a depth of 60 (past the profile's end), action "a level behind", its offset: at depth
    # MAX_LEVELS (price 160) the offset is floor(0.5 * 0.5 * 20) + 1 = 6 ticks, onto the existing 166
    script = [0.1, 1 - 3e-7, 0.5, 0.5]
    BookMaker(_Scripted(script), 10, 4.0, 5.0).update(book, 100.0)
    assert script == []  # every draw taken, none past the profile (which would have raised IndexError)
    assert [level.price_ticks for level in book.asks()] == list(range(110, 110 + MAX_LEVELS))
