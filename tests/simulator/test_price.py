from __future__ import annotations

import math
import random
import statistics

import pytest

from coinapi_emulator.simulator.catalog import Asset, Catalog, Symbol, SymbolType
from coinapi_emulator.simulator.price import (
    BASIS_REFRESH_NS,
    HISTORY_STEPS,
    JUMP_NS,
    MAX_LAG_STEPS,
    STEP_NS,
    AssetFactor,
    PriceFactors,
    SymbolPricer,
    _black_scholes,
    venue_lag_steps,
)
from tests.simulator.helpers import SECOND_NS, START_NS

_JUMP_STEPS = JUMP_NS // STEP_NS


def _assets(catalog: Catalog, *ids: str) -> tuple[Asset, ...]:
    return tuple(a for a in catalog.assets if a.asset_id in ids)


def test_factors_start_at_the_initial_prices_and_usd_is_constant(catalog: Catalog) -> None:
    factors = PriceFactors(catalog.assets, seed=1, start_ns=START_NS)
    for i, asset in enumerate(catalog.assets):
        assert math.exp(factors.log_usd[i]) == pytest.approx(asset.initial_price_usd)
    factors.step_to(START_NS + 60 * SECOND_NS)
    assert factors.log_usd[factors.index("USD")] == 0.0
    assert factors.factor("USD") is None
    btc = factors.factor("BTC")
    assert btc is not None and btc.log_price == factors.log_usd[factors.index("BTC")]


def test_an_assets_path_does_not_depend_on_the_other_assets(catalog: Catalog) -> None:
    every = PriceFactors(catalog.assets, seed=9, start_ns=START_NS)
    few = PriceFactors(_assets(catalog, "USD", "BTC", "SHIB"), seed=9, start_ns=START_NS)
    for step in range(1, 200):
        t = START_NS + step * STEP_NS
        every.step_to(t)
        few.step_to(t)
        for asset_id in ("BTC", "SHIB"):
            assert every.log_usd[every.index(asset_id)] == few.log_usd[few.index(asset_id)]


def test_values_are_constant_within_a_grid_step_and_stepping_is_idempotent(catalog: Catalog) -> None:
    factors = PriceFactors(_assets(catalog, "BTC"), seed=2, start_ns=START_NS)
    factors.step_to(START_NS + STEP_NS - 1)
    assert factors.log_usd[0] == math.log(42280.0)
    factors.step_to(START_NS + STEP_NS)
    after_one = factors.log_usd[0]
    assert after_one != math.log(42280.0)
    factors.step_to(START_NS + STEP_NS + 5)
    factors.step_to(START_NS)
    assert factors.log_usd[0] == after_one
    assert factors.next_step_ns == START_NS + 2 * STEP_NS


def test_seeds_give_different_paths(catalog: Catalog) -> None:
    a = PriceFactors(_assets(catalog, "ETH"), seed=1, start_ns=START_NS)
    b = PriceFactors(_assets(catalog, "ETH"), seed=2, start_ns=START_NS)
    a.step_to(START_NS + SECOND_NS)
    b.step_to(START_NS + SECOND_NS)
    assert a.log_usd != b.log_usd


def test_returns_have_fat_tails_and_plausible_scale(catalog: Catalog) -> None:
    # three virtual hours: the regime's fast component (half-life 2 min) mixes calm and busy spells
    factors = PriceFactors(_assets(catalog, "BTC"), seed=3, start_ns=START_NS)
    returns, before = [], factors.log_usd[0]
    for step in range(1, 108_000):
        factors.step_to(START_NS + step * STEP_NS)
        returns.append(factors.log_usd[0] - before)
        before = factors.log_usd[0]
    sd = statistics.pstdev(returns)
    step_sigma = 0.55 * math.sqrt(STEP_NS / 1e9 / (365 * 86400))
    assert 0.3 * step_sigma < sd < 2.0 * step_sigma
    kurtosis = statistics.fmean(r**4 for r in returns) / sd**4
    assert kurtosis > 3.3  # a Gaussian has 3


def test_volatility_multiplier_scales_moves_and_jumps() -> None:
    asset = Asset("ETH", "Ethereum", True, 2282.0, 0.6, market_correlation=0.8)
    calm = AssetFactor(asset, seed=5)
    calm.volatility_multiplier = 0.0
    for _ in range(1000):
        calm.step(1.0, 2.0)
    calm.jump(3.0, _JUMP_STEPS)
    calm.step(1.0, 2.0)  # the jump's first step
    assert calm.log_price == math.log(2282.0)


def test_vol_scale_scales_only_crypto_assets_and_a_co_jump_moves_them_together(catalog: Catalog) -> None:
    quiet = PriceFactors(_assets(catalog, "BTC", "ETH", "USDT", "EUR"), seed=4, start_ns=START_NS)
    jumping = PriceFactors(_assets(catalog, "BTC", "ETH", "USDT", "EUR"), seed=4, start_ns=START_NS)
    btc, eth, usdt = (jumping.factor(a) for a in ("BTC", "ETH", "USDT"))
    assert btc is not None and eth is not None and usdt is not None
    assert btc.follows_market and eth.follows_market and not usdt.follows_market
    quiet._steps_to_jump = jumping._steps_to_jump = _JUMP_STEPS + 10  # no co-jump but the one forced below
    jumping._steps_to_jump = 1
    end = START_NS + _JUMP_STEPS * STEP_NS
    for factors in (quiet, jumping):
        factors.step_to(START_NS + STEP_NS)
    # the jump unfolds over _JUMP_STEPS steps, on top of the same diffusive path
    halfway = START_NS + _JUMP_STEPS // 2 * STEP_NS
    quiet.step_to(halfway)
    jumping.step_to(halfway)
    half_move = {a: jumping.log_usd[jumping.index(a)] - quiet.log_usd[quiet.index(a)] for a in ("BTC", "ETH")}
    quiet.step_to(end)
    jumping.step_to(end)
    move = {a: jumping.log_usd[jumping.index(a)] - quiet.log_usd[quiet.index(a)] for a in ("BTC", "ETH", "USDT")}
    assert abs(move["BTC"]) > 0.001 and abs(move["ETH"]) > 0.001  # a jump is ~5 % on average
    assert half_move["BTC"] == pytest.approx(move["BTC"] / 2, rel=0.05)
    assert move["USDT"] == 0.0
    assert jumping.vol_scale > quiet.vol_scale  # the kick


def test_lagged_values_are_the_values_of_earlier_steps(catalog: Catalog) -> None:
    factors = PriceFactors(_assets(catalog, "BTC"), seed=8, start_ns=START_NS)
    start = factors.log_usd[0]
    seen = []
    for step in range(1, 3 * HISTORY_STEPS):
        factors.step_to(START_NS + step * STEP_NS)
        seen.append(factors.log_usd[0])
        assert factors.lagged(0) is factors.log_usd
        for lag in (1, 5, MAX_LAG_STEPS):
            expected = seen[-1 - lag] if lag < len(seen) else start
            assert factors.lagged(lag)[0] == expected


def test_a_lagging_venue_sees_the_factors_late(catalog: Catalog) -> None:
    symbol = catalog.symbol("KRAKEN_SPOT_BTC_USD")
    base = catalog.asset("BTC")
    assert symbol is not None and base is not None
    factors = PriceFactors(catalog.assets, seed=9, start_ns=START_NS)
    leader = SymbolPricer(symbol, factors, base, random.Random(1), START_NS)
    follower = SymbolPricer(symbol, factors, base, random.Random(1), START_NS, lag_steps=5)
    for step in range(1, 40):
        t = START_NS + step * STEP_NS
        factors.step_to(t)
        ratio = follower.fair_mid_ticks(t, factors) / leader.fair_mid_ticks(t, factors)
        btc, usd = factors.index("BTC"), factors.index("USD")
        expected = math.exp(
            factors.lagged(5)[btc] - factors.lagged(5)[usd] - factors.log_usd[btc] + factors.log_usd[usd]
        )
        assert ratio == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="lag_steps"):
        SymbolPricer(symbol, factors, base, random.Random(1), START_NS, lag_steps=MAX_LAG_STEPS + 1)


@pytest.mark.parametrize(("activity", "lag"), [(1.0, 0), (1.5, 0), (0.6, 8), (0.0, MAX_LAG_STEPS), (0.25, 15)])
def test_venue_lag_grows_as_activity_falls(activity: float, lag: int) -> None:
    assert venue_lag_steps(activity) == lag


def test_stablecoins_stay_pegged(catalog: Catalog) -> None:
    factors = PriceFactors(_assets(catalog, "USDT", "USDC"), seed=6, start_ns=START_NS)
    for minute in range(1, 61):
        factors.step_to(START_NS + minute * 60 * SECOND_NS)
        for value in factors.log_usd:
            assert abs(math.exp(value) - 1.0) < 0.005


def _pricer(symbol: Symbol, catalog: Catalog, factors: PriceFactors, seed: int = 0) -> SymbolPricer:
    base = catalog.asset(symbol.asset_id_base)
    assert base is not None
    return SymbolPricer(symbol, factors, base, random.Random(seed), START_NS)


def test_spot_mid_is_the_factor_ratio_within_a_few_bps(catalog: Catalog) -> None:
    factors = PriceFactors(catalog.assets, seed=7, start_ns=START_NS)
    symbol = catalog.symbol("KRAKEN_SPOT_BTC_EUR")
    assert symbol is not None
    pricer = _pricer(symbol, catalog, factors)
    for k in range(1, 300):
        t = START_NS + k * 37_000_000
        factors.step_to(t)
        ratio = math.exp(factors.log_usd[factors.index("BTC")] - factors.log_usd[factors.index("EUR")])
        mid = pricer.fair_mid_ticks(t, factors) / 100
        assert abs(mid / ratio - 1) < 0.002
        assert abs(pricer.basis) < 0.002


def test_the_fair_mid_is_reused_within_a_step_and_refresh(catalog: Catalog) -> None:
    factors = PriceFactors(catalog.assets, seed=7, start_ns=START_NS)
    symbol = catalog.symbol("BINANCE_SPOT_BTC_USDT")
    assert symbol is not None
    pricer = _pricer(symbol, catalog, factors)
    t = START_NS + BASIS_REFRESH_NS
    first = pricer.fair_mid_ticks(t, factors)
    assert pricer.fair_mid_ticks(t + BASIS_REFRESH_NS // 2, factors) == first
    moved = pricer.fair_mid_ticks(t + BASIS_REFRESH_NS, factors)
    assert moved != first
    # a refresh less than BASIS_REFRESH_NS after the last basis move keeps the basis
    basis = pricer.basis
    factors.step_to(START_NS + STEP_NS)
    pricer.fair_mid_ticks(START_NS + STEP_NS, factors)
    assert pricer.basis == basis


def test_perpetuals_carry_a_small_premium_and_futures_converge(catalog: Catalog) -> None:
    factors = PriceFactors(catalog.assets, seed=8, start_ns=START_NS)
    fts = next(s for s in catalog.symbols if s.symbol_type is SymbolType.FUTURES and s.asset_id_base == "BTC")
    perp = catalog.symbol("BINANCEFTS_PERP_BTC_USDT")
    assert fts.expiry_ns is not None and perp is not None
    fts_pricer = _pricer(fts, catalog, factors)
    spot = math.exp(factors.log_usd[factors.index("BTC")] - factors.log_usd[factors.index(fts.asset_id_quote)])
    premium = fts_pricer.fair_mid_ticks(START_NS, factors) / 10**fts.price_decimals / spot - 1
    assert 0.001 < premium < 0.05  # contango: 4-12 % a year for about three months
    at_expiry = fts_pricer.fair_mid_ticks(fts.expiry_ns + SECOND_NS, factors) / 10**fts.price_decimals / spot - 1
    assert abs(at_expiry) < 0.002
    perp_premium = _pricer(perp, catalog, factors).fair_mid_ticks(START_NS, factors) / 100 / spot - 1
    assert abs(perp_premium) < 0.002


def test_option_values(catalog: Catalog) -> None:
    # put-call parity (undiscounted), bounds, and intrinsic value at expiry
    for spot, strike in ((42000.0, 40000.0), (42000.0, 45000.0), (2300.0, 2300.0)):
        call = _black_scholes(spot, strike, 30 * 86400 * SECOND_NS, 0.6, True)
        put = _black_scholes(spot, strike, 30 * 86400 * SECOND_NS, 0.6, False)
        assert call - put == pytest.approx(spot - strike)
        assert max(spot - strike, 0) <= call <= spot
        expired = _black_scholes(spot, strike, -SECOND_NS, 0.6, True)
        assert expired == pytest.approx(max(spot - strike, 0), abs=spot * 0.01)
    factors = PriceFactors(catalog.assets, seed=9, start_ns=START_NS)
    option = next(s for s in catalog.symbols if s.symbol_type is SymbolType.OPTION and s.option_is_call)
    assert _pricer(option, catalog, factors).fair_mid_ticks(START_NS, factors) > 0


def test_a_coarse_grid_keeps_the_variance_per_unit_of_time(catalog: Catalog) -> None:
    (btc,) = _assets(catalog, "BTC")
    fine = AssetFactor(btc, seed=1)
    coarse = AssetFactor(btc, seed=1, step_ns=100 * STEP_NS)
    assert coarse._sigma == pytest.approx(fine._sigma * 10)
    assert coarse._jump_sd == fine._jump_sd  # a jump is as large whatever the grid


def test_a_coarse_grid_refreshes_the_regime_every_step_over_the_step(catalog: Catalog) -> None:
    coarse = PriceFactors(_assets(catalog, "BTC", "USD"), seed=2, start_ns=START_NS, step_ns=10 * SECOND_NS)
    coarse.step_to(START_NS + 3 * 10 * SECOND_NS)
    assert coarse.step_count == 3
    assert coarse._market._decays[0] == pytest.approx(0.5 ** (10 / 120))
    assert coarse._jump_steps == 3  # 30 s


@pytest.mark.parametrize("step_ns", [3 * STEP_NS, 15 * SECOND_NS // 10])
def test_a_grid_must_divide_the_regime_s_second_or_be_whole_seconds(catalog: Catalog, step_ns: int) -> None:
    with pytest.raises(ValueError, match="step_ns"):
        PriceFactors(_assets(catalog, "BTC", "USD"), seed=2, start_ns=START_NS, step_ns=step_ns)
