"""Prices: one USD log-price factor per asset, and each symbol's fair mid derived from the factors.

``PriceFactors`` steps every asset's factor on a fixed grid (``STEP_NS``, aligned to the market start). Crypto
assets share the market's regime (``simulator.regime``: a common variance factor with memory from minutes to
days, and a daily and weekly profile), a common shock each step (``market_correlation``) and co-jumps, about one
a day, that move them all at once. Stablecoins revert to their peg; fiat currencies drift on their own small
volatility. A factor at step k is a deterministic function of (seed, asset, k) and of the market's draws up to
step k (seed, k): shards that own different exchanges see the same factors. The last ``HISTORY_STEPS`` steps are
kept, so a follower venue can see the factors with a delay (price discovery led by the busiest venues).

``SymbolPricer`` turns the factors into one symbol's fair mid: ``factor(base) / factor(quote) * (1 + premium +
basis)``, where the premium is the venue's slow deviation (half-life of hours; perpetuals carry a funding
premium) and the basis a small fast one scaled with the market's volatility, plus carry for futures and a
Black-Scholes value for options.

Pure: no wall clock, no global random state. Scenario hooks are plain mutable fields
(``AssetFactor.volatility_multiplier``); nothing here schedules them.
"""

from __future__ import annotations

import math
import random
from typing import NamedTuple

from coinapi_emulator.simulator.catalog import Asset, Symbol, SymbolType
from coinapi_emulator.simulator.regime import REFRESH_NS, MarketRegime
from coinapi_emulator.simulator.rng import asset_rng, geometric_wait, stable_seed

#: Grid of the asset factors: 100 ms of virtual time per step (the market's; a coarser one, which must be a
#: multiple of ``REFRESH_NS``, serves measurements over years: the same process at the scale of minutes and days).
STEP_NS = 100_000_000
#: Steps of factor history kept for follower venues (3.2 s); a venue's lag is at most ``MAX_LAG_STEPS``.
HISTORY_STEPS = 32
MAX_LAG_STEPS = 20
_YEAR_S = 365.0 * 86_400.0
#: Co-jumps of the crypto market: about one a virtual day (intraday jumps on most days: Catania, Sandholdt 2019;
#: Saef et al. 2021), carrying this share of each asset's variance (the rest is diffusive). Calibrated in
#: docs/REALISM.md: rarer and larger jumps (one every two weeks, 40 % of the variance) gave daily returns fat tails,
#: but a jump of over a hundred one-minute sigmas then dominated every one-minute statistic of a 72-hour window
#: (excess kurtosis 3,230), and five facts passed or failed with whether a window held one.
JUMPS_PER_DAY = 1.0
JUMP_VARIANCE_SHARE = 0.1
#: A co-jump unfolds over 30 virtual seconds, as a cascade of selling or buying does.
JUMP_NS = 30_000_000_000
#: The per-symbol basis and premium move at most this often (virtual ns).
BASIS_REFRESH_NS = 100_000_000
#: Stablecoins revert to their peg with this half-life.
_PEG_HALF_LIFE_S = 600.0
_SQRT12 = 3.4641016151377544

# hot-path shortcuts: module globals beat attribute lookups, small ints beat enum members
_exp, _sqrt = math.exp, math.sqrt
_LINEAR, _FUTURE, _OPTION = 0, 1, 2
_KIND_CODES = {
    SymbolType.SPOT: _LINEAR,
    SymbolType.PERPETUAL: _LINEAR,
    SymbolType.FUTURES: _FUTURE,
    SymbolType.OPTION: _OPTION,
}


def venue_lag_steps(venue_activity: float) -> int:
    """Grid steps by which a venue sees the factors late: 0 for the busiest (activity 1), up to ``MAX_LAG_STEPS``."""
    return round(MAX_LAG_STEPS * (1.0 - min(1.0, max(0.0, venue_activity))))


class AssetFactor:
    """One asset's USD log-price on the ``STEP_NS`` grid, generated step by step from the asset's generator."""

    __slots__ = (
        "_corr",
        "_gauss",
        "_idio",
        "_jump_drift",
        "_jump_left",
        "_jump_sd",
        "_peg_log",
        "_pull",
        "_rng",
        "_sigma",
        "asset_id",
        "follows_market",
        "log_price",
        "volatility_multiplier",
    )

    def __init__(self, asset: Asset, seed: int, step_ns: int = STEP_NS) -> None:
        self.asset_id = asset.asset_id
        #: natural log of the USD price at the current step
        self.log_price = math.log(asset.initial_price_usd)
        #: scenario hook: scales every shock (1.0 = the asset's own volatility)
        self.volatility_multiplier = 1.0
        #: a crypto asset other than a stablecoin: shares the market's regime and co-jumps
        self.follows_market = asset.type_is_crypto and not asset.is_stablecoin
        self._rng = asset_rng(seed, asset.asset_id)
        self._gauss = self._rng.gauss
        jump_share = JUMP_VARIANCE_SHARE if self.follows_market else 0.0
        step_s = step_ns / 1e9
        self._sigma = math.sqrt(asset.volatility**2 * step_s / _YEAR_S * (1.0 - jump_share))
        # a year's jump variance spread over a year's jumps
        self._jump_sd = math.sqrt(asset.volatility**2 * jump_share / (365.0 * JUMPS_PER_DAY))
        #: the co-jump under way: its move per step and the steps it has left
        self._jump_drift = 0.0
        self._jump_left = 0
        self._corr = asset.market_correlation
        self._idio = math.sqrt(1.0 - asset.market_correlation**2)
        self._peg_log = self.log_price if asset.is_stablecoin else None
        self._pull = 1.0 - math.exp(-math.log(2.0) * step_s / _PEG_HALF_LIFE_S)

    def step(self, market_shock: float, vol_scale: float) -> None:
        """Advance one grid step: ``market_shock`` is the step's common N(0, 1) draw, ``vol_scale`` the regime's."""
        z = self._corr * market_shock + self._idio * self._gauss(0.0, 1.0)
        self.log_price += self._sigma * vol_scale * self.volatility_multiplier * z
        if self._jump_left:
            self._jump_left -= 1
            self.log_price += self._jump_drift
        if self._peg_log is not None:
            self.log_price += self._pull * (self._peg_log - self.log_price)

    def jump(self, market_jump: float, steps: int) -> None:
        """A co-jump starts: ``market_jump`` is its common N(0, 1) draw, the asset adds its own share; the move is
        spread over the next ``steps`` steps."""
        z = self._corr * market_jump + self._idio * self._rng.gauss(0.0, 1.0)
        self._jump_drift = self._jump_sd * self.volatility_multiplier * z / steps
        self._jump_left = steps


class PriceFactors:
    """Every asset's factor, stepped together on the grid that starts at ``start_ns``.

    ``log_usd[i]`` is the log USD price of asset ``i`` (catalogue order) for the current step; the reference
    currency (USD) is never stepped. ``lagged(k)`` is the same list ``k`` steps earlier. Call ``step_to(t)``
    before reading values for virtual time ``t``; ``vol_scale`` and ``activity`` are the regime's at that time.
    ``step_ns`` is the grid: the market's ``STEP_NS`` unless a measurement over years wants a coarser one.
    """

    __slots__ = (
        "_by_id",
        "_index",
        "_jump_probability",
        "_jump_steps",
        "_market",
        "_others",
        "_rng",
        "_step_ns",
        "_steps_per_refresh",
        "_steps_to_jump",
        "_trackers",
        "activity",
        "history",
        "log_usd",
        "next_step_ns",
        "start_ns",
        "step_count",
        "vol_scale",
    )

    def __init__(
        self, assets: tuple[Asset, ...], seed: int, start_ns: int, reference: str = "USD", step_ns: int = STEP_NS
    ) -> None:
        if REFRESH_NS % step_ns and step_ns % REFRESH_NS:
            raise ValueError(f"step_ns must divide {REFRESH_NS} or be a multiple of it")
        self.start_ns = start_ns
        self._step_ns = step_ns
        #: virtual time at which the next grid step takes effect
        self.next_step_ns = start_ns + step_ns
        #: grid steps taken so far
        self.step_count = 0
        self._steps_per_refresh = max(1, REFRESH_NS // step_ns)
        self._jump_probability = JUMPS_PER_DAY * step_ns / 86_400e9
        self._jump_steps = max(1, JUMP_NS // step_ns)
        self._index = {asset.asset_id: i for i, asset in enumerate(assets)}
        factors = [(i, AssetFactor(a, seed, step_ns)) for i, a in enumerate(assets) if a.asset_id != reference]
        self._trackers = [(i, f) for i, f in factors if f.follows_market]
        self._others = [(i, f) for i, f in factors if not f.follows_market]
        self._by_id = {factor.asset_id: factor for _, factor in factors}
        start = [math.log(a.initial_price_usd) for a in assets]
        #: the last ``HISTORY_STEPS`` values of ``log_usd``, a ring indexed by ``step_count % HISTORY_STEPS``
        self.history = [list(start) for _ in range(HISTORY_STEPS)]
        self.log_usd = self.history[0]
        self._rng = random.Random(stable_seed(seed, "market-factor"))
        regime_rng = random.Random(stable_seed(seed, "market-regime"))
        self._market = MarketRegime(regime_rng, start_ns, max(step_ns, REFRESH_NS))
        #: the regime's multipliers (copied here: the hot paths read them once per event)
        self.vol_scale = self._market.vol_scale
        self.activity = self._market.activity
        self._steps_to_jump = self._draw_jump_wait()

    def index(self, asset_id: str) -> int:
        """Position of the asset in ``log_usd``; KeyError if unknown."""
        return self._index[asset_id]

    def factor(self, asset_id: str) -> AssetFactor | None:
        """The asset's factor (to set scenario multipliers), or None for the reference currency or an unknown id."""
        return self._by_id.get(asset_id)

    def lagged(self, steps: int) -> list[float]:
        """``log_usd`` as it was ``steps`` grid steps ago (0 <= steps < ``HISTORY_STEPS``; the start before that)."""
        return self.history[(self.step_count - steps) % HISTORY_STEPS]

    def jump(self, asset_id: str, log_return: float, time_ns: int) -> None:
        """Scenario hook: move the asset's USD log-price by ``log_return`` at ``time_ns`` (shared by every venue)."""
        factor = self._by_id[asset_id]
        self.step_to(time_ns)
        factor.log_price += log_return
        self.log_usd[self._index[asset_id]] = factor.log_price

    def step_to(self, time_ns: int) -> None:
        """Step the grid until it covers ``time_ns`` (no-op if it already does); times must not go backwards."""
        next_step_ns = self.next_step_ns
        if next_step_ns > time_ns:
            return
        gauss, history, trackers, others = self._rng.gauss, self.history, self._trackers, self._others
        step, steps_to_jump = self.step_count, self._steps_to_jump
        step_ns, steps_per_refresh = self._step_ns, self._steps_per_refresh
        while next_step_ns <= time_ns:
            step += 1
            if step % steps_per_refresh == 0:
                self._refresh(next_step_ns)
            shock = gauss(0.0, 1.0)
            vol_scale = self.vol_scale
            log_usd = history[step % HISTORY_STEPS]
            for i, factor in trackers:
                factor.step(shock, vol_scale)
                log_usd[i] = factor.log_price
            for i, factor in others:
                factor.step(shock, 1.0)
                log_usd[i] = factor.log_price
            steps_to_jump -= 1
            if not steps_to_jump:
                steps_to_jump = self._co_jump()
            next_step_ns += step_ns
        self.step_count, self._steps_to_jump, self.next_step_ns = step, steps_to_jump, next_step_ns
        self.log_usd = history[step % HISTORY_STEPS]

    def _refresh(self, time_ns: int) -> None:
        market = self._market
        market.refresh(time_ns)
        self.vol_scale = market.vol_scale
        self.activity = market.activity

    def _co_jump(self) -> int:
        """Start a jump of every crypto asset at once; returns the steps to the next co-jump."""
        market_jump = self._rng.gauss(0.0, 1.0)
        for _, factor in self._trackers:
            factor.jump(market_jump, self._jump_steps)
        self._market.kick(abs(market_jump))
        return self._draw_jump_wait()

    def _draw_jump_wait(self) -> int:
        """Grid steps to the next co-jump."""
        return geometric_wait(self._rng, self._jump_probability)


class PricerHandover(NamedTuple):
    """A ``SymbolPricer``'s parameters and state, as its C twin (simulator/csrc/price.c) takes them over."""

    base: int
    quote: int
    lag: int
    kind: int
    is_call: bool
    ticks: float
    sd: float
    decay_per_ns: float
    mean: float
    basis: float
    premium: float
    premium_sd: float
    premium_decay_per_ns: float
    carry_per_ns: float
    strike: float
    vol: float
    mid: float
    last_ns: int
    expiry_ns: int
    valid_until_ns: int


class SymbolPricer:
    """One symbol's fair mid in ticks: the (lagged) factor ratio times ``1 + premium + basis``, with carry or
    option value.

    Premium and basis are Ornstein-Uhlenbeck processes updated exactly over the time since the previous refresh,
    so the result does not depend on how often it is asked, only on the times at which it is asked.
    """

    __slots__ = (
        "_base",
        "_carry_per_ns",
        "_decay_per_ns",
        "_expiry_ns",
        "_is_call",
        "_kind_code",
        "_lag",
        "_last_ns",
        "_mean",
        "_mid",
        "_premium_decay_per_ns",
        "_premium_sd",
        "_quote",
        "_rng",
        "_sd",
        "_strike",
        "_ticks",
        "_valid_until_ns",
        "_vol",
        "basis",
        "premium",
    )

    def __init__(
        self,
        symbol: Symbol,
        factors: PriceFactors,
        base: Asset,
        rng: random.Random,
        start_ns: int,
        lag_steps: int = 0,
    ) -> None:
        if not 0 <= lag_steps <= MAX_LAG_STEPS:
            raise ValueError(f"lag_steps must be within 0..{MAX_LAG_STEPS}")
        self._rng = rng
        self._base = factors.index(symbol.asset_id_base)
        self._quote = factors.index(symbol.asset_id_quote)
        self._ticks = 10.0**symbol.price_decimals
        self._kind_code = _KIND_CODES[symbol.symbol_type]
        #: grid steps by which this venue sees the factors late
        self._lag = lag_steps
        # the fast basis: 4-8 % of a typical minute's move, half-life 1-5 virtual seconds; small enough that
        # venues' 1-minute returns correlate at 0.95-0.99 (Makarov, Schoar 2020)
        self._sd = rng.uniform(0.04, 0.08) * base.volatility * math.sqrt(60.0 / _YEAR_S)
        self._decay_per_ns = math.log(2.0) / (rng.uniform(1.0, 5.0) * 1e9)
        #: the venue's slow premium: 1-4 bp around its mean, half-life 1-6 virtual hours; perpetuals trade at
        #: a small funding premium, the rest around zero
        self._premium_sd = rng.uniform(1e-4, 4e-4)
        self._premium_decay_per_ns = math.log(2.0) / (rng.uniform(1.0, 6.0) * 3600e9)
        self._mean = rng.uniform(-2e-4, 6e-4) if symbol.symbol_type is SymbolType.PERPETUAL else 0.0
        self.premium = self._mean + rng.uniform(-1.0, 1.0) * self._premium_sd
        #: current fast relative deviation from the factor ratio and the premium
        self.basis = rng.uniform(-1.0, 1.0) * self._sd
        self._last_ns = start_ns
        self._expiry_ns = symbol.expiry_ns if symbol.expiry_ns is not None else start_ns
        # futures: contango of 4-12 % a year until delivery
        self._carry_per_ns = rng.uniform(0.04, 0.12) / (_YEAR_S * 1e9)
        self._strike = symbol.option_strike if symbol.option_strike is not None else 0.0
        self._is_call = bool(symbol.option_is_call)
        self._vol = base.volatility
        self._mid = 0.0
        self._valid_until_ns = start_ns

    def handover(self) -> PricerHandover:
        """Everything a C twin needs to carry on from here."""
        return PricerHandover(
            self._base,
            self._quote,
            self._lag,
            self._kind_code,
            self._is_call,
            self._ticks,
            self._sd,
            self._decay_per_ns,
            self._mean,
            self.basis,
            self.premium,
            self._premium_sd,
            self._premium_decay_per_ns,
            self._carry_per_ns,
            self._strike,
            self._vol,
            self._mid,
            self._last_ns,
            self._expiry_ns,
            self._valid_until_ns,
        )

    def fair_mid_ticks(self, time_ns: int, factors: PriceFactors) -> float:
        """The fair mid at ``time_ns`` in ticks (a float). Times must not go backwards.

        Premium and basis move at most once per ``BASIS_REFRESH_NS``, and the result is reused until the next
        factor step or refresh: cheap for busy symbols, and still a function of the times it is asked at only.
        ``factors`` must already be stepped to ``time_ns``.
        """
        if time_ns < self._valid_until_ns:
            return self._mid
        dt_ns = time_ns - self._last_ns
        if dt_ns >= BASIS_REFRESH_NS:
            self._last_ns = time_ns
            random = self._rng.random
            # uniform noise with unit variance: these need the right scale, not a Gaussian shape, and one uniform
            # draw is several times cheaper than a Gaussian on this hot path
            decay = _exp(-self._decay_per_ns * dt_ns)
            noise = (random() - 0.5) * _SQRT12
            self.basis = self.basis * decay + self._sd * factors.vol_scale * _sqrt(1.0 - decay * decay) * noise
            decay = _exp(-self._premium_decay_per_ns * dt_ns)
            noise = (random() - 0.5) * _SQRT12
            mean = self._mean
            self.premium = mean + (self.premium - mean) * decay + self._premium_sd * _sqrt(1.0 - decay * decay) * noise
        refresh_ns = self._last_ns + BASIS_REFRESH_NS
        next_step_ns = factors.next_step_ns
        self._valid_until_ns = refresh_ns if refresh_ns < next_step_ns else next_step_ns
        log_usd = factors.lagged(self._lag)
        spot = _exp(log_usd[self._base] - log_usd[self._quote])
        deviation = 1.0 + self.premium + self.basis
        code = self._kind_code
        if code == _LINEAR:
            mid = spot * deviation * self._ticks
        elif code == _FUTURE:
            mid = spot * (deviation + self._carry_per_ns * max(0, self._expiry_ns - time_ns)) * self._ticks
        else:
            value = _black_scholes(spot, self._strike, self._expiry_ns - time_ns, self._vol, self._is_call)
            mid = value * deviation * self._ticks
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
