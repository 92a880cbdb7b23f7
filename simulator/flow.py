"""Order flow of one symbol: when trades arrive, how big they are, and which side takes.

Arrivals follow an exponential Hawkes process: a baseline rate plus an excitation that every trade bumps and
that decays exponentially, so trades cluster the way real prints do. The next arrival is drawn exactly
(Dassios & Zhao, 2013) rather than by thinning, for two uniforms and a few logs per trade. Sizes are Pareto
(heavy-tailed) in lots. The taker side leans towards where the fair price has moved relative to the book,
with a little persistence (trade signs are autocorrelated in real markets).
"""

from __future__ import annotations

import math
import random

#: Share of trades triggered by earlier trades (Hawkes branching ratio, < 1 for a stationary process).
BRANCHING_RATIO = 0.6
#: Pareto tail index of trade sizes: finite mean, infinite variance, as in real trade-size data.
SIZE_TAIL = 1.4
#: Largest trade, in units of the size scale (keeps one print from eating a whole book in the common case).
SIZE_CAP = 400.0

# per-trade hot path: module aliases instead of attribute lookups, and math.floor, equal to int() for the
# non-negative floats here but several times cheaper in CPython 3.11
_log, _exp, _floor = math.log, math.exp, math.floor
_INF = math.inf
_SIZE_EXPONENT = -1.0 / SIZE_TAIL


class TradeFlow:
    """Trade arrivals, sizes and taker side for one symbol, drawing from the symbol's generator."""

    __slots__ = ("_beta", "_excitation", "_jump", "_last_buy", "_rng", "_size_lots", "base_rate_per_s")

    def __init__(self, rng: random.Random, trade_rate_per_s: float, size_lots: float) -> None:
        self._rng = rng
        #: excitation decays with a time constant of 0.5-2 virtual seconds
        self._beta = 1.0 / rng.uniform(0.5, 2.0)
        self._jump = BRANCHING_RATIO * self._beta
        #: baseline (immigrant) rate; the long-run mean rate is ``base / (1 - BRANCHING_RATIO)``
        self.base_rate_per_s = trade_rate_per_s * (1.0 - BRANCHING_RATIO)
        self._excitation = 0.0
        self._size_lots = max(size_lots, 1.0)
        self._last_buy = rng.random() < 0.5

    def next_gap_ns(self) -> int:
        """Time from the previous arrival to the next one, >= 1 us; also bumps the excitation for that arrival.

        Call once per arrival, in order, whether or not the arrival turns into a trade.
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
        return (_floor(gap_s * 1e6) + 1) * 1000

    def size_lots(self) -> int:
        """A trade size in lots, >= 1, Pareto-distributed above the symbol's size scale."""
        scale = (1.0 - self._rng.random()) ** _SIZE_EXPONENT
        if scale > SIZE_CAP:
            scale = SIZE_CAP
        return _floor(self._size_lots * scale) or 1

    def taker_is_buy(self, pressure: float) -> bool:
        """Draw the taker side. ``pressure`` is (fair mid - book mid) / spread: positive favours buyers."""
        lean = 0.4 * pressure / (1.0 + abs(pressure)) + (0.08 if self._last_buy else -0.08)
        is_buy = self._rng.random() < 0.5 + lean
        self._last_buy = is_buy
        return is_buy
