"""The trades and quotes inside the history's minute candles (``history.py``): the ticks a candle was made of.

A minute's candle fixes its trades' count, first and last time, open, high, low, close and volume. The ticks are
drawn to fit it exactly, so that folding a minute's trades gives its candle back, and every period's candle is
the fold of the trades inside it:

* times: the first and the last trade at the candle's times, the others uniform between them (microseconds);
* prices: the open first and the close last, the high and the low each at a trade drawn between them, and a
  discrete Brownian bridge through those pins, reflected into [low, high]; a share of the trades between the pins
  print at the previous trade's price, as a taker's order fills on at one level;
* sizes: shares of the volume drawn from the live market's Pareto size law, at least one lot each;
* taker side: BUY on an uptick, SELL on a downtick, the previous trade's on an unchanged price (a coin's toss for
  the first);
* quotes: each trade prints on the touch (a BUY at the ask, a SELL at the bid, the symbol's spread apart), and
  between trades the touch sizes change at half the symbol's book-change rate. The live market shows 2.1-2.5
  quotes a trade on its busiest symbols; these rules give 2.25 on the busiest (10 trades and 25 book changes a
  second). Before the minute's first trade, and in a minute without trades, the touch sits around the price path.

Prices move only at trades here: the touch between two trades keeps its prices and changes its sizes.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from itertools import pairwise

from coinapi_emulator.simulator.events import Quote, TakerSide, Trade
from coinapi_emulator.simulator.flow import SIZE_CAP, SIZE_TAIL
from coinapi_emulator.simulator.rng import uuid4_string

#: Share of the trades between the pins that print at the previous trade's price: 13 % of the live market's
#: consecutive BTC/USDT trades on Binance do (600 virtual s, seed 7, the test catalogue).
REPEAT_SHARE = 0.13
#: Quote updates between trades, per book change of the symbol's ``book_rate`` (see the module docstring).
QUOTES_PER_BOOK_CHANGE = 0.5
#: Spread of the touch sizes around their typical value: lognormal with this sigma.
_TOUCH_SIZE_SIGMA = 0.8
#: A random walk of n steps of size s spans about 1.6 * s * sqrt(n): the bridge's steps are scaled so that
#: its range is about the candle's.
_RANGE_PER_ROOT_STEP = 1.6
_MINUTE_US = 60_000_000

_floor, _log, _sqrt = math.floor, math.log, math.sqrt
_SIZE_EXPONENT = -1.0 / SIZE_TAIL
# a minute candle: time_open, time_close, open, high, low, close, volume, trades
Candle = tuple[int, int, int, int, int, int, int, int]


@dataclass(frozen=True, slots=True)
class Touch:
    """What a symbol's quotes look like: the spread and the typical size at the touch, in ticks and lots."""

    spread_ticks: int
    size_lots: float
    #: quote updates between trades, per minute
    updates_per_minute: float


def tradable_extremes(count: int, o: int, high: int, low: int, c: int) -> tuple[int, int, int]:
    """``(open, high, low)`` of a minute of ``count`` trades that opens at ``o`` and closes at ``c``, from the path's
    ``high`` and ``low``: what that many trades can print. One trade prints once (at the close); two print the
    open and the close; three have one trade between them for the larger of the two excursions."""
    top, bottom = max(o, c), min(o, c)
    if count == 1:
        return c, c, c
    if count == 2:
        return o, top, bottom
    if count == 3 and high > top and low < bottom:
        return (o, high, bottom) if high - top >= bottom - low else (o, top, low)
    return o, high, low


def minute_trades(symbol_id: str, candle: Candle, rand: random.Random) -> list[Trade]:
    """The trades of a minute whose candle is ``candle`` (whose open, high and low ``tradable_extremes`` made),
    oldest first."""
    t_open, t_close, o, high, low, c, volume, count = candle
    times = _times(rand, t_open, t_close, count)
    prices = _prices(rand, o, high, low, c, count)
    sizes = _sizes(rand, volume, count)
    sides = _sides(rand, prices)
    bits = rand.getrandbits
    return [
        Trade(symbol_id, t, p, s, side, uuid4_string(bits(128)))
        for t, p, s, side in zip(times, prices, sizes, sides, strict=True)
    ]


def minute_quotes(
    symbol_id: str, minute_ns: int, open_ticks: int, trades: list[Trade], touch: Touch, rand: random.Random
) -> list[Quote]:
    """The quotes of the minute starting at ``minute_ns``, oldest first: one at each of its ``trades`` (the touch
    the trade printed on) and the updates between them. ``open_ticks`` is the path's price as the minute opens."""
    spread, size, sigma = touch.spread_ticks, touch.size_lots, _TOUCH_SIZE_SIGMA
    bid = max(1, open_ticks - spread // 2)
    ask = bid + spread
    quotes: list[Quote] = []
    updates = iter(_update_times(rand, minute_ns, touch.updates_per_minute))
    update = next(updates, None)
    for trade in trades:
        while update is not None and update < trade.time_exchange_ns:
            quotes.append(_quote(rand, symbol_id, update, ask, bid, size, sigma))
            update = next(updates, None)
        price = trade.price_ticks
        ask, bid = (price, max(1, price - spread)) if trade.taker_side is TakerSide.BUY else (price + spread, price)
        quotes.append(_quote(rand, symbol_id, trade.time_exchange_ns, ask, bid, size, sigma))
    while update is not None:
        quotes.append(_quote(rand, symbol_id, update, ask, bid, size, sigma))
        update = next(updates, None)
    return quotes


def _quote(rand: random.Random, symbol_id: str, time_ns: int, ask: int, bid: int, size: float, sigma: float) -> Quote:
    lognormal = rand.lognormvariate
    return Quote(
        symbol_id,
        time_ns,
        ask,
        _floor(size * lognormal(0.0, sigma)) or 1,
        bid,
        _floor(size * lognormal(0.0, sigma)) or 1,
    )


def _update_times(rand: random.Random, minute_ns: int, per_minute: float) -> list[int]:
    """Poisson times in the minute at ``per_minute``, microseconds, ascending."""
    times: list[int] = []
    if per_minute <= 0.0:
        return times
    mean_gap_us = _MINUTE_US / per_minute
    at = -_log(1.0 - rand.random()) * mean_gap_us
    while at < _MINUTE_US:
        times.append(minute_ns + _floor(at) * 1000)
        at += -_log(1.0 - rand.random()) * mean_gap_us
    return times


def _times(rand: random.Random, t_open: int, t_close: int, count: int) -> list[int]:
    """``count`` times from ``t_open`` to ``t_close`` (both included when ``count`` > 1), microseconds, ascending."""
    if count == 1:
        return [t_open]
    span_us = (t_close - t_open) // 1000 + 1
    random_ = rand.random
    inner = sorted(t_open + _floor(random_() * span_us) * 1000 for _ in range(count - 2))
    return [t_open, *inner, t_close]


def _prices(rand: random.Random, o: int, high: int, low: int, c: int, count: int) -> list[int]:
    """``count`` prices from ``o`` to ``c`` whose largest is ``high`` and smallest ``low``."""
    if count == 1:
        return [c]
    pins = {0: o, count - 1: c}
    wanted = [price for price, needed in ((high, high > max(o, c)), (low, low < min(o, c))) if needed]
    for at, price in zip(rand.sample(range(1, count - 1), len(wanted)), wanted, strict=True):
        pins[at] = price
    step = (high - low) / (_RANGE_PER_ROOT_STEP * _sqrt(count))
    prices = [o] * count
    for (i, a), (j, b) in pairwise(sorted(pins.items())):
        prices[i + 1 : j] = _bridge(rand, a, b, j - i, step, low, high)
        prices[j] = b
    random_ = rand.random
    for k in range(1, count - 1):
        if k not in pins and random_() < REPEAT_SHARE:
            prices[k] = prices[k - 1]
    return prices


def _bridge(rand: random.Random, a: int, b: int, steps: int, step: float, low: int, high: int) -> list[int]:
    """The inner points of a random walk from ``a`` to ``b`` in ``steps`` steps of size ``step``, in ticks, folded
    into [low, high] by reflection (clamping would pile prices up at the extremes)."""
    gauss, width = rand.gauss, high - low
    walk = [0.0]
    for _ in range(steps):
        walk.append(walk[-1] + gauss(0.0, step))
    end = walk[-1]
    out: list[int] = []
    for k in range(1, steps):
        x = (a + (b - a - end) * k / steps + walk[k] - low) % (2 * width) if width else 0.0
        out.append(low + round(2 * width - x if x > width else x))
    return out


def _sizes(rand: random.Random, volume: int, count: int) -> list[int]:
    """``count`` sizes >= 1 that add up to ``volume`` (>= ``count``): one lot each, and the rest shared by
    Pareto weights, largest remainders rounding."""
    random_ = rand.random
    weights = [min((1.0 - random_()) ** _SIZE_EXPONENT, SIZE_CAP) for _ in range(count)]
    spare, total = volume - count, sum(weights)
    shares = [w * spare / total for w in weights]
    sizes = [1 + _floor(share) for share in shares]
    short = volume - sum(sizes)
    by_remainder = sorted(range(count), key=lambda i: shares[i] - _floor(shares[i]), reverse=True)
    for i in by_remainder[:short]:
        sizes[i] += 1
    return sizes


def _sides(rand: random.Random, prices: list[int]) -> list[TakerSide]:
    """BUY on an uptick, SELL on a downtick, the previous side on an unchanged price, a coin's toss first."""
    buy, sell = TakerSide.BUY, TakerSide.SELL
    sides = [buy if rand.random() < 0.5 else sell]
    for before, price in pairwise(prices):
        sides.append(buy if price > before else sell if price < before else sides[-1])
    return sides
