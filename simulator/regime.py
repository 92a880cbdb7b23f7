"""The crypto market's common regime: how volatile and how busy it is at each moment.

Crypto assets share one variance factor: volatility rises and falls across the whole market together, and so
does trading activity. The variance multiplier has two parts. The everyday part is the exponential of a sum of
Ornstein-Uhlenbeck components with half-lives from minutes to days (a cheap stand-in for the long, power-law
memory of real volatility). Stress episodes add bursts on top: each arrives at random, raises the variance at
once and decays over hours (an OU process driven by jumps, Barndorff-Nielsen and Shephard 2001), as a crash or a
squeeze does; they are what gives daily returns their fat tails without any single one-minute move of a hundred
sigmas. Both are scaled by a daily and weekly activity profile. Co-jumps (``PriceFactors`` applies them to every
crypto asset at once) kick the fastest component, so a jump is followed by a burst of volatility and of trading.

``vol_scale`` (the square root of the variance multiplier, mean-square 1 so realised volatility matches each
asset's configuration) scales the diffusive shocks of crypto assets; ``activity`` (mean 1) scales every symbol's
trade and book-event rates: it follows the fast component and, in a burst, the burst's volatility, since trading
surges in a crash. Both change once per refresh interval (``REFRESH_NS`` in the market): the components
are stepped exactly over it. Pure: every draw comes from the generator passed in, and time comes from the caller.
"""

from __future__ import annotations

import math
import random

from coinapi_emulator.simulator.rng import geometric_wait

#: The regime changes once per virtual second: fine enough for components with half-lives of minutes or more.
REFRESH_NS = 1_000_000_000
#: (half-life in seconds, stationary standard deviation of the component's log-variance), fastest first.
#: Sources: Cont 2001 (slow decay of volatility memory), calibrated in docs/REALISM.md.
COMPONENTS: tuple[tuple[float, float], ...] = ((120.0, 1.0), (86_400.0, 0.8), (5 * 86_400.0, 0.5))
#: Activity follows the fast component's volatility: rate ~ exp(ACTIVITY_EXPONENT * fast component), in proportion
#: to the volatility at 0.5. Calibrated in docs/REALISM.md on the correlation of the 1-minute trade count with the
#: size of the minute's move: 0.75 and 1 gave 0.45-0.49 in one seed or the other, below the real +0.5 to +0.7.
ACTIVITY_EXPONENT = 0.5
#: Stress episodes: about one every four virtual days, each decaying with a half-life of three hours, together
#: carrying this share of the variance (the everyday part carries the rest). Their sizes are exponential.
#: Calibrated in docs/REALISM.md on the excess kurtosis of daily returns (5-10 for BTC, Cont 2001).
BURSTS_PER_DAY = 0.25
BURST_HALF_LIFE_S = 3 * 3600.0
BURST_VARIANCE_SHARE = 0.65
#: In a burst, activity ~ (variance over its everyday mean) ** BURST_ACTIVITY_EXPONENT: trading surges with the
#: burst's volatility (Clark 1973; Ané, Geman 2000), so the informed flow keeps pace with the moves. Without it,
#: signed volume explained a fifth of the returns and the 1-minute count hardly tracked the move (0.04-0.17).
#: Calibrated in docs/REALISM.md (0.5 left that correlation at 0.45-0.50).
BURST_ACTIVITY_EXPONENT = 0.75
#: Daily cycle: activity peaks at BUSIEST_HOUR_UTC (Europe and the US both awake) and bottoms 12 hours later;
#: busiest over quietest hour = (1 + a) / (1 - a) ~ 2.3 for a = 0.4 on average over months, as real volume's
#: 2-3x (Eross et al. 2019); a few days add the volatility's own swings to it.
DAILY_AMPLITUDE = 0.4
BUSIEST_HOUR_UTC = 15.0
#: Saturday and Sunday (UTC) run at this share of a weekday's activity (Kaiko: weekends 30-40 % quieter).
WEEKEND_SHARE = 0.65
#: A co-jump's kick to the fast log-variance component per unit of the jump's common draw: a 2-sigma jump
#: raises volatility e ** (2 * 1.5 / 2) ~ 4.5-fold and activity with it.
JUMP_KICK = 1.5

_NS_PER_HOUR = 3_600_000_000_000
_NS_PER_DAY = 24 * _NS_PER_HOUR
#: 1970-01-01 was a Thursday: day 2 and 3 of a week counted from Thursday are Saturday and Sunday.
_WEEKEND_DAYS = (2, 3)
_WEEKDAY_LEVEL = 7.0 / (5.0 + 2.0 * WEEKEND_SHARE)
_WEEKEND_LEVEL = _WEEKDAY_LEVEL * WEEKEND_SHARE
_HOUR_RADIANS = 2.0 * math.pi / 24.0


def seasonality(time_ns: int) -> float:
    """The activity profile at ``time_ns`` (UTC): daily cycle times weekday or weekend level; mean 1 over a week."""
    hour = (time_ns % _NS_PER_DAY) / _NS_PER_HOUR
    daily = 1.0 + DAILY_AMPLITUDE * math.cos(_HOUR_RADIANS * (hour - BUSIEST_HOUR_UTC))
    weekend = (time_ns // _NS_PER_DAY) % 7 in _WEEKEND_DAYS
    return daily * (_WEEKEND_LEVEL if weekend else _WEEKDAY_LEVEL)


def _decay(half_life_s: float, interval_s: float) -> float:
    return math.exp(-math.log(2.0) * interval_s / half_life_s)


def _mean_stress_activity() -> float:
    """E[(1 + burst / (1 - share)) ** BURST_ACTIVITY_EXPONENT]: divides activity so that its mean stays 1.

    Bursts arriving at random with exponential sizes and decaying exponentially leave a Gamma-distributed level
    (shape = arrival rate x mean life, mean = ``BURST_VARIANCE_SHARE``: the Gamma-OU process of Barndorff-Nielsen
    and Shephard). The expectation is integrated numerically over log-spaced points: the shape is far below 1,
    so the density piles up at zero.
    """
    shape = BURSTS_PER_DAY / 86_400.0 * BURST_HALF_LIFE_S / math.log(2.0)
    scale = BURST_VARIANCE_SHARE / shape / (1.0 - BURST_VARIANCE_SHARE)
    # E[g] = 1 + integral of (g(t) - 1) * t ** shape * exp(-t) / Gamma(shape) d(log t), with B / (1 - share) = t * scale
    step = 0.01
    total = 0.0
    for k in range(int(50.0 / step)):
        t = math.exp(-40.0 + k * step)
        excess = (1.0 + scale * t) ** BURST_ACTIVITY_EXPONENT - 1.0
        total += excess * t**shape * math.exp(-t) * step
    return 1.0 + total / math.gamma(shape)


_STRESS_ACTIVITY_MEAN = _mean_stress_activity()
_EVERYDAY_SHARE = 1.0 - BURST_VARIANCE_SHARE


class MarketRegime:
    """The common variance factor and activity of the crypto market, refreshed once per ``interval_ns``.

    Starts with every component at zero and no burst under way (a typical, median-volatility market), never at a
    random extreme.
    """

    __slots__ = (
        "_burst",
        "_burst_decay",
        "_burst_mean",
        "_burst_probability",
        "_decays",
        "_innovations",
        "_levels",
        "_offset",
        "_refreshes_to_burst",
        "_rng",
        "activity",
        "vol_scale",
    )

    def __init__(self, rng: random.Random, start_ns: int, interval_ns: int = REFRESH_NS) -> None:
        self._rng = rng
        interval_s = interval_ns / 1e9
        self._decays = [_decay(half_life, interval_s) for half_life, _ in COMPONENTS]
        self._innovations = [sd * math.sqrt(1.0 - d * d) for (_, sd), d in zip(COMPONENTS, self._decays, strict=True)]
        self._levels = [0.0] * len(COMPONENTS)
        # E[exp(sum of components)] = exp(sum of sd**2 / 2): subtracting it makes the mean multiplier 1
        self._offset = 0.5 * sum(sd * sd for _, sd in COMPONENTS)
        self._burst = 0.0
        self._burst_decay = _decay(BURST_HALF_LIFE_S, interval_s)
        self._burst_probability = BURSTS_PER_DAY * interval_s / 86_400.0
        # a burst's mean size such that the bursts' stationary mean, p * size / (1 - decay), is their share
        self._burst_mean = BURST_VARIANCE_SHARE * (1.0 - self._burst_decay) / self._burst_probability
        self._refreshes_to_burst = self._draw_burst_wait()
        #: square root of the variance multiplier; scales crypto assets' diffusive shocks
        self.vol_scale = 1.0
        #: multiplier of every symbol's trade and book-event rates
        self.activity = 1.0
        self._settle(start_ns)

    def refresh(self, time_ns: int) -> None:
        """Step every component by one interval and recompute ``vol_scale`` and ``activity`` for ``time_ns``."""
        gauss, levels = self._rng.gauss, self._levels
        for i, decay in enumerate(self._decays):
            levels[i] = levels[i] * decay + self._innovations[i] * gauss(0.0, 1.0)
        self._burst *= self._burst_decay
        self._refreshes_to_burst -= 1
        if not self._refreshes_to_burst:
            self._burst += self._rng.expovariate(1.0 / self._burst_mean)
            self._refreshes_to_burst = self._draw_burst_wait()
        self._settle(time_ns)

    def kick(self, size: float) -> None:
        """A co-jump of ``size`` (its common draw's magnitude) began: raise the fast component by ``JUMP_KICK *
        size`` (takes effect at the next ``refresh``)."""
        self._levels[0] += JUMP_KICK * size

    def _draw_burst_wait(self) -> int:
        """Refreshes to the next burst."""
        return geometric_wait(self._rng, self._burst_probability)

    def _settle(self, time_ns: int) -> None:
        season = seasonality(time_ns)
        levels = self._levels
        everyday = _EVERYDAY_SHARE * math.exp(sum(levels) - self._offset)
        self.vol_scale = math.sqrt(season * (everyday + self._burst))
        exponent, fast_sd = ACTIVITY_EXPONENT, COMPONENTS[0][1]
        stress = (1.0 + self._burst / _EVERYDAY_SHARE) ** BURST_ACTIVITY_EXPONENT / _STRESS_ACTIVITY_MEAN
        self.activity = season * math.exp(exponent * levels[0] - 0.5 * (exponent * fast_sd) ** 2) * stress
