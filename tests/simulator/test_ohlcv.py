from __future__ import annotations

import bisect
import collections
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinapi_emulator.simulator.catalog import Catalog
from coinapi_emulator.simulator.events import Bar, MarketEvent, Trade
from coinapi_emulator.simulator.market import Market
from coinapi_emulator.simulator.ohlcv import (
    INTERIM_EVERY_NS,
    LIVE_PERIODS,
    OHLCV_PERIODS,
    PERIOD_SECONDS,
    OhlcvEngine,
    OhlcvPeriod,
)
from tests.simulator.helpers import SECOND_NS, START_NS, digest, run, subset


def test_period_table() -> None:
    ids = [p.period_id for p in OHLCV_PERIODS]
    assert " ".join(ids) == (
        "1SEC 2SEC 3SEC 4SEC 5SEC 6SEC 10SEC 15SEC 20SEC 30SEC "
        "1MIN 2MIN 3MIN 4MIN 5MIN 6MIN 10MIN 15MIN 20MIN 30MIN "
        "1HRS 2HRS 3HRS 4HRS 6HRS 8HRS 12HRS 1DAY 2DAY 3DAY 5DAY 7DAY 10DAY "
        "1MTH 2MTH 3MTH 4MTH 6MTH 1YRS 2YRS 3YRS 4YRS 5YRS"
    )
    table = {p.period_id: p for p in OHLCV_PERIODS}
    assert table["1SEC"] == OhlcvPeriod("1SEC", 1, 0, 1, "second", "1 Second")
    assert table["30MIN"] == OhlcvPeriod("30MIN", 1800, 0, 30, "minute", "30 Minutes")
    assert table["10DAY"] == OhlcvPeriod("10DAY", 864000, 0, 10, "day", "10 Days")
    assert table["3MTH"] == OhlcvPeriod("3MTH", 0, 3, 3, "month", "3 Months")
    assert table["2YRS"] == OhlcvPeriod("2YRS", 0, 24, 2, "year", "2 Years")
    assert tuple(ids[: ids.index("1DAY") + 1]) == LIVE_PERIODS
    assert len(LIVE_PERIODS) == 28
    assert PERIOD_SECONDS["1HRS"] == 3600 and PERIOD_SECONDS["10DAY"] == 864000 and "1MTH" not in PERIOD_SECONDS


def _engine(periods: tuple[str, ...] = LIVE_PERIODS) -> OhlcvEngine:
    return OhlcvEngine(["A", "B"], periods)


def _bars(events: list[MarketEvent]) -> list[Bar]:
    bars = [e for e in events if isinstance(e, Bar)]
    assert len(bars) == len(events)
    return bars


def test_a_second_of_trades_becomes_a_final_1sec_candle() -> None:
    engine = _engine(("1SEC", "2SEC"))
    base = 100 * SECOND_NS  # aligned to the Unix epoch
    for t, price, size in ((base + 1, 10, 1), (base + 2, 13, 2), (base + 3, 9, 1), (base + 4, 11, 5)):
        engine.add_trade(0, t, price, size)
    out: list[MarketEvent] = []
    engine.on_second(base + SECOND_NS, out)
    assert out == [
        Bar("A", "1SEC", base, base + SECOND_NS, base + 1, base + 4, 10, 13, 9, 11, 9, 4, True, base + SECOND_NS, 1)
    ]
    engine.add_trade(1, base + SECOND_NS + 7, 20, 1)
    out.clear()
    engine.on_second(base + 2 * SECOND_NS, out)
    # a symbol's bars are numbered across all its periods
    assert [(b.symbol_id, b.period_id, b.time_period_start_ns, b.sequence) for b in _bars(out)] == [
        ("B", "1SEC", base + SECOND_NS, 1),
        ("A", "2SEC", base, 2),
        ("B", "2SEC", base, 2),
    ]
    assert out[1] == Bar(
        "A", "2SEC", base, base + 2 * SECOND_NS, base + 1, base + 4, 10, 13, 9, 11, 9, 4, True, base + 2 * SECOND_NS, 2
    )


def test_interim_candles_every_5_seconds_while_updated() -> None:
    engine = _engine(("1MIN",))
    out: list[MarketEvent] = []
    base = 60 * SECOND_NS
    engine.add_trade(0, base + 1, 10, 1)
    for second in range(1, 61):
        if second == 12:
            engine.add_trade(0, base + 11 * SECOND_NS + 5, 12, 2)
        engine.on_second(base + second * SECOND_NS, out)
    bars = _bars(out)
    assert [(b.time_ns - base) // SECOND_NS for b in bars] == [5, 15, 60]
    assert [b.is_final for b in bars] == [False, False, True]
    assert [b.trades_count for b in bars] == [1, 2, 2]
    assert bars[-1].price_high_ticks == 12 and bars[-1].volume_traded_lots == 3


def test_a_period_not_aligned_to_5_seconds_gets_interims_too() -> None:
    engine = _engine(("6SEC",))
    out: list[MarketEvent] = []
    engine.add_trade(0, 61 * SECOND_NS, 10, 1)  # 6SEC candle [60 s, 66 s)
    for second in range(62, 67):
        engine.on_second(second * SECOND_NS, out)
    assert [(b.is_final, b.time_ns // SECOND_NS, b.time_period_start_ns // SECOND_NS) for b in _bars(out)] == [
        (False, 65, 60),
        (True, 66, 60),
    ]


@pytest.fixture(scope="module")
def trading(small_catalog: Catalog) -> tuple[list[MarketEvent], int]:
    """A bit over two busy virtual minutes of a few symbols, starting mid-second."""
    catalog = subset(small_catalog, [s.symbol_id for s in small_catalog.symbols][:8])
    start = START_NS + 300_000_000
    market = Market(catalog, seed=3, start_ns=start, rate_scale=2.0)
    return run(market, 125), start


def test_bars_agree_with_the_trades_they_cover(trading: tuple[list[MarketEvent], int]) -> None:
    events, _ = trading
    trades = [e for e in events if isinstance(e, Trade)]
    bars = [e for e in events if isinstance(e, Bar)]
    assert len(trades) > 500
    finals = [b for b in bars if b.is_final]
    assert {b.period_id for b in finals} >= {"1SEC", "5SEC", "1MIN", "2MIN"}
    by_symbol: dict[str, list[Trade]] = collections.defaultdict(list)
    for t in trades:
        by_symbol[t.symbol_id].append(t)
    times = {symbol_id: [t.time_exchange_ns for t in ts] for symbol_id, ts in by_symbol.items()}
    for bar in bars:
        # the trades of the candle's period up to the moment it was emitted
        lo = bisect.bisect_left(times[bar.symbol_id], bar.time_period_start_ns)
        hi = bisect.bisect_left(times[bar.symbol_id], bar.time_ns)
        covered = by_symbol[bar.symbol_id][lo:hi]
        assert covered, bar
        assert bar.trades_count == len(covered)
        assert bar.volume_traded_lots == sum(t.size_lots for t in covered)
        assert (bar.price_open_ticks, bar.price_close_ticks) == (covered[0].price_ticks, covered[-1].price_ticks)
        assert bar.price_high_ticks == max(t.price_ticks for t in covered)
        assert bar.price_low_ticks == min(t.price_ticks for t in covered)
        assert (bar.time_open_ns, bar.time_close_ns) == (covered[0].time_exchange_ns, covered[-1].time_exchange_ns)


def test_periods_are_aligned_and_final_once(trading: tuple[list[MarketEvent], int]) -> None:
    events, start = trading
    end = start + 125 * SECOND_NS
    finals: collections.Counter[tuple[str, str, int]] = collections.Counter()
    last_time = 0
    for event in events:
        if not isinstance(event, Bar):
            continue
        length = PERIOD_SECONDS[event.period_id] * SECOND_NS
        assert event.time_period_start_ns % length == 0
        assert event.time_period_end_ns - event.time_period_start_ns == length
        assert event.time_ns % SECOND_NS == 0 and event.time_ns >= last_time
        last_time = event.time_ns
        if event.is_final:
            assert event.time_ns == event.time_period_end_ns
            finals[(event.symbol_id, event.period_id, event.time_period_start_ns)] += 1
        else:
            assert event.time_ns % INTERIM_EVERY_NS == 0
            assert event.time_period_start_ns < event.time_ns < event.time_period_end_ns
    assert set(finals.values()) == {1}
    # every candle whose period ended inside the run, and had trades, was closed exactly once
    trades = [e for e in events if isinstance(e, Trade)]
    for period_id in ("1SEC", "6SEC", "1MIN"):
        length = PERIOD_SECONDS[period_id] * SECOND_NS
        expected = {
            (t.symbol_id, period_id, t.time_exchange_ns - t.time_exchange_ns % length)
            for t in trades
            if t.time_exchange_ns - t.time_exchange_ns % length + length <= end
        }
        assert expected == {key for key in finals if key[1] == period_id}


def test_interims_only_after_new_trades(trading: tuple[list[MarketEvent], int]) -> None:
    events, _ = trading
    last: dict[tuple[str, str, int], Bar] = {}
    for event in events:
        if isinstance(event, Bar):
            key = (event.symbol_id, event.period_id, event.time_period_start_ns)
            previous = last.get(key)
            if previous is not None:
                assert previous.trades_count < event.trades_count or event.is_final
            last[key] = event


def test_a_market_of_wanted_bars_yields_only_those_and_numbers_them_the_same(small_catalog: Catalog) -> None:
    catalog = subset(small_catalog, [s.symbol_id for s in small_catalog.symbols][:8])
    everything = run(Market(catalog, seed=4, start_ns=START_NS, rate_scale=2.0), 40)
    bars = [e for e in everything if isinstance(e, Bar)]
    busy = collections.Counter(b.symbol_id for b in bars).most_common(1)[0][0]
    # numbered across all periods: a symbol's bars count 1, 2, 3, ...
    assert [b.sequence for b in bars if b.symbol_id == busy] == list(
        range(1, 1 + sum(b.symbol_id == busy for b in bars))
    )

    market = Market(catalog, seed=4, start_ns=START_NS, rate_scale=2.0, bars="wanted")
    first = run(market, 10)
    market.want_bars(busy, "1SEC", True)
    market.want_bars(busy, "1MIN", True)
    middle = run(market, 20)
    market.want_bars(busy, "1SEC", False)
    last = run(market, 10)

    def wanted(event: MarketEvent, periods: set[str], start_s: int, end_s: int) -> bool:
        if not isinstance(event, Bar):
            return True
        in_window = START_NS + start_s * SECOND_NS < event.time_ns <= START_NS + end_s * SECOND_NS
        return in_window and event.symbol_id == busy and event.period_id in periods

    expected = [e for e in everything if wanted(e, {"1SEC", "1MIN"}, 10, 30) or wanted(e, {"1MIN"}, 30, 40)]
    assert first + middle + last == expected
    assert sum(isinstance(e, Bar) for e in middle) > 10 and not any(isinstance(e, Bar) for e in first)


def test_wanting_bars_needs_a_wanted_bars_market_and_a_live_period(small_catalog: Catalog) -> None:
    symbol_id = small_catalog.symbols[0].symbol_id
    with pytest.raises(ValueError, match="every bar"):
        Market(small_catalog, seed=1, start_ns=START_NS).want_bars(symbol_id, "1SEC", True)
    market = Market(small_catalog, seed=1, start_ns=START_NS, bars="wanted")
    with pytest.raises(ValueError):
        market.want_bars(symbol_id, "1MTH", True)
    with pytest.raises(KeyError):
        market.want_bars("NOPE", "1SEC", True)


# (virtual seconds after the start, symbol rank by trade rate, period, wanted): some turned on mid-candle
_WANT_SCRIPT = (
    (0.0, 0, "1SEC", True),
    (0.0, 0, "1MIN", True),
    (0.0, 1, "5SEC", True),
    (0.0, 2, "6SEC", True),
    (0.0, 60, "10SEC", True),
    (17.4, 1, "1MIN", True),
    (17.4, 2, "30SEC", True),
    (17.4, 3, "4SEC", True),
    (17.4, 0, "2MIN", True),
    (30.0, 100, "1MIN", True),
    (43.0, 0, "1SEC", False),
    (43.0, 3, "1HRS", True),
    (43.0, 4, "10SEC", True),
    (43.0, 9, "3SEC", True),
    (77.7, 1, "5SEC", False),
    (77.7, 0, "1SEC", True),
    (77.7, 4, "1DAY", True),
    (101.2, 9, "3SEC", False),
    (101.2, 5, "15SEC", True),
)


def _golden_bars(catalog: Catalog, bars: Literal["all", "wanted"]) -> list[Bar]:
    """The bars of 130 busy virtual seconds, starting mid-second, following ``_WANT_SCRIPT`` when ``wanted``."""
    start = START_NS + 300_000_000
    market = Market(catalog, seed=11, start_ns=start, rate_scale=3.0, bars=bars)
    by_rate = [s.symbol_id for s in sorted(catalog.symbols, key=lambda s: (-s.trade_rate, s.symbol_id))]
    events: list[MarketEvent] = []
    for at, rank, period_id, wanted in (*_WANT_SCRIPT, (130.0, 0, "", False)):
        events += market.advance(start + int(at * SECOND_NS))
        if bars == "wanted" and period_id:
            market.want_bars(by_rate[rank], period_id, wanted)
    return [e for e in events if isinstance(e, Bar)]


@pytest.mark.parametrize(
    ("bars", "count", "expected"),
    [
        ("all", 56844, "f46bc9dee28ce8b72bc9a315e71ca7d5fae40cf736b1ff9ad224d11443b44099"),
        ("wanted", 392, "9e2d70407eeb6a74b45aa151e92dd9ae40ebb6fc81352253ce00faeadb2afb0e"),
    ],
)
def test_bars_match_the_golden_digest(
    small_catalog: Catalog, bars: Literal["all", "wanted"], count: int, expected: str
) -> None:
    """Every ``Bar`` field, order and sequence is pinned: the engine's bookkeeping may change, its output not."""
    events = _golden_bars(small_catalog, bars)
    assert (len(events), digest(events)) == (count, expected)


_DAY_NS = 86_400 * SECOND_NS
_SYMBOLS = ["A", "B", "C"]
# gaps between trades: same instant, within a second, a few seconds, past a minute, past an hour
_gaps = st.one_of(
    st.just(0),
    st.integers(1, SECOND_NS),
    st.integers(0, 7 * SECOND_NS),
    st.integers(50 * SECOND_NS, 130 * SECOND_NS),
    st.integers(3_000 * SECOND_NS, 3_700 * SECOND_NS),
)
_trades = st.lists(
    st.tuples(_gaps, st.integers(0, len(_SYMBOLS) - 1), st.integers(1, 50), st.integers(1, 9)), max_size=40
)
# (seconds after the start, symbol, period, wanted)
_toggles = st.lists(
    st.tuples(st.integers(0, 8_000), st.integers(0, len(_SYMBOLS) - 1), st.sampled_from(LIVE_PERIODS), st.booleans()),
    max_size=30,
)


def _timeline(start_ns: int, gaps: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """(time, symbol index, price, size) in feed order: by time, then symbol index, as the market feeds them.

    Only the first 8000 virtual seconds, to keep the recomputation quick.
    """
    trades, t = [], start_ns
    for gap, index, price, size in gaps:
        t += gap
        if t > start_ns + 8_000 * SECOND_NS:
            break
        trades.append((t, index, price, size))
    trades.sort(key=lambda trade: (trade[0], trade[1]))
    return trades


def _reference_bars(trades: list[tuple[int, int, int, int]], seconds: range) -> list[Bar]:
    """Every bar at each whole second of ``seconds``, recomputed from all the trades (PROTOCOL.md §3.6)."""
    bars, counts = [], [0] * len(_SYMBOLS)
    for t in seconds:
        before = [trade for trade in trades if trade[0] < t]
        for period_id in LIVE_PERIODS:
            length = PERIOD_SECONDS[period_id] * SECOND_NS
            if t % length == 0:
                start, since, is_final = t - length, t - length, True
            elif t % INTERIM_EVERY_NS == 0:
                start, since, is_final = t - t % length, max(t - INTERIM_EVERY_NS, t - t % length), False
            else:
                continue
            # emitted: the symbols with trades since the candle was last emitted, by their first such trade
            firsts = {}
            for position, (time_ns, index, _, _) in enumerate(before):
                if time_ns >= since:
                    firsts.setdefault(index, position)
            for index in sorted(firsts, key=firsts.__getitem__):
                c = [trade for trade in before if trade[1] == index and trade[0] >= start]
                counts[index] += 1
                prices = [trade[2] for trade in c]
                bars.append(
                    Bar(
                        *(_SYMBOLS[index], period_id, start, start + length, c[0][0], c[-1][0], prices[0]),
                        *(max(prices), min(prices), prices[-1], sum(trade[3] for trade in c), len(c)),
                        *(is_final, t, counts[index]),
                    )
                )
    return bars


def _drive(
    engine: OhlcvEngine, trades: list[tuple[int, int, int, int]], seconds: range, toggles: dict[int, list[Any]]
) -> list[Bar]:
    """Feed ``engine`` as the market does, calling ``want`` after the whole seconds that have toggles."""
    out: list[MarketEvent] = []
    pending = iter(trades)
    trade = next(pending, None)
    for t in seconds:
        while trade is not None and trade[0] < t:
            engine.add_trade(trade[1], trade[0], trade[2], trade[3])
            trade = next(pending, None)
        engine.on_second(t, out)
        for index, period_id, wanted in toggles.get(t, ()):
            engine.want(index, period_id, wanted)
    return _bars(out)


@settings(max_examples=60, deadline=None)
@given(gaps=_trades, toggles=_toggles, before_day_s=st.integers(0, 400), offset_ns=st.integers(0, SECOND_NS - 1))
def test_bars_of_any_trades_match_a_recomputation_and_wanted_ones_match_all(
    gaps: list[tuple[int, int, int, int]], toggles: list[tuple[int, int, str, bool]], before_day_s: int, offset_ns: int
) -> None:
    """Lazy folding and counting give the bars recomputed from scratch; a wanted pair's bars are the same bars."""
    start = START_NS + _DAY_NS - before_day_s * SECOND_NS + offset_ns  # a few minutes before midnight UTC
    trades = _timeline(start, gaps)
    end = max([start, *(trade[0] for trade in trades)]) + 130 * SECOND_NS
    seconds = range(start - start % SECOND_NS + SECOND_NS, end, SECOND_NS)
    everything = _drive(OhlcvEngine(_SYMBOLS), trades, seconds, {})
    assert everything == _reference_bars(trades, seconds)

    schedule: dict[int, list[Any]] = collections.defaultdict(list)
    for at_s, index, period_id, wanted in toggles:
        schedule[seconds[0] + at_s * SECOND_NS].append((index, period_id, wanted))
    by_second = dict(schedule)
    wanted_pairs: set[tuple[str, str]] = set()
    expected = []
    for bar in everything:
        while by_second and min(by_second) < bar.time_ns:
            for index, period_id, wanted in by_second.pop(min(by_second)):
                (wanted_pairs.add if wanted else wanted_pairs.discard)((_SYMBOLS[index], period_id))
        if (bar.symbol_id, bar.period_id) in wanted_pairs:
            expected.append(bar)
    assert _drive(OhlcvEngine(_SYMBOLS, all_bars=False), trades, seconds, schedule) == expected
