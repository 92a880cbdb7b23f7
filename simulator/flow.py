"""Order flow of one symbol: when trades arrive, how big they are, and which side takes.

Arrivals follow an exponential Hawkes process in the market's operational time: a baseline rate plus an
excitation that every trade bumps and that decays exponentially, so trades cluster the way real prints do, and
the whole clock runs faster when the market is busy (``activity``: the daily and weekly profile and the current
volatility, from ``simulator.regime``). The next arrival is drawn exactly (Dassios & Zhao, 2013) rather than by
thinning, for two uniforms and a few logs per trade.

Sizes are Pareto (heavy-tailed) in lots, and a share of them is rounded to one significant digit, as people
type round amounts (trade-size clustering). The taker side comes mostly from the metaorder under way: large
orders are split into runs of child trades whose lengths are Pareto with tail index ``RUN_TAIL``, which gives
trade signs their long, power-law memory (Lillo, Mike, Farmer 2005); the other trades lean towards where the
fair price has moved relative to the book.

When the fair price runs past a touch, a taker may win the race to the stale quotes (``racer_lots``): that flow
is informed, so signed volume moves with the price as it does on real venues.
"""

from __future__ import annotations

import math
import random
from typing import NamedTuple

#: Share of trades triggered by earlier trades (Hawkes branching ratio, < 1 for a stationary process).
BRANCHING_RATIO = 0.6
#: Pareto tail index of trade sizes: finite mean, infinite variance, as in real trade-size data (Gopikrishnan et
#: al. 2000 find ~1.5 for stocks). Calibrated in docs/REALISM.md with the resting sizes' tail (``book``): at 1.4
#: the largest print of three days on Binance's BTC stayed under $1M (0.76-0.99M) for seed 3 or 7 in six of seven
#: trial configurations. Heavier still, the biggest orders, which the fair price does not follow, would drown the
#: signed volume's link to returns.
SIZE_TAIL = 1.3
#: Largest trade, in units of the size scale: 20,000 x the typical $150 is $3M, so the big venues print the odd
#: $1M+ trade against a deep level (exchange trade tapes) while a whole side of a liquid book (~$10M within 10 bp)
#: is never eaten by one.
SIZE_CAP = 20_000.0
#: Share of trade sizes rounded to one significant digit. The racers' fills (below) take whatever a level holds,
#: so the share on the whole tape is lower.
ROUND_SHARE = 0.5
#: Share of trades that belong to the metaorder under way (the rest react to the price). The racers' signs follow
#: the price, which has no memory, so they dilute the tape's sign memory; calibrated with them in docs/REALISM.md.
METAORDER_SHARE = 0.8
#: Pareto tail index of metaorder lengths, in child trades: sign autocorrelation decays like lag ** (1 - tail).
RUN_TAIL = 1.3
#: Longest metaorder, in child trades.
RUN_CAP = 20_000

#: Latency arbitrage. When the fair price has run past a touch, takers race the makers to the stale quotes
#: (Budish, Cramton, Shim 2015; Aquilina, Budish, O'Neill 2022). The run is measured in ``z``: grid steps' worth of
#: the price's current volatility. A racer wins with probability ``z * activity / RACE_Z`` (at most 1): the larger
#: the mispricing and the busier the market, the likelier a taker is first.
RACE_Z = 1.5
#: A winning racer's order: ``RACE_SIZE`` typical trades, limited at the fair price. The racers' expected flow is
#: then proportional to the run in units of volatility and to the market's activity, as Kyle's (1985) informed
#: trader's is: it keeps the same share of the variance of signed volume in calm and in wild markets. Calibrated
#: in docs/REALISM.md so that signed volume explains a share of returns within the published range.
RACE_SIZE = 100.0

# per-trade hot path: module aliases instead of attribute lookups, and math.floor, equal to int() for the
# non-negative floats here but several times cheaper in CPython 3.11
_log, _exp, _floor = math.log, math.exp, math.floor
_INF = math.inf
_SIZE_EXPONENT = -1.0 / SIZE_TAIL
_RUN_EXPONENT = -1.0 / RUN_TAIL


class FlowHandover(NamedTuple):
    """A ``TradeFlow``'s parameters and state, as its C twin (simulator/csrc/flow.c) takes them over."""

    beta: float
    jump: float
    base_rate_per_s: float
    excitation: float
    size_lots: float
    step_sigma: float
    last_buy: bool
    run_buy: bool
    run_left: int


class TradeFlow:
    """Trade arrivals, sizes and taker side for one symbol, drawing from the symbol's generator."""

    __slots__ = (
        "_beta",
        "_excitation",
        "_jump",
        "_last_buy",
        "_rng",
        "_run_buy",
        "_run_left",
        "_size_lots",
        "_step_sigma",
        "base_rate_per_s",
    )

    def __init__(self, rng: random.Random, trade_rate_per_s: float, size_lots: float, step_sigma: float) -> None:
        """``size_lots`` is the typical trade's size; ``step_sigma`` the standard deviation of the symbol's log
        price over one factor grid step at the market's typical volatility (the unit of a racer's run)."""
        self._rng = rng
        #: excitation decays with a time constant of 0.5-2 virtual seconds
        self._beta = 1.0 / rng.uniform(0.5, 2.0)
        self._jump = BRANCHING_RATIO * self._beta
        #: baseline (immigrant) rate; the long-run mean rate is ``base / (1 - BRANCHING_RATIO)``
        self.base_rate_per_s = trade_rate_per_s * (1.0 - BRANCHING_RATIO)
        self._excitation = 0.0
        self._size_lots = max(size_lots, 1.0)
        self._step_sigma = step_sigma
        self._last_buy = rng.random() < 0.5
        #: the metaorder under way: its side and the child trades it has left
        self._run_buy = self._last_buy
        self._run_left = 0

    def handover(self) -> FlowHandover:
        """Everything a C twin needs to carry on from here."""
        return FlowHandover(
            self._beta,
            self._jump,
            self.base_rate_per_s,
            self._excitation,
            self._size_lots,
            self._step_sigma,
            self._last_buy,
            self._run_buy,
            self._run_left,
        )

    def next_gap_ns(self, activity: float = 1.0) -> int:
        """Time from the previous arrival to the next one, >= 1 us; also bumps the excitation for that arrival.

        ``activity`` (> 0) is how fast the market's clock runs now: the gap drawn in operational time is divided
        by it. Call once per arrival, in order, whether or not the arrival turns into a trade.
        """
        random, beta = self._rng.random, self._beta
        rate = self.base_rate_per_s
        # the baseline arrival is rng.expovariate(rate), spelled out to save a Python-level call (same draw)
        gap_s = -_log(1.0 - random()) / rate if rate > 0.0 else _INF
        excitation = self._excitation
        if excitation > 1e-12:
            d = 1.0 + beta * _log(1.0 - random()) / excitation
            if d > 0.0:
                excited_gap_s = -_log(d) / beta
                if excited_gap_s < gap_s:
                    gap_s = excited_gap_s
        if gap_s == _INF:
            return 1 << 62  # never: a symbol with no baseline and no excitation stays quiet
        self._excitation = excitation * _exp(-beta * gap_s) + self._jump
        # exchange timestamps have microsecond resolution
        return (_floor(gap_s / activity * 1e6) + 1) * 1000

    def size_lots(self) -> int:
        """A trade size in lots, >= 1: Pareto above the symbol's size scale, a share rounded to one digit."""
        random = self._rng.random
        scale = (1.0 - random()) ** _SIZE_EXPONENT
        if scale > SIZE_CAP:
            scale = SIZE_CAP
        lots = _floor(self._size_lots * scale) or 1
        if random() < ROUND_SHARE and lots >= 10:
            unit = 10 ** (len(str(lots)) - 1)
            lots = _floor(lots / unit + 0.5) * unit
        return lots

    def racer_lots(self, run: float, vol_scale: float, activity: float) -> int:
        """The order of a taker racing to quotes that the fair price has run past by ``run`` (relative to the
        price), at the market's current ``vol_scale`` and ``activity``: its size in lots, or 0 when the makers pull
        the quotes first. One draw."""
        if self._rng.random() * RACE_Z * self._step_sigma * vol_scale >= run * activity:
            return 0
        return _floor(self._size_lots * RACE_SIZE)

    def taker_is_buy(self, pressure: float) -> bool:
        """Draw the taker side. ``pressure`` is (fair mid - book mid) / spread: positive favours buyers."""
        random = self._rng.random
        if random() < METAORDER_SHARE:
            if self._run_left <= 0:
                length = (1.0 - random()) ** _RUN_EXPONENT
                self._run_left = _floor(length) if length < RUN_CAP else RUN_CAP
                self._run_buy = random() < 0.5
            self._run_left -= 1
            is_buy = self._run_buy
        else:
            lean = 0.4 * pressure / (1.0 + abs(pressure)) + (0.08 if self._last_buy else -0.08)
            is_buy = random() < 0.5 + lean
        self._last_buy = is_buy
        return is_buy
