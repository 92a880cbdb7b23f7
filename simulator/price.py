"""Prices: one USD log-price factor per asset, and each symbol's fair mid derived from the factors.

``PriceFactors`` steps every asset's factor on a fixed grid (``STEP_NS``, aligned to the market start) with
GARCH-like variance clustering, a shared crypto-market shock and rare jumps, so returns have fat tails and
volatility comes in bursts. A factor at step k is a deterministic function of (seed, asset, k) and of the common
market shocks up to step k (seed, k): shards that own different exchanges see the same factors.

``SymbolPricer`` turns the factors into one symbol's fair mid: ``factor(base) / factor(quote) * (1 + basis)``,
where the basis is a small mean-reverting (Ornstein-Uhlenbeck) deviation per symbol, plus carry for futures
and a Black-Scholes value for options.

Pure: no wall clock, no global random state. Scenario hooks are plain mutable fields
(``AssetFactor.volatility_multiplier``); nothing here schedules them.
"""

from __future__ import annotations

import math
import random

from coinapi_emulator.simulator.catalog import Asset, Symbol, SymbolType
from coinapi_emulator.simulator.rng import asset_rng, stable_seed

#: Grid of the asset factors: 100 ms of virtual time per step.
STEP_NS = 100_000_000
_YEAR_S = 365.0 * 86_400.0
_STEP_S = STEP_NS / 1e9
#: GARCH(1,1) on standardised shocks, normalised so the long-run variance multiplier is 1. Persistence
#: 1 - 6e-5 per 100 ms step is a half-life of ~20 virtual minutes for volatility bursts.
_GARCH_ALPHA = 0.01
_GARCH_BETA = 1.0 - _GARCH_ALPHA - 6e-5
_GARCH_OMEGA = 1.0 - _GARCH_ALPHA - _GARCH_BETA
#: Jumps: about one per asset per two virtual hours, sized as a fraction of annual volatility, and followed
#: by a volatility burst.
_JUMP_PROBABILITY = _STEP_S / 7200.0
_JUMP_SIZE = 0.005
_JUMP_VARIANCE_BOOST = 3.0
#: The per-symbol basis moves at most this often (virtual ns).
BASIS_REFRESH_NS = 100_000_000
#: Stablecoins revert to their peg with this half-life.
_PEG_HALF_LIFE_S = 600.0

# hot-path shortcuts: module globals beat attribute lookups, small ints beat enum members
_exp, _sqrt = math.exp, math.sqrt
_LINEAR, _FUTURE, _OPTION = 0, 1, 2
_KIND_CODES = {
    SymbolType.SPOT: _LINEAR,
    SymbolType.PERPETUAL: _LINEAR,
    SymbolType.FUTURES: _FUTURE,
    SymbolType.OPTION: _OPTION,
}


class AssetFactor:
    """One asset's USD log-price on the ``STEP_NS`` grid, generated step by step from the asset's generator."""

    __slots__ = (
        "_corr",
        "_idio",
        "_jump_sd",
        "_peg_log",
        "_pull",
        "_rng",
        "_sigma",
        "_variance",
        "asset_id",
        "log_price",
        "volatility_multiplier",
    )

    def __init__(self, asset: Asset, seed: int) -> None:
        self.asset_id = asset.asset_id
        #: natural log of the USD price at the current step
        self.log_price = math.log(asset.initial_price_usd)
        #: scenario hook: scales every shock (1.0 = the asset's own volatility)
        self.volatility_multiplier = 1.0
        self._rng = asset_rng(seed, asset.asset_id)
        self._sigma = asset.volatility * math.sqrt(_STEP_S / _YEAR_S)
        self._corr = asset.market_correlation
        self._idio = math.sqrt(1.0 - asset.market_correlation**2)
        self._jump_sd = asset.volatility * _JUMP_SIZE
        self._variance = 1.0
        self._peg_log = self.log_price if asset.is_stablecoin else None
        self._pull = 1.0 - math.exp(-math.log(2.0) * _STEP_S / _PEG_HALF_LIFE_S)

    def step(self, market_shock: float) -> None:
        """Advance one grid step; ``market_shock`` is the step's common N(0, 1) crypto-market draw."""
        rng = self._rng
        z = self._corr * market_shock + self._idio * rng.gauss(0.0, 1.0)
        variance = self._variance
        self.log_price += self._sigma * math.sqrt(variance) * self.volatility_multiplier * z
        variance = _GARCH_OMEGA + (_GARCH_ALPHA * z * z + _GARCH_BETA) * variance
        if rng.random() < _JUMP_PROBABILITY:
            self.log_price += rng.gauss(0.0, self._jump_sd) * self.volatility_multiplier
            variance *= _JUMP_VARIANCE_BOOST
        self._variance = variance
        if self._peg_log is not None:
            self.log_price += self._pull * (self._peg_log - self.log_price)


class PriceFactors:
    """Every asset's factor, stepped together on the grid that starts at ``start_ns``.

    ``log_usd[i]`` is the log USD price of asset ``i`` (catalogue order) for the current step; the reference
    currency (USD) is never stepped. Call ``step_to(t)`` before reading values for virtual time ``t``.
    """

    __slots__ = ("_by_id", "_factors", "_index", "_market_rng", "log_usd", "next_step_ns", "start_ns")

    def __init__(self, assets: tuple[Asset, ...], seed: int, start_ns: int, reference: str = "USD") -> None:
        self.start_ns = start_ns
        #: virtual time at which the next grid step takes effect
        self.next_step_ns = start_ns + STEP_NS
        self._index = {asset.asset_id: i for i, asset in enumerate(assets)}
        self._factors = [(i, AssetFactor(a, seed)) for i, a in enumerate(assets) if a.asset_id != reference]
        self._by_id = {factor.asset_id: factor for _, factor in self._factors}
        self.log_usd = [math.log(a.initial_price_usd) for a in assets]
        self._market_rng = random.Random(stable_seed(seed, "market-factor"))

    def index(self, asset_id: str) -> int:
        """Position of the asset in ``log_usd``; KeyError if unknown."""
        return self._index[asset_id]

    def factor(self, asset_id: str) -> AssetFactor | None:
        """The asset's factor (to set scenario multipliers), or None for the reference currency or an unknown id."""
        return self._by_id.get(asset_id)

    def jump(self, asset_id: str, log_return: float, time_ns: int) -> None:
        """Scenario hook: move the asset's USD log-price by ``log_return`` at ``time_ns`` (shared by every venue)."""
        factor = self._by_id[asset_id]
        self.step_to(time_ns)
        factor.log_price += log_return
        self.log_usd[self._index[asset_id]] = factor.log_price

    def step_to(self, time_ns: int) -> None:
        """Step the grid until it covers ``time_ns`` (no-op if it already does); times must not go backwards."""
        log_usd = self.log_usd
        gauss = self._market_rng.gauss
        while self.next_step_ns <= time_ns:
            shock = gauss(0.0, 1.0)
            for i, factor in self._factors:
                factor.step(shock)
                log_usd[i] = factor.log_price
            self.next_step_ns += STEP_NS


class SymbolPricer:
    """One symbol's fair mid in ticks: the factor ratio times ``1 + basis``, with carry or option value.

    The basis is an Ornstein-Uhlenbeck process updated exactly over the time since the previous call, so the
    result does not depend on how often it is asked, only on the times at which it is asked.
    """

    __slots__ = (
        "_base",
        "_carry_per_ns",
        "_decay_per_ns",
        "_expiry_ns",
        "_is_call",
        "_kind_code",
        "_last_ns",
        "_mean",
        "_mid",
        "_quote",
        "_rng",
        "_sd",
        "_strike",
        "_ticks",
        "_valid_until_ns",
        "_vol",
        "basis",
    )

    def __init__(self, symbol: Symbol, factors: PriceFactors, base: Asset, rng: random.Random, start_ns: int) -> None:
        self._rng = rng
        self._base = factors.index(symbol.asset_id_base)
        self._quote = factors.index(symbol.asset_id_quote)
        self._ticks = 10.0**symbol.price_decimals
        self._kind_code = _KIND_CODES[symbol.symbol_type]
        #: stationary spread of the basis (relative, ~1-4 bps) and its half-life (2-10 virtual seconds)
        self._sd = rng.uniform(1e-4, 4e-4)
        self._decay_per_ns = math.log(2.0) / (rng.uniform(2.0, 10.0) * 1e9)
        # perpetuals trade at a small funding premium; the rest around zero
        self._mean = rng.uniform(-2e-4, 6e-4) if symbol.symbol_type is SymbolType.PERPETUAL else 0.0
        #: current relative deviation from the factor ratio
        self.basis = self._mean + rng.uniform(-1.0, 1.0) * self._sd
        self._last_ns = start_ns
        self._expiry_ns = symbol.expiry_ns if symbol.expiry_ns is not None else start_ns
        # futures: contango of 4-12 % a year until delivery
        self._carry_per_ns = rng.uniform(0.04, 0.12) / (_YEAR_S * 1e9)
        self._strike = symbol.option_strike if symbol.option_strike is not None else 0.0
        self._is_call = bool(symbol.option_is_call)
        self._vol = base.volatility
        self._mid = 0.0
        self._valid_until_ns = start_ns

    def fair_mid_ticks(self, time_ns: int, factors: PriceFactors) -> float:
        """The fair mid at ``time_ns`` in ticks (a float). Times must not go backwards.

        The basis moves at most once per ``BASIS_REFRESH_NS``, and the result is reused until the next factor
        step or basis refresh: cheap for busy symbols, and still a function of the times it is asked at only.
        ``factors`` must already be stepped to ``time_ns``.
        """
        if time_ns < self._valid_until_ns:
            return self._mid
        basis = self.basis
        dt_ns = time_ns - self._last_ns
        if dt_ns >= BASIS_REFRESH_NS:
            self._last_ns = time_ns
            mean = self._mean
            decay = _exp(-self._decay_per_ns * dt_ns)
            # uniform noise with unit variance: the basis needs the right scale, not a Gaussian shape, and
            # one uniform draw is several times cheaper than a Gaussian on this hot path
            noise = (self._rng.random() - 0.5) * 3.4641016151377544
            basis = mean + (basis - mean) * decay + self._sd * _sqrt(1.0 - decay * decay) * noise
            self.basis = basis
        refresh_ns = self._last_ns + BASIS_REFRESH_NS
        next_step_ns = factors.next_step_ns
        self._valid_until_ns = refresh_ns if refresh_ns < next_step_ns else next_step_ns
        log_usd = factors.log_usd
        spot = _exp(log_usd[self._base] - log_usd[self._quote])
        code = self._kind_code
        if code == _LINEAR:
            mid = spot * (1.0 + basis) * self._ticks
        elif code == _FUTURE:
            mid = spot * (1.0 + basis + self._carry_per_ns * max(0, self._expiry_ns - time_ns)) * self._ticks
        else:
            value = _black_scholes(spot, self._strike, self._expiry_ns - time_ns, self._vol, self._is_call)
            mid = value * (1.0 + basis) * self._ticks
        self._mid = mid
        return mid


def _black_scholes(spot: float, strike: float, remaining_ns: int, vol: float, is_call: bool) -> float:
    """Undiscounted Black-Scholes value; past expiry it is held at one minute to go (intrinsic value plus a little)."""
    years = max(remaining_ns, 60_000_000_000) / (_YEAR_S * 1e9)
    width = vol * math.sqrt(years)
    d1 = (math.log(spot / strike) + 0.5 * width * width) / width
    d2 = d1 - width
    if is_call:
        return spot * _normal_cdf(d1) - strike * _normal_cdf(d2)
    return strike * _normal_cdf(-d2) - spot * _normal_cdf(-d1)


def _normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))
