"""The C twins in ``simulator._speedups`` against the pure-Python reference classes: the same calls give the
same levels, the same events and the same draws from the generator, in the same order.

The C module is built by the project's own install (``make test`` on a machine with a C compiler, which the
set-up contract provides), so it is required here rather than skipped: a silently failed build would otherwise
leave the market on the slow path with every test still green.
"""

from __future__ import annotations

import array
import importlib
import random
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coinapi_emulator.simulator
from coinapi_emulator.simulator import _native, ohlcv
from coinapi_emulator.simulator import _speedups as fast
from coinapi_emulator.simulator import book as reference
from coinapi_emulator.simulator import market as market_module
from coinapi_emulator.simulator.catalog import Catalog
from coinapi_emulator.simulator.events import BookDelta, Level, Quote
from coinapi_emulator.simulator.market import Market
from tests.simulator.helpers import START_NS, subset

_PRICES = st.integers(1, 400)
_SIZES = st.integers(0, 60)
_OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("update"), st.floats(-40.0, 40.0), st.floats(0.5, 4.0)),
        st.tuples(st.just("sweep"), st.booleans(), st.integers(1, 400)),
        st.tuples(st.just("sweep"), st.booleans(), st.integers(1, 400), st.one_of(st.none(), _PRICES)),
        st.tuples(st.just("set_ask"), _PRICES, _SIZES),
        st.tuples(st.just("set_bid"), _PRICES, _SIZES),
        st.tuples(st.just("emit"), st.integers(0, 10**18)),
        st.tuples(st.just("apply_copy")),
    ),
    min_size=1,
    max_size=120,
)


def _state(book: Any) -> tuple[Any, ...]:
    return book.asks(), book.bids(), book.depth(), book.best_ask(), book.best_bid(), book.top(5)


def _run(
    module: Any, seed: int, gap: int, half_spread: float, size_lots: float, touch_gap: int | None, operations: list[Any]
) -> list[Any]:
    """Apply ``operations`` to a fresh book of ``module``; everything observable, in order."""
    rng = random.Random(seed)
    maker = module.BookMaker(rng, gap, half_spread, size_lots, touch_gap)
    assert maker.touch_gap_ticks == (maker.gap_ticks if touch_gap is None else min(max(1, touch_gap), maker.gap_ticks))
    mid = 300.0
    book = maker.initial_book(mid, random.Random(seed + 1))
    seen: list[Any] = [_state(book)]
    for operation in operations:
        name, *args = operation
        if name == "update":
            mid = max(1.0, mid + args[0])
            seen.append(maker.step(book, mid, args[1], "X", 7))
        elif name == "sweep":
            seen.append(book.sweep(*args))
        elif name == "emit":
            seen.append(book.emit("X", args[0]))
        elif name == "apply_copy":
            book = book.copy()
        else:
            getattr(book, name)(*args)
        seen.append(_state(book))
        if not (book.asks() and book.bids()):  # the maker needs both sides; a test script may empty one
            break
    seen.append(rng.getstate())
    return seen


@settings(max_examples=150, deadline=None)
@given(
    seed=st.integers(0, 2**32),
    gap=st.integers(1, 20),
    half_spread=st.floats(0.01, 30.0),
    size_lots=st.floats(1.0, 1e6),
    touch_gap=st.none() | st.integers(0, 25),
    operations=_OPERATIONS,
)
def test_the_c_book_and_maker_match_the_reference(
    seed: int, gap: int, half_spread: float, size_lots: float, touch_gap: int | None, operations: list[Any]
) -> None:
    expected = _run(reference, seed, gap, half_spread, size_lots, touch_gap, operations)
    assert _run(fast, seed, gap, half_spread, size_lots, touch_gap, operations) == expected


def test_the_c_book_has_the_reference_api_on_hand_built_books() -> None:
    levels = (Level(103, 5), Level(101, 2), Level(102, 7)), (Level(99, 4), Level(100, 1), Level(97, 3))
    books = [module.Book(*levels) for module in (reference, fast)]
    for book in books:
        book.set_ask(150, 0)  # deleting a missing level is still a recorded change
        book.set_bid(100, 3)
    assert (
        books[0].emit("X", 5)
        == books[1].emit("X", 5)
        == [
            BookDelta("X", 5, (Level(150, 0),), (Level(100, 3),)),
            Quote("X", 5, 101, 2, 100, 3),
        ]
    )
    assert fast.Book().best_ask() is None and fast.Book().best_bid() is None
    assert fast.Book(asks=levels[0]).top(-1) == reference.Book(asks=levels[0]).top(-1)
    with pytest.raises(IndexError):
        fast.Book(asks=levels[0]).touch()
    with pytest.raises(TypeError):
        fast.BookMaker(random.Random(1), 3, 2.0, 5.0).update(reference.Book(*levels), 100.0)
    assert (fast.MIN_LEVELS, fast.MAX_LEVELS) == (reference.MIN_LEVELS, reference.MAX_LEVELS)


def test_the_c_trade_folder_uses_the_layout_of_the_ohlcv_state_lists() -> None:
    fixed = (ohlcv._LAST, ohlcv._SETTLED, ohlcv._SEQUENCE, ohlcv._SECOND, ohlcv._BLOCK)
    candle = (ohlcv._START, ohlcv._END, ohlcv._OPEN_T, ohlcv._CLOSE_T, ohlcv._OPEN, ohlcv._HIGH, ohlcv._LOW)
    candle += (ohlcv._CLOSE, ohlcv._VOLUME, ohlcv._COUNT, ohlcv._KEY)
    assert (fixed, candle) == fast.OHLCV_LAYOUT
    assert ohlcv.INTERIM_EVERY_NS == 5 * 1_000_000_000


@pytest.mark.parametrize(
    "state",
    [[0] * 300, array.array("d", [0.0] * 300), array.array("q", [0] * 10)],
    ids=["list", "array of doubles", "short array"],
)
def test_the_c_trade_folder_refuses_state_it_cannot_share(state: Any) -> None:
    engine = ohlcv.OhlcvEngine(["S0"])
    engine._states[0] = state
    with pytest.raises(TypeError, match="array"):
        engine.trade_recorder()


def test_the_c_trade_folder_holds_the_state_arrays_in_place() -> None:
    engine = ohlcv.OhlcvEngine(["S0"])
    folder = engine.trade_recorder()
    folder(0, START_NS, 100, 1)
    with pytest.raises(BufferError):  # resizing would move the memory the folder writes to
        engine._states[0].append(0)
    assert engine._states[0][ohlcv._SECOND + ohlcv._OPEN] == 100
    del folder, engine._folder
    engine._states[0].append(0)


def test_a_draw_that_fails_raises_through_the_c_maker() -> None:
    class Exhausted(random.Random):
        def random(self) -> float:
            raise LookupError("no more draws")

    book = fast.Book(tuple(Level(110 + i, 5) for i in range(20)), tuple(Level(90 - i, 5) for i in range(20)))
    with pytest.raises(LookupError):
        fast.BookMaker(Exhausted(0), 10, 4.0, 5.0).update(book, 100.0)


@pytest.mark.parametrize("seed", [3, 42])
def test_markets_on_either_book_yield_the_same_events(
    small_catalog: Catalog, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = subset(small_catalog, [s.symbol_id for s in small_catalog.symbols][:60])

    def events() -> list[Any]:
        market = Market(catalog, seed=seed, start_ns=START_NS, rate_scale=4.0)
        return list(market.advance(START_NS + 20 * 1_000_000_000))

    with_c = events()
    monkeypatch.setattr(_native, "speedups", None)
    assert events() == with_c
    assert len(with_c) > 1000


@settings(max_examples=60, deadline=None)
@given(
    gaps_ms=st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2500), st.integers(1, 9), st.integers(1, 50))),
    all_bars=st.booleans(),
    wanted=st.sets(st.tuples(st.integers(0, 4), st.sampled_from(("1SEC", "2SEC", "5SEC", "6SEC", "1MIN")))),
)
def test_the_c_trade_folder_matches_add_trade(
    gaps_ms: list[tuple[int, int, int, int]], all_bars: bool, wanted: set[tuple[int, str]]
) -> None:
    symbol_ids = [f"S{i}" for i in range(5)]
    engines = [ohlcv.OhlcvEngine(symbol_ids, all_bars=all_bars) for _ in range(2)]
    if not all_bars:
        for engine in engines:
            for index, period_id in sorted(wanted):
                engine.want(index, period_id, True)
    recorders = [engines[0].add_trade, engines[1].trade_recorder()]
    assert isinstance(recorders[1], fast.TradeFolder)
    outputs: list[list[Any]] = [[], []]
    t = next_second = START_NS
    for index, gap_ms, price, size in gaps_ms:
        t += gap_ms * 1_000_000
        while next_second <= t:
            for engine, out in zip(engines, outputs, strict=True):
                engine.on_second(next_second, out)
            next_second += 1_000_000_000
        for record in recorders:
            record(index, t, price, size)
    assert outputs[0] == outputs[1]
    assert engines[0]._states == engines[1]._states


def test_without_the_c_module_every_twin_falls_back_to_the_reference(
    small_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # what a build without a C compiler leaves: no module to import
    monkeypatch.setitem(sys.modules, "coinapi_emulator.simulator._speedups", None)
    monkeypatch.delattr(coinapi_emulator.simulator, "_speedups")
    try:
        assert importlib.reload(_native).speedups is None
        market = Market(small_catalog, seed=1, start_ns=START_NS)
        assert type(market.symbol_state(small_catalog.symbols[0].symbol_id)) is market_module.SymbolState
        assert list(market.advance(START_NS + 1_000_000_000))
    finally:
        monkeypatch.undo()
        importlib.reload(_native)
    assert _native.speedups is fast


def test_the_c_symbol_state_refuses_a_handover_it_cannot_work_with(
    small_catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_native, "speedups", None)
    market = Market(subset(small_catalog, [small_catalog.symbols[0].symbol_id]), seed=1, start_ns=START_NS)
    reference = market.symbol_state(small_catalog.symbols[0].symbol_id)

    class LooseFactors:  # the same names, as class attributes rather than slots
        activity = vol_scale = 1.0
        step_count = next_step_ns = 0

    handover = reference.handover()
    with pytest.raises(TypeError, match="is not a slot"):
        fast.SymbolState(handover._replace(factors=LooseFactors()))
    with pytest.raises(AttributeError):
        fast.SymbolState(handover._replace(factors=object()))
    with pytest.raises(TypeError, match="book maker"):
        fast.SymbolState(handover)  # the reference BookMaker: the twin needs its own
