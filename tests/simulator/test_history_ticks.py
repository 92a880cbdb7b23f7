"""The ticks inside a history candle (``simulator/history_ticks.py``): whatever the candle, its trades fold back
into it, and its quotes are the touch each trade printed on."""

from __future__ import annotations

import random
import uuid
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinapi_emulator.simulator.events import Quote, TakerSide, Trade
from coinapi_emulator.simulator.history_ticks import (
    REPEAT_SHARE,
    Candle,
    Touch,
    minute_quotes,
    minute_trades,
    tradable_extremes,
)

MINUTE_NS = 60_000_000_000
MINUTE = 1_704_067_140 * 1_000_000_000  # 2023-12-31T23:59:00Z
SYMBOL = "X_SPOT_BTC_USDT"


@st.composite
def candles(draw: st.DrawFn) -> Candle:
    """A minute candle as the history draws one: a path's open and close, its extremes around them, first and last
    trade times in the minute, a volume of at least a lot a trade; then what ``tradable_extremes`` makes of it."""
    count = draw(st.integers(1, 60))
    o, c = draw(st.integers(1, 10**9)), draw(st.integers(1, 10**9))
    high = max(o, c) + draw(st.integers(0, 10**6))
    low = max(1, min(o, c) - draw(st.integers(0, 10**6)))
    first, last = sorted(draw(st.integers(0, 59_999_999)) for _ in range(2))
    if count == 1:
        last = first
    volume = count + draw(st.integers(0, 10**9))
    o, high, low = tradable_extremes(count, o, high, low, c)
    return MINUTE + first * 1000, MINUTE + last * 1000, o, high, low, c, volume, count


def fold(trades: list[Trade]) -> Candle:
    prices = [t.price_ticks for t in trades]
    return (
        trades[0].time_exchange_ns,
        trades[-1].time_exchange_ns,
        prices[0],
        max(prices),
        min(prices),
        prices[-1],
        sum(t.size_lots for t in trades),
        len(trades),
    )


@settings(max_examples=300, deadline=None)
@given(candle=candles(), seed=st.integers(0, 2**32))
def test_a_minutes_trades_fold_back_into_its_candle(candle: Candle, seed: int) -> None:
    trades = minute_trades(SYMBOL, candle, random.Random(seed))
    assert fold(trades) == candle
    times = [t.time_exchange_ns for t in trades]
    assert times == sorted(times) and all(t % 1000 == 0 for t in times)
    assert all(t.size_lots >= 1 and t.symbol_id == SYMBOL for t in trades)
    assert all(uuid.UUID(t.uuid).version == 4 for t in trades)


@settings(max_examples=200, deadline=None)
@given(candle=candles(), seed=st.integers(0, 2**32))
def test_the_taker_side_follows_the_tick(candle: Candle, seed: int) -> None:
    trades = minute_trades(SYMBOL, candle, random.Random(seed))
    for before, trade in pairwise(trades):
        if trade.price_ticks > before.price_ticks:
            assert trade.taker_side is TakerSide.BUY
        elif trade.price_ticks < before.price_ticks:
            assert trade.taker_side is TakerSide.SELL
        else:  # the same taker filling on at the level
            assert trade.taker_side is before.taker_side
    assert {t.taker_side for t in trades} <= {TakerSide.BUY, TakerSide.SELL}


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        (1, (105, 105, 105)),  # one trade prints once, at the close
        (2, (100, 105, 100)),  # two print the open and the close
        (3, (100, 120, 100)),  # one trade between: the larger excursion (up by 15 against down by 10)
        (4, (100, 120, 90)),
    ],
)
def test_what_a_few_trades_can_print(count: int, expected: tuple[int, int, int]) -> None:
    assert tradable_extremes(count, 100, 120, 90, 105) == expected
    assert tradable_extremes(3, 100, 110, 80, 105) == (100, 105, 80)


def test_the_prices_of_a_busy_minute_wander_between_its_extremes() -> None:
    candle: Candle = (MINUTE, MINUTE + 59_000_000_000, 10_000, 10_400, 9_700, 10_100, 5_000, 600)
    prices = [t.price_ticks for t in minute_trades(SYMBOL, candle, random.Random(1))]
    assert len(set(prices)) > 200, "a bridge, not a jump from pin to pin"
    moves = [abs(b - a) for a, b in pairwise(prices)]
    assert max(moves) < 150
    assert moves.count(0) / len(moves) == pytest.approx(REPEAT_SHARE, abs=0.04)
    assert prices.count(10_400) < 5 and prices.count(9_700) < 5, "reflected at the extremes, not piled up there"


TOUCH = Touch(spread_ticks=3, size_lots=100.0, updates_per_minute=90.0)


@settings(max_examples=200, deadline=None)
@given(candle=candles(), seed=st.integers(0, 2**32))
def test_each_trade_prints_on_its_quote(candle: Candle, seed: int) -> None:
    rand = random.Random(seed)
    trades = minute_trades(SYMBOL, candle, rand)
    quotes = minute_quotes(SYMBOL, MINUTE, candle[2], trades, TOUCH, rand)
    times = [q.time_exchange_ns for q in quotes]
    assert times == sorted(times) and times[0] >= MINUTE and times[-1] < MINUTE + MINUTE_NS
    assert all(q.ask_size_lots >= 1 and q.bid_size_lots >= 1 and q.bid_price_ticks >= 1 for q in quotes)
    at_trades = _quotes_at_trades(quotes, trades)
    for trade, quote in zip(trades, at_trades, strict=True):
        touch = quote.ask_price_ticks if trade.taker_side is TakerSide.BUY else quote.bid_price_ticks
        assert touch == trade.price_ticks
        assert quote.ask_price_ticks - quote.bid_price_ticks in (TOUCH.spread_ticks, trade.price_ticks - 1)


def _quotes_at_trades(quotes: list[Quote], trades: list[Trade]) -> list[Quote]:
    """Each trade's quote: the first at its time after the previous trade's (updates at a trade's time follow it)."""
    out, at = [], 0
    for trade in trades:
        while quotes[at].time_exchange_ns < trade.time_exchange_ns:
            at += 1
        out.append(quotes[at])
        at += 1
    return out


def test_between_trades_the_touch_keeps_its_prices_and_updates_come_at_the_given_rate() -> None:
    rand = random.Random(5)
    counts = []
    for _ in range(200):
        quotes = minute_quotes(SYMBOL, MINUTE, 50_000, [], TOUCH, rand)
        assert {(q.ask_price_ticks, q.bid_price_ticks) for q in quotes} <= {(50_002, 49_999)}
        counts.append(len(quotes))
    assert sum(counts) / len(counts) == pytest.approx(TOUCH.updates_per_minute, rel=0.05)
    assert minute_quotes(SYMBOL, MINUTE, 50_000, [], Touch(1, 1.0, 0.0), rand) == []
