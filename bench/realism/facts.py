"""Stylised facts measured on a ``Tape``: pure numpy, no I/O. Each ``Fact`` says what it measures, on which
symbols, the range real markets show and where that range comes from (``docs/REALISM.md`` lists them)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from bench.realism.tape import DAYS, NS_PER_S, Floats, SymbolTape, Tape, by_day

BTC: Final = "BINANCE_SPOT_BTC_USDT"
BTC_COINBASE: Final = "COINBASE_SPOT_BTC_USD"
ETH: Final = "BINANCE_SPOT_ETH_USDT"
#: BTC's configured annualised volatility (simulator/assets.py)
BTC_VOLATILITY: Final = 0.55
MINUTE_S: Final = 60
YEAR_S: Final = 365.0 * 86_400.0
LEAD_LAG_S: Final = 5


@dataclass(frozen=True)
class Fact:
    """One stylised fact: how to measure it on a tape, and the range real markets show."""

    key: str
    label: str
    measure: Callable[[Tape], float]
    low: float
    high: float
    reference: str
    source: str
    #: how to print a measured value
    fmt: str = "{:.2f}"

    def passes(self, value: float) -> bool:
        """Whether ``value`` lies in the real-market range (NaN never does)."""
        return self.low <= value <= self.high


# -- series on a time grid ------------------------------------------------------------------------------------


def bins(tape: Tape, step_s: float) -> np.ndarray:
    """The bin edges (ns) of the whole run at ``step_s`` seconds."""
    step_ns = int(step_s * NS_PER_S)
    count = int(tape.hours * 3600 / step_s)
    return tape.start_ns + step_ns * np.arange(1, count + 1, dtype=np.int64)


def mids_at(symbol: SymbolTape, edges: np.ndarray) -> Floats:
    """The mid price in force at each edge (the last quote at or before it; NaN before the first quote)."""
    index = np.searchsorted(symbol.quote_t, edges, side="right") - 1
    mids = (symbol.bid + symbol.ask) / 2.0
    out = np.where(index >= 0, mids[np.clip(index, 0, None)], np.nan)
    return np.asarray(out, dtype=np.float64)


def log_returns(prices: Floats) -> Floats:
    """Log returns between consecutive prices."""
    return np.asarray(np.diff(np.log(prices)), dtype=np.float64)


def binned_sum(t: np.ndarray, values: Floats, start_ns: int, step_s: float, count: int) -> Floats:
    """The sum of ``values`` in each of ``count`` bins of ``step_s`` from ``start_ns``."""
    index = (t - start_ns) // int(step_s * NS_PER_S)
    keep = (index >= 0) & (index < count)
    return np.bincount(index[keep], weights=values[keep], minlength=count).astype(np.float64)


def acf(x: Floats, lag: int) -> float:
    """Autocorrelation of ``x`` at ``lag`` (NaN where undefined)."""
    if lag >= len(x) - 1:
        return math.nan
    return corr(x[:-lag], x[lag:])


def corr(x: Floats, y: Floats) -> float:
    """Pearson correlation over the pairs where both are finite (NaN if either is constant)."""
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.std(x) == 0.0 or np.std(y) == 0.0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def minute_returns(tape: Tape, symbol_id: str) -> Floats:
    """1-minute log returns of a symbol's mid."""
    return log_returns(mids_at(tape.symbols[symbol_id], bins(tape, MINUTE_S)))


# -- the measures ---------------------------------------------------------------------------------------------


def flow_price_r2(tape: Tape) -> float:
    """R² of 1 s mid returns on 1 s signed traded volume (BTC on Binance)."""
    symbol = tape.symbols[BTC]
    edges = bins(tape, 1)
    returns = log_returns(mids_at(symbol, edges))
    signed = binned_sum(symbol.trade_t, symbol.trade_sign * symbol.trade_size, tape.start_ns, 1, len(edges))
    return corr(signed[1:], returns) ** 2


def imbalance_and_next_move(symbol: SymbolTape) -> tuple[Floats, Floats]:
    """For each mid move: the L1 queue imbalance (bid - ask) / (bid + ask) of the quote before it, and the move's
    sign."""
    moves = np.sign(np.diff((symbol.bid + symbol.ask) / 2.0))
    imbalance = (symbol.bid_size - symbol.ask_size) / (symbol.bid_size + symbol.ask_size)
    moved = moves != 0
    return imbalance[:-1][moved], moves[moved]


def imbalance_hit_rate(symbol: SymbolTape) -> float:
    """Share of mid moves in the direction of the L1 queue imbalance just before them."""
    imbalance, moves = imbalance_and_next_move(symbol)
    before = np.sign(imbalance)
    counted = before != 0
    return float(np.mean(moves[counted] == before[counted])) if counted.any() else math.nan


def one_tick_spread_share(symbol: SymbolTape) -> float:
    """Share of quotes whose spread is one tick."""
    ticks = np.rint((symbol.ask - symbol.bid) / symbol.tick)
    return float(np.mean(ticks == 1))


def depth_within(symbol: SymbolTape, bp: float) -> Floats:
    """Quote-currency value resting within ``bp`` basis points of the mid, both sides, in each book sample."""
    out = []
    for bids, asks in symbol.books:
        if not len(bids) or not len(asks):
            continue
        mid = (bids[0, 0] + asks[0, 0]) / 2.0
        near_bids = bids[bids[:, 0] >= mid * (1 - bp / 1e4)]
        near_asks = asks[asks[:, 0] <= mid * (1 + bp / 1e4)]
        out.append(float((near_bids[:, 0] * near_bids[:, 1]).sum() + (near_asks[:, 0] * near_asks[:, 1]).sum()))
    return np.array(out, dtype=np.float64)


def depth_profile(symbol: SymbolTape, levels: int = 20) -> Floats:
    """Mean size of the n-th level from the touch (both sides averaged) over the book samples."""
    sizes = [side[:levels, 1] for sample in symbol.books for side in sample if len(side) >= levels]
    return np.mean(np.array(sizes), axis=0) if sizes else np.full(levels, np.nan)


def hump_level(symbol: SymbolTape) -> float:
    """The level (1 = the touch) with the largest mean size among the first 20."""
    profile = depth_profile(symbol)
    return math.nan if np.isnan(profile).all() else float(np.nanargmax(profile) + 1)


def round_lot_share(symbol: SymbolTape) -> float:
    """Share of trades whose size has at most two significant digits (0.5, 0.01, 1.2, 25)."""
    lots = np.rint(symbol.trade_size / symbol.lot).astype(np.int64)
    significant = np.array([len(str(n).rstrip("0")) for n in lots])
    return float(np.mean(significant <= 2)) if len(lots) else math.nan


def sign_acf(symbol: SymbolTape, lag: int) -> float:
    """Autocorrelation of the trade signs at ``lag`` trades."""
    return acf(symbol.trade_sign, lag)


def volume_volatility_corr(tape: Tape) -> float:
    """Correlation of the 1-minute trade count with the absolute 1-minute return (BTC on Binance)."""
    symbol = tape.symbols[BTC]
    returns = minute_returns(tape, BTC)
    counts = binned_sum(symbol.trade_t, np.ones(len(symbol.trade_t)), tape.start_ns, MINUTE_S, len(returns) + 1)
    return corr(counts[1:], np.abs(returns))


def realized_volatility(tape: Tape) -> float:
    """Annualised realised volatility of ``DAILY_ASSET``'s USD factor from its 1-minute returns over the whole
    factor span: the long run the configuration describes (a few days say little when volatility has a memory
    of days)."""
    returns = tape.factor_minutes
    return float(math.sqrt(np.sum(returns**2) * YEAR_S / (len(returns) * MINUTE_S)))


def lead_lag_ccf(tape: Tape, lags: range) -> dict[int, float]:
    """Correlation of Binance's 1 s BTC return with Coinbase's ``lag`` seconds later, for each lag."""
    edges = bins(tape, 1)
    leader = log_returns(mids_at(tape.symbols[BTC], edges))
    follower = log_returns(mids_at(tape.symbols[BTC_COINBASE], edges))
    out = {}
    for lag in lags:
        if lag >= 0:
            out[lag] = corr(leader[: len(leader) - lag], follower[lag:])
        else:
            out[lag] = corr(leader[-lag:], follower[: len(follower) + lag])
    return out


def lead_lag_strength(tape: Tape) -> float:
    """How much of the venues' co-movement comes at a delay: the larger one-sided sum of the cross-correlation
    over 1-5 s minus the other side, over the same-second correlation."""
    ccf = lead_lag_ccf(tape, range(-LEAD_LAG_S, LEAD_LAG_S + 1))
    ahead = sum(ccf[k] for k in range(1, LEAD_LAG_S + 1))
    behind = sum(ccf[-k] for k in range(1, LEAD_LAG_S + 1))
    return abs(ahead - behind) / ccf[0] if ccf[0] else math.nan


def hourly_trades(tape: Tape, symbol_id: str = BTC) -> Floats:
    """Trades in each hour of the run."""
    symbol = tape.symbols[symbol_id]
    hours = int(tape.hours)
    return binned_sum(symbol.trade_t, np.ones(len(symbol.trade_t)), tape.start_ns, 3600, hours)


def intraday_ratio(tape: Tape) -> float:
    """Busiest over quietest UTC hour of the day in the market's expected trading (its activity), averaged over the
    factor's days (which start at midnight UTC)."""
    days = by_day(tape.factor_activity)
    if len(days) == 0:
        return math.nan
    profile = days.reshape(len(days), 24, 60).mean(axis=(0, 2))
    return float(profile.max() / profile.min())


def weekend_ratio(tape: Tape) -> float:
    """Expected trading (the market's activity) at weekends over weekdays, across the factor's days (which start on
    a Friday)."""
    daily = by_day(tape.factor_activity).mean(axis=1)
    weekend = np.isin(np.arange(len(daily)) % 7, (1, 2))  # Saturday and Sunday
    if not weekend.any() or weekend.all():
        return math.nan
    return float(daily[weekend].mean() / daily[~weekend].mean())


def excess_kurtosis(x: Floats) -> float:
    """Excess kurtosis (0 for a normal distribution)."""
    x = x[np.isfinite(x)]
    if len(x) < 4 or x.std() == 0.0:
        return math.nan
    z = (x - x.mean()) / x.std()
    return float(np.mean(z**4) - 3.0)


def hill_tail_index(x: Floats, tail: float = 0.025) -> float:
    """Hill's estimate of the tail index of ``|x|`` from its largest ``tail`` share."""
    values = np.sort(np.abs(x[np.isfinite(x)]))[::-1]
    k = max(int(len(values) * tail), 10)
    top = values[: k + 1]
    if len(top) <= k or top[k] <= 0:
        return math.nan
    return float(1.0 / np.mean(np.log(top[:k] / top[k])))


def _btc_minute(tape: Tape) -> Floats:
    return minute_returns(tape, BTC)


FACTS: Final = (
    Fact(
        "flow_price",
        "order flow -> price: R² of 1 s mid return on 1 s signed volume (BTC, Binance)",
        flow_price_r2,
        0.3,
        0.7,
        "order-flow imbalance explains 30-70% of return variance",
        "Cont, Kukanov, Stoikov 2014",
    ),
    Fact(
        "imbalance",
        "book imbalance -> next mid move: share in the imbalance's direction (BTC, Binance)",
        lambda tape: imbalance_hit_rate(tape.symbols[BTC]),
        0.60,
        0.75,
        "60-75%",
        "Gould, Bonart 2016",
    ),
    Fact(
        "spread",
        "share of quotes with a one-tick spread (BTC, Binance)",
        lambda tape: one_tick_spread_share(tape.symbols[BTC]),
        0.5,
        1.0,
        "1 tick most of the time",
        "Binance BTC/USDT book, tick 0.01 USDT",
    ),
    Fact(
        "depth",
        "median value within 10 bp of the mid, both sides, USD (BTC, Binance)",
        lambda tape: float(np.median(depth_within(tape.symbols[BTC], 10))),
        2e6,
        math.inf,
        "several $M",
        "Kaiko market depth research (BTC-USDT, Binance, 2023-2024)",
        "{:,.0f}",
    ),
    Fact(
        "hump",
        "largest mean level size among the first 20: its level (1 = touch) (BTC, Binance)",
        lambda tape: hump_level(tape.symbols[BTC]),
        2,
        10,
        "a hump a few ticks out",
        "Bouchaud, Mézard, Potters 2002",
        "{:.0f}",
    ),
    Fact(
        "round_lots",
        "share of trades with a round size (2 significant digits at most) (BTC, Binance)",
        lambda tape: round_lot_share(tape.symbols[BTC]),
        0.25,
        1.0,
        "round lots most common",
        "Alexander, Peterson 2007 (trade-size clustering)",
    ),
    Fact(
        "largest_trade",
        "largest trade, USD (BTC, Binance)",
        lambda tape: float(np.max(tape.symbols[BTC].trade_price * tape.symbols[BTC].trade_size)),
        1e6,
        math.inf,
        "$1M+ prints",
        "exchange trade tapes",
        "{:,.0f}",
    ),
    Fact(
        "sign_memory",
        "trade-sign autocorrelation at lag 100 (BTC, Binance)",
        lambda tape: sign_acf(tape.symbols[BTC], 100),
        0.05,
        1.0,
        "> 0.05 at lag 100 (power law)",
        "Lillo, Farmer 2004",
        "{:.3f}",
    ),
    Fact(
        "volume_volatility",
        "correlation of 1-min trade count with |1-min return| (BTC, Binance)",
        volume_volatility_corr,
        0.5,
        0.7,
        "+0.5 to +0.7",
        "Cont 2001",
    ),
    Fact(
        "volatility_memory",
        f"autocorrelation of |1-min return| at a 6 h lag (BTC's USD factor, {DAYS} days)",
        lambda tape: acf(np.abs(tape.factor_minutes), 360),
        0.05,
        1.0,
        "slow power-law decay over days",
        "Cont 2001",
        "{:.3f}",
    ),
    Fact(
        "realized_volatility",
        f"annualised realised volatility from 1-min returns (BTC's USD factor, {DAYS} days; configured 0.55)",
        realized_volatility,
        BTC_VOLATILITY * 0.85,
        BTC_VOLATILITY * 1.15,
        "as configured (±15%)",
        "simulator/assets.py",
    ),
    Fact(
        "btc_eth",
        "correlation of 1-min returns, BTC and ETH (Binance)",
        lambda tape: corr(_btc_minute(tape), minute_returns(tape, ETH)),
        0.7,
        0.9,
        "~0.8",
        "Kaiko and Coin Metrics correlation research",
    ),
    Fact(
        "venues",
        "correlation of 1-min returns, BTC on Binance and Coinbase",
        lambda tape: corr(_btc_minute(tape), minute_returns(tape, BTC_COINBASE)),
        0.95,
        0.99,
        "0.95-0.99",
        "Makarov, Schoar 2020",
        "{:.3f}",
    ),
    Fact(
        "lead_lag",
        "lead-lag: one-sided cross-correlation of 1 s returns over 1-5 s, over the same-second one (BTC)",
        lead_lag_strength,
        0.2,
        math.inf,
        "price discovery led by a few venues",
        "Brandvold et al. 2015; Makarov, Schoar 2020",
    ),
    Fact(
        "intraday",
        f"busiest over quietest UTC hour, expected trades (the market's activity, {DAYS} days)",
        intraday_ratio,
        2.0,
        3.0,
        "daily cycle 2-3x",
        "Eross et al. 2019; Kaiko intraday volume",
    ),
    Fact(
        "weekend",
        f"expected trades an hour at weekends over weekdays (the market's activity, {DAYS} days)",
        weekend_ratio,
        0.6,
        0.7,
        "weekends 30-40% lower",
        "Kaiko weekend volume reports",
    ),
    Fact(
        "tails",
        "excess kurtosis of 1-min returns (BTC, Binance)",
        lambda tape: excess_kurtosis(_btc_minute(tape)),
        3.0,
        math.inf,
        "heavy tails (excess kurtosis well above 0)",
        "Cont 2001",
    ),
    Fact(
        "daily_tails",
        f"excess kurtosis of daily returns (BTC's USD factor, {DAYS} days)",
        lambda tape: excess_kurtosis(tape.daily_returns),
        5.0,
        10.0,
        "5-10",
        "Cont 2001; BTC daily returns 2018-2024",
    ),
    Fact(
        "tail_index",
        "tail index of |1-min returns|, Hill estimator on the top 2.5% (BTC, Binance)",
        lambda tape: hill_tail_index(_btc_minute(tape)),
        2.0,
        4.0,
        "2-4 (inverse cubic law)",
        "Gopikrishnan et al. 1999; Cont 2001",
    ),
    Fact(
        "no_linear_memory",
        "autocorrelation of 1-min returns at lag 1 (BTC, Binance)",
        lambda tape: acf(_btc_minute(tape), 1),
        -0.05,
        0.05,
        "about 0",
        "Cont 2001",
        "{:.3f}",
    ),
    Fact(
        "volatility_clustering",
        "autocorrelation of |1-min return| at lag 1 (BTC, Binance)",
        lambda tape: acf(np.abs(_btc_minute(tape)), 1),
        0.1,
        0.5,
        "0.1-0.5, positive",
        "Cont 2001",
        "{:.3f}",
    ),
)
