"""The crypto market's common regime: how volatile and how busy it is at each moment.

Crypto assets share one variance factor: volatility rises and falls across the whole market together, and so
does trading activity. The log of the variance multiplier is a sum of Ornstein-Uhlenbeck components with
half-lives from minutes to days (a cheap stand-in for the long, power-law memory of real volatility), times a
daily and weekly activity profile. Co-jumps (``PriceFactors`` applies them to every crypto asset at once) kick
the fastest component, so a jump is followed by a burst of volatility and of trading, as after a real shock.

``vol_scale`` (the square root of the variance multiplier, mean-square 1 so realised volatility matches each
asset's configuration) scales the diffusive shocks of crypto assets; ``activity`` (mean 1) scales every
symbol's trade and book-event rates. Both change once per ``REFRESH_NS``: the components are stepped exactly
over that interval. Pure: every draw comes from the generator passed in, and time comes from the caller.
"""

from __future__ import annotations

import math
import random

#: The regime changes once per virtual second: fine enough for components with half-lives of minutes or more.
REFRESH_NS = 1_000_000_000
#: (half-life in seconds, stationary standard deviation of the component's log-variance), fastest first.
#: Sources: Cont 2001 (slow decay of volatility memory), calibrated in docs/REALISM.md.
COMPONENTS: tuple[tuple[float, float], ...] = ((120.0, 1.0), (86_400.0, 0.8), (5 * 86_400.0, 0.5))
#: Activity follows the fast component's volatility: rate ~ exp(ACTIVITY_EXPONENT * fast component).
ACTIVITY_EXPONENT = 0.75
#: Daily cycle: activity peaks at BUSIEST_HOUR_UTC (Europe and the US both awake) and bottoms 12 hours later;
#: busiest over quietest hour = (1 + a) / (1 - a) ~ 1.9 for a = 0.3, ~2-3 measured over a few days once the
#: volatility's own swings add to it (Eross et al. 2019).
DAILY_AMPLITUDE = 0.3
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


class MarketRegime:
    """The common variance factor and activity of the crypto market, refreshed once per ``REFRESH_NS``.

    Starts with every component at zero (a typical, median-volatility market), never at a random extreme.
    """

    __slots__ = ("_decays", "_innovations", "_levels", "_offset", "_rng", "activity", "vol_scale")

    def __init__(self, rng: random.Random, start_ns: int) -> None:
        self._rng = rng
        dt_s = REFRESH_NS / 1e9
        self._decays = [math.exp(-math.log(2.0) * dt_s / half_life) for half_life, _ in COMPONENTS]
        self._innovations = [sd * math.sqrt(1.0 - d * d) for (_, sd), d in zip(COMPONENTS, self._decays, strict=True)]
        self._levels = [0.0] * len(COMPONENTS)
        # E[exp(sum of components)] = exp(sum of sd**2 / 2): subtracting it makes the mean multiplier 1
        self._offset = 0.5 * sum(sd * sd for _, sd in COMPONENTS)
        #: square root of the variance multiplier; scales crypto assets' diffusive shocks
        self.vol_scale = 1.0
        #: multiplier of every symbol's trade and book-event rates
        self.activity = 1.0
        self._settle(start_ns)

    def refresh(self, time_ns: int) -> None:
        """Step every component by one ``REFRESH_NS`` and recompute ``vol_scale`` and ``activity`` for ``time_ns``."""
        gauss, levels = self._rng.gauss, self._levels
        for i, decay in enumerate(self._decays):
            levels[i] = levels[i] * decay + self._innovations[i] * gauss(0.0, 1.0)
        self._settle(time_ns)

    def kick(self, size: float) -> None:
        """A co-jump of ``size`` (its common draw's magnitude) began: raise the fast component by ``JUMP_KICK *
        size`` (takes effect at the next ``refresh``)."""
        self._levels[0] += JUMP_KICK * size

    def _settle(self, time_ns: int) -> None:
        season = seasonality(time_ns)
        levels = self._levels
        fast_sd = COMPONENTS[0][1]
        self.vol_scale = math.sqrt(season * math.exp(sum(levels) - self._offset))
        exponent = ACTIVITY_EXPONENT
        self.activity = season * math.exp(exponent * levels[0] - 0.5 * (exponent * fast_sd) ** 2)
