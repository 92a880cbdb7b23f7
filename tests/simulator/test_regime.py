from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.simulator.regime import (
    BUSIEST_HOUR_UTC,
    COMPONENTS,
    DAILY_AMPLITUDE,
    REFRESH_NS,
    WEEKEND_SHARE,
    MarketRegime,
    seasonality,
)

_HOUR_NS = 3600 * 10**9
#: 2024-01-01T00:00:00Z, a Monday
_MONDAY_NS = 1_704_067_200 * 10**9


def test_the_weekly_profile_averages_one() -> None:
    samples = [seasonality(_MONDAY_NS + minute * 60 * 10**9) for minute in range(7 * 24 * 60)]
    assert statistics.fmean(samples) == pytest.approx(1.0, abs=1e-9)


def test_the_daily_cycle_peaks_at_the_busiest_hour_and_weekends_are_quieter() -> None:
    monday = [seasonality(_MONDAY_NS + hour * _HOUR_NS) for hour in range(24)]
    assert max(range(24), key=monday.__getitem__) == int(BUSIEST_HOUR_UTC)
    assert max(monday) / min(monday) == pytest.approx((1 + DAILY_AMPLITUDE) / (1 - DAILY_AMPLITUDE))
    saturday = [seasonality(_MONDAY_NS + (5 * 24 + hour) * _HOUR_NS) for hour in range(24)]
    sunday = [seasonality(_MONDAY_NS + (6 * 24 + hour) * _HOUR_NS) for hour in range(24)]
    assert saturday == sunday
    assert statistics.fmean(saturday) / statistics.fmean(monday) == pytest.approx(WEEKEND_SHARE)


@given(st.integers(0, 2**62))
def test_the_profile_is_positive_and_bounded(time_ns: int) -> None:
    assert 0.0 < seasonality(time_ns) < 2.0


def test_the_regime_starts_at_the_median_and_is_deterministic() -> None:
    regime = MarketRegime(random.Random(1), _MONDAY_NS)
    offset = 0.5 * sum(sd * sd for _, sd in COMPONENTS)
    assert regime.vol_scale == pytest.approx(math.sqrt(seasonality(_MONDAY_NS) * math.exp(-offset)))
    twin = MarketRegime(random.Random(1), _MONDAY_NS)
    for k in range(1, 100):
        regime.refresh(_MONDAY_NS + k * REFRESH_NS)
        twin.refresh(_MONDAY_NS + k * REFRESH_NS)
    assert (regime.vol_scale, regime.activity) == (twin.vol_scale, twin.activity)


def test_a_kick_raises_volatility_and_activity_at_the_next_refresh() -> None:
    calm = MarketRegime(random.Random(2), _MONDAY_NS)
    kicked = MarketRegime(random.Random(2), _MONDAY_NS)
    kicked.kick(2.0)  # a 2-sigma co-jump
    assert kicked.vol_scale == calm.vol_scale
    calm.refresh(_MONDAY_NS + REFRESH_NS)
    kicked.refresh(_MONDAY_NS + REFRESH_NS)
    assert kicked.vol_scale > 2.0 * calm.vol_scale
    assert kicked.activity > 2.0 * calm.activity


def test_the_fast_component_moves_volatility_within_hours() -> None:
    regime = MarketRegime(random.Random(3), _MONDAY_NS)
    scales = []
    for k in range(1, 6 * 3600):
        regime.refresh(_MONDAY_NS + k * REFRESH_NS)
        scales.append(regime.vol_scale / math.sqrt(seasonality(_MONDAY_NS + k * REFRESH_NS)))
    assert max(scales) / min(scales) > 3.0
