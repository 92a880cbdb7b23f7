from __future__ import annotations

import math
import random
import statistics

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.simulator.regime import (
    BURST_ACTIVITY_EXPONENT,
    BURST_HALF_LIFE_S,
    BURST_VARIANCE_SHARE,
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
    everyday = (1.0 - BURST_VARIANCE_SHARE) * math.exp(-offset)
    assert regime.vol_scale == pytest.approx(math.sqrt(seasonality(_MONDAY_NS) * everyday))
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


def _burst_now(regime: MarketRegime) -> None:
    regime._refreshes_to_burst = 1  # the next refresh starts a burst


def test_a_burst_raises_volatility_at_once_and_halves_over_its_half_life() -> None:
    calm = MarketRegime(random.Random(4), _MONDAY_NS)
    stressed = MarketRegime(random.Random(4), _MONDAY_NS)
    calm._refreshes_to_burst = stressed._refreshes_to_burst = 10**9
    _burst_now(stressed)
    calm.refresh(_MONDAY_NS + REFRESH_NS)
    stressed.refresh(_MONDAY_NS + REFRESH_NS)
    season = seasonality(_MONDAY_NS + REFRESH_NS)
    burst = stressed.vol_scale**2 / season - calm.vol_scale**2 / season
    assert burst > 0.0
    # trading follows the burst's volatility
    assert calm._burst == 0.0
    stress = (1.0 + burst / (1.0 - BURST_VARIANCE_SHARE)) ** BURST_ACTIVITY_EXPONENT
    assert stressed.activity / calm.activity == pytest.approx(stress, rel=1e-9)
    assert stressed._burst == pytest.approx(burst)
    # the burst's draws put the two regimes' everyday parts on different paths from here: follow the burst itself
    for k in range(2, round(BURST_HALF_LIFE_S * 1e9 / REFRESH_NS) + 2):
        stressed.refresh(_MONDAY_NS + k * REFRESH_NS)
    assert stressed._burst == pytest.approx(burst / 2)


def test_bursts_carry_their_share_of_the_variance_on_average() -> None:
    # ten years on a 10-minute interval: ~900 bursts, so the mean is within a few percent, in half a million
    # refreshes
    interval_ns = 600 * REFRESH_NS
    regime = MarketRegime(random.Random(5), _MONDAY_NS, interval_ns=interval_ns)
    bursts, activity, variance = [], [], []
    for k in range(1, 10 * 365 * 144):
        regime.refresh(_MONDAY_NS + k * interval_ns)
        bursts.append(regime._burst)
        activity.append(regime.activity)
        variance.append(regime.vol_scale**2)
    assert statistics.fmean(bursts) == pytest.approx(BURST_VARIANCE_SHARE, rel=0.15)
    # the everyday part and the bursts together keep the configured variance; trading keeps its configured rate
    assert statistics.fmean(variance) == pytest.approx(1.0, rel=0.15)
    assert statistics.fmean(activity) == pytest.approx(1.0, rel=0.05)
