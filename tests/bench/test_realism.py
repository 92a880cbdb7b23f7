"""The realism report's measures on constructed data with known answers, and the whole pipeline on a short run."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.realism import facts, plots, report
from bench.realism.facts import FACTS, Fact
from bench.realism.tape import (
    CATALOG,
    DAILY_ASSET,
    MINUTES_PER_DAY,
    NS_PER_S,
    START_NS,
    SymbolTape,
    Tape,
    factor_path,
    record,
)
from coinapi_emulator.simulator.catalog import build_catalog
from coinapi_emulator.simulator.market import Market
from coinapi_emulator.simulator.price import STEP_NS

SECOND = NS_PER_S


def symbol(**arrays: object) -> SymbolTape:
    """A symbol tape with empty arrays except those given."""
    empty_i, empty_f = np.array([], dtype=np.int64), np.array([], dtype=np.float64)
    fields: dict[str, object] = {
        "symbol_id": "X",
        "tick": 0.01,
        "lot": 0.001,
        "trade_t": empty_i,
        "trade_price": empty_f,
        "trade_size": empty_f,
        "trade_sign": empty_f,
        "quote_t": empty_i,
        "bid": empty_f,
        "ask": empty_f,
        "bid_size": empty_f,
        "ask_size": empty_f,
    }
    fields.update(arrays)
    return SymbolTape(**fields)  # type: ignore[arg-type]


def floats(*values: float) -> np.ndarray:
    return np.array(values, dtype=np.float64)


def test_mids_are_the_last_quote_at_or_before_each_edge() -> None:
    quotes = symbol(quote_t=np.array([10, 20], dtype=np.int64), bid=floats(1, 3), ask=floats(3, 5))
    mids = facts.mids_at(quotes, np.array([5, 10, 15, 20, 99], dtype=np.int64))
    assert np.isnan(mids[0]) and list(mids[1:]) == [2, 2, 4, 4]


@given(st.lists(st.tuples(st.integers(-5, 30), st.floats(-1e6, 1e6)), max_size=50))
def test_binned_sums_keep_what_falls_in_the_bins(events: list[tuple[int, float]]) -> None:
    t = np.array([START_NS + s * SECOND for s, _ in events], dtype=np.int64)
    values = floats(*[v for _, v in events])
    sums = facts.binned_sum(t, values, START_NS, 10, 2)
    inside = sum(v for s, v in events if 0 <= s < 20)
    assert len(sums) == 2 and math.isclose(sums.sum(), inside, rel_tol=1e-9, abs_tol=1e-6)


def test_acf_and_corr_on_known_series() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(size=200_000)
    ar = np.empty_like(noise)
    ar[0] = noise[0]
    for i in range(1, len(ar)):
        ar[i] = 0.5 * ar[i - 1] + noise[i]
    assert facts.acf(ar, 1) == pytest.approx(0.5, abs=0.01)
    assert facts.acf(noise, 1) == pytest.approx(0.0, abs=0.01)
    assert math.isnan(facts.acf(noise[:3], 5)) and math.isnan(facts.corr(floats(1, 1, 1), floats(1, 2, 3)))
    assert facts.corr(floats(1, 2, np.nan, 4), floats(2, 4, 5, 8)) == pytest.approx(1.0)


def test_imbalance_that_always_calls_the_move_scores_one() -> None:
    # the mid goes up after a bid-heavy top and down after an ask-heavy one
    bid, ask = floats(10, 11, 10, 11), floats(12, 13, 12, 13)
    heavy_bid, heavy_ask = floats(5, 1, 5, 1), floats(1, 5, 1, 5)
    called = symbol(quote_t=np.arange(4), bid=bid, ask=ask, bid_size=heavy_bid, ask_size=heavy_ask)
    wrong = symbol(quote_t=np.arange(4), bid=bid, ask=ask, bid_size=heavy_ask, ask_size=heavy_bid)
    assert facts.imbalance_hit_rate(called) == 1.0 and facts.imbalance_hit_rate(wrong) == 0.0


def test_spread_depth_and_hump() -> None:
    quotes = symbol(bid=floats(100.00, 100.00), ask=floats(100.01, 100.05))
    assert facts.one_tick_spread_share(quotes) == 0.5
    bids = np.array([[100.0, 1.0], [99.95, 3.0], [99.0, 100.0]])
    asks = np.array([[100.02, 2.0], [100.2, 50.0]])
    book = symbol(books=[(bids, asks)])
    near = 100.0 * 1 + 99.95 * 3 + 100.02 * 2  # 99.0 and 100.2 are more than 10 bp from the mid 100.01
    assert facts.depth_within(book, 10)[0] == pytest.approx(near)
    profile = symbol(books=[(np.array([[1.0, s] for s in (1, 2, 9, 3)]), np.array([[2.0, s] for s in (1, 8, 2, 1)]))])
    assert list(facts.depth_profile(profile, levels=4)) == [1, 5, 5.5, 2]
    assert math.isnan(facts.hump_level(symbol()))


def test_round_lots_and_sign_memory() -> None:
    trades = symbol(trade_size=floats(0.5, 0.123, 1.2, 25), trade_sign=floats(1, 1, -1, -1))
    assert facts.round_lot_share(trades) == 0.75
    assert facts.sign_acf(trades, 1) == pytest.approx(facts.corr(floats(1, 1, -1), floats(1, -1, -1)))


def test_tail_index_and_kurtosis_on_known_distributions() -> None:
    rng = np.random.default_rng(2)
    assert facts.hill_tail_index(rng.pareto(3.0, 400_000) + 1.0) == pytest.approx(3.0, rel=0.1)
    assert facts.excess_kurtosis(rng.normal(size=400_000)) == pytest.approx(0.0, abs=0.05)
    assert math.isnan(facts.excess_kurtosis(floats(1, 1, 1, 1)))


def test_realized_volatility_and_daily_returns_of_a_known_random_walk() -> None:
    rng = np.random.default_rng(3)
    minutes = 20 * MINUTES_PER_DAY
    sigma = 0.55 * math.sqrt(60 / facts.YEAR_S)
    tape = Tape(0, START_NS, 72, {}, rng.normal(0, sigma, minutes))
    assert facts.realized_volatility(tape) == pytest.approx(0.55, rel=0.05)
    assert len(tape.daily_returns) == 20
    assert tape.daily_returns[3] == pytest.approx(tape.factor_minutes[3 * MINUTES_PER_DAY : 4 * MINUTES_PER_DAY].sum())


def test_activity_ratios() -> None:
    # two weeks from a Friday: activity 1, but 3 in every hour 12, and half of that at weekends
    minutes = np.arange(14 * MINUTES_PER_DAY)
    activity = np.where(minutes // 60 % 24 == 12, 3.0, 1.0)
    weekend = np.isin(minutes // MINUTES_PER_DAY % 7, (1, 2))
    activity[weekend] /= 2
    tape = Tape(0, START_NS, 72, {}, np.zeros(len(minutes)), activity)
    assert facts.weekend_ratio(tape) == pytest.approx(0.5)
    assert facts.intraday_ratio(tape) == pytest.approx(3.0)
    short = Tape(0, START_NS, 72, {}, np.zeros(600), np.ones(600))
    assert math.isnan(facts.weekend_ratio(short)) and math.isnan(facts.intraday_ratio(short))
    weekdays = Tape(0, START_NS, 72, {}, np.zeros(MINUTES_PER_DAY), np.ones(MINUTES_PER_DAY))
    assert math.isnan(facts.weekend_ratio(weekdays)), "a Friday alone has no weekend to compare"


def test_a_fact_passes_in_its_range_only() -> None:
    fact = Fact("k", "label", lambda tape: 0.0, 0.1, 0.2, "ref", "src")
    assert fact.passes(0.1) and fact.passes(0.2) and not fact.passes(0.3) and not fact.passes(math.nan)


def test_the_pipeline_on_a_short_run(tmp_path: Path) -> None:
    tapes = [record(3, 0.25, days=3)]
    tape = tapes[0]
    btc = tape.symbols[facts.BTC]
    assert len(btc.trade_t) > 100 and len(btc.quote_t) > 100 and len(btc.books) == 15
    assert np.all(np.diff(btc.trade_t) >= 0) and np.all(btc.bid < btc.ask)
    assert len(tape.daily_returns) == 3 and np.all(np.abs(tape.daily_returns) < 0.5)
    values = {fact.key: [fact.measure(tape)] for fact in FACTS}
    assert all(isinstance(v[0], float) for v in values.values())
    written = plots.draw_all(tapes, tmp_path / "realism")
    assert [p.name for p in written] == [f"{name}.png" for name in plots.PLOTS]
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in written)
    out = tmp_path / "REALISM.md"
    report.write(tapes, values, written, out, command="python -m bench.realism --hours 0.25", date="2026-12-05")
    text = out.read_text(encoding="utf-8")
    assert text.count("| seed 3 |") == 1 and all(fact.reference in text for fact in FACTS)
    assert "![return_tails](realism/return_tails.png)" in text


def test_the_factor_path_is_the_market_s_own() -> None:
    catalog = build_catalog(CATALOG, seed=5)
    market = Market(catalog, seed=5, start_ns=START_NS)
    for _ in market.advance(START_NS + 600 * SECOND):
        pass
    btc = market.asset_factor(DAILY_ASSET)
    assert btc is not None
    path, activity = factor_path(catalog, 5, 600, 1, grid_ns=STEP_NS)
    assert path[0] == math.log(next(a for a in catalog.assets if a.asset_id == DAILY_ASSET).initial_price_usd)
    assert path[1] == btc.log_price
    assert len(activity) == 2 and np.all(activity > 0)


def test_the_factor_path_over_years_is_on_a_coarser_grid() -> None:
    catalog = build_catalog(CATALOG, seed=5)
    coarse, _ = factor_path(catalog, 5, 600, 1)
    fine, _ = factor_path(catalog, 5, 600, 1, grid_ns=STEP_NS)
    assert coarse[0] == fine[0] and coarse[1] != fine[1]  # the same process, another draw of it
