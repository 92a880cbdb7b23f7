from __future__ import annotations

import itertools
import math
import random
import statistics

import pytest

from coinapi_emulator.simulator import _native
from coinapi_emulator.simulator.catalog import Catalog
from coinapi_emulator.simulator.events import Quote, TakerSide, Trade
from coinapi_emulator.simulator.flow import METAORDER_SHARE, RACE_SIZE, RACE_Z, ROUND_SHARE, SIZE_CAP, TradeFlow
from coinapi_emulator.simulator.market import Market
from tests.simulator.helpers import SECOND_NS, START_NS, run, subset


def _arrivals(flow: TradeFlow, count: int) -> list[int]:
    t, out = 0, []
    for _ in range(count):
        t += flow.next_gap_ns()
        out.append(t)
    return out


def test_gaps_are_whole_microseconds_and_the_mean_rate_matches() -> None:
    flow = TradeFlow(random.Random(1), trade_rate_per_s=5.0, size_lots=10.0, step_sigma=1e-4)
    times = _arrivals(flow, 20_000)
    gaps = [b - a for a, b in zip([0, *times], times, strict=False)]
    assert all(g >= 1000 and g % 1000 == 0 for g in gaps)
    rate = len(times) / (times[-1] / 1e9)
    assert 4.0 < rate < 6.0


def test_arrivals_cluster() -> None:
    # a Hawkes process is over-dispersed: counts per 10 s window vary more than a Poisson process's
    # (variance = mean); with branching ratio 0.6 the long-window ratio tends to 1 / (1 - 0.6)**2
    flow = TradeFlow(random.Random(2), trade_rate_per_s=2.0, size_lots=1.0, step_sigma=1e-4)
    counts = [0] * 400
    for t in _arrivals(flow, 10_000):
        if t < 4000 * 1_000_000_000:
            counts[t // 10_000_000_000] += 1
    assert statistics.pvariance(counts) > 2.5 * statistics.fmean(counts)


def test_a_flow_without_baseline_or_excitation_never_trades() -> None:
    flow = TradeFlow(random.Random(3), trade_rate_per_s=1.0, size_lots=1.0, step_sigma=1e-4)
    flow.base_rate_per_s = 0.0
    assert flow.next_gap_ns() == 1 << 62


def test_sizes_are_positive_and_heavy_tailed() -> None:
    flow = TradeFlow(random.Random(4), trade_rate_per_s=1.0, size_lots=100.0, step_sigma=1e-4)
    sizes = [flow.size_lots() for _ in range(20_000)]
    assert min(sizes) >= 100
    assert max(sizes) <= 100 * SIZE_CAP
    assert max(sizes) > 20 * statistics.median(sizes)
    tiny = TradeFlow(random.Random(4), trade_rate_per_s=1.0, size_lots=0.01, step_sigma=1e-4)
    assert min(tiny.size_lots() for _ in range(1000)) == 1


def test_taker_side_follows_the_pressure() -> None:
    # the same generator for both: the same metaorders, and every reacting trade leans with the pressure
    up = TradeFlow(random.Random(5), trade_rate_per_s=1.0, size_lots=1.0, step_sigma=1e-4)
    down = TradeFlow(random.Random(5), trade_rate_per_s=1.0, size_lots=1.0, step_sigma=1e-4)
    buys_up = sum(up.taker_is_buy(5.0) for _ in range(4000))
    buys_down = sum(down.taker_is_buy(-5.0) for _ in range(4000))
    assert buys_up - buys_down > 4000 * (1 - METAORDER_SHARE) * 0.4


def test_trade_signs_have_long_memory() -> None:
    flow = TradeFlow(random.Random(6), trade_rate_per_s=1.0, size_lots=1.0, step_sigma=1e-4)
    signs = [1.0 if flow.taker_is_buy(0.0) else -1.0 for _ in range(200_000)]
    mean = statistics.fmean(signs)
    centred = [s - mean for s in signs]
    variance = statistics.fmean(c * c for c in centred)

    def acf(lag: int) -> float:
        return statistics.fmean(a * b for a, b in zip(centred, centred[lag:], strict=False)) / variance

    assert acf(100) > 0.05  # Lillo, Farmer 2004: still clearly positive a hundred trades later
    assert acf(1) > acf(10) > acf(100)


def test_a_share_of_sizes_is_round() -> None:
    flow = TradeFlow(random.Random(7), trade_rate_per_s=1.0, size_lots=137.0, step_sigma=1e-4)
    sizes = [flow.size_lots() for _ in range(20_000)]
    round_share = sum(len(str(s).rstrip("0")) == 1 for s in sizes) / len(sizes)
    assert ROUND_SHARE * 0.9 < round_share < ROUND_SHARE + 0.1


def test_activity_speeds_up_the_clock() -> None:
    calm = TradeFlow(random.Random(8), trade_rate_per_s=3.0, size_lots=1.0, step_sigma=1e-4)
    busy = TradeFlow(random.Random(8), trade_rate_per_s=3.0, size_lots=1.0, step_sigma=1e-4)
    for _ in range(2000):
        assert abs(calm.next_gap_ns(1.0) - 2 * busy.next_gap_ns(2.0)) <= 2000


def test_a_racer_wins_as_often_as_its_run_and_the_activity_say() -> None:
    flow = TradeFlow(random.Random(8), trade_rate_per_s=1.0, size_lots=10.0, step_sigma=1e-4)
    order = math.floor(10.0 * RACE_SIZE)
    assert flow.racer_lots(0.0, 1.0, 1.0) == 0  # no run, no race

    def wins(run: float, vol_scale: float, activity: float) -> float:
        lots = [flow.racer_lots(run, vol_scale, activity) for _ in range(4000)]
        assert set(lots) <= {0, order}
        return sum(1 for size in lots if size) / len(lots)

    # a run of 0.75 grid steps' worth of volatility, at activity 1, wins 0.75 / RACE_Z of the races
    assert abs(wins(0.75e-4, 1.0, 1.0) - 0.75 / RACE_Z) < 0.03
    # twice the volatility halves the odds, and a market twice as busy doubles them back
    assert abs(wins(0.75e-4, 2.0, 1.0) - 0.375 / RACE_Z) < 0.03
    assert abs(wins(0.75e-4, 2.0, 2.0) - 0.75 / RACE_Z) < 0.03
    assert flow.racer_lots(1.0, 1.0, 1.0) == order  # a run far past RACE_Z always wins


def _flow_price_r2(catalog: Catalog, symbol_id: str, seconds: int) -> float:
    """R² of the symbol's 1 s mid returns on its 1 s signed traded volume."""
    market = Market(subset(catalog, [symbol_id]), seed=5, start_ns=START_NS)
    signed = [0.0] * seconds
    mids: list[float] = []
    mid = 0.0
    for event in run(market, seconds):
        if not isinstance(event, Trade | Quote):
            continue
        second = (event.time_exchange_ns - START_NS - 1) // SECOND_NS
        while len(mids) <= second:  # the mid at each whole second: the last quote before it
            mids.append(mid)
        if isinstance(event, Trade):
            signed[second] += event.size_lots if event.taker_side is TakerSide.BUY else -event.size_lots
        elif isinstance(event, Quote):
            mid = (event.ask_price_ticks + event.bid_price_ticks) / 2
    mids.append(mid)
    returns = [math.log(b / a) for a, b in itertools.pairwise(mids[1:])]
    return statistics.correlation(signed[1 : len(returns) + 1], returns) ** 2


def test_signed_volume_moves_with_the_price_because_racers_pick_off_stale_quotes(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_native, "speedups", None)  # the reference, whose RACE_Z a test may change
    btc = "BINANCE_SPOT_BTC_USDT"
    assert _flow_price_r2(catalog, btc, 300) > 0.25
    # without racers, trades follow the price but never carry its moves
    monkeypatch.setattr("coinapi_emulator.simulator.flow.RACE_Z", math.inf)
    assert _flow_price_r2(catalog, btc, 300) < 0.05
