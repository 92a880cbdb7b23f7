"""The report's plots, one PNG each, drawn from the tapes of every seed (matplotlib's ``Figure`` without pyplot,
as in its web-server example: no backend or display to choose)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from bench.realism import facts
from bench.realism.tape import Tape

AGGREGATION_MIN: Final = (1, 5, 15, 60, 240)
EPPS_S: Final = (1, 2, 5, 15, 30, 60, 300)
VOLATILITY_LAGS: Final = (1, 2, 5, 10, 30, 60, 120, 360, 720, 1440)
FACTOR_VOLATILITY_LAGS: Final = (*VOLATILITY_LAGS, 2880, 7200, 14400)

Draw = Callable[[Axes, Sequence[Tape]], None]


def return_tails(ax: Axes, tapes: Sequence[Tape]) -> None:
    """Excess kurtosis of BTC returns against their time scale: real markets' tails thin out slowly."""
    for tape in tapes:
        edges = facts.bins(tape, facts.MINUTE_S)
        mids = facts.mids_at(tape.symbols[facts.BTC], edges)
        kurtosis = [facts.excess_kurtosis(facts.log_returns(mids[::step])) for step in AGGREGATION_MIN]
        ax.plot(AGGREGATION_MIN, kurtosis, marker="o", label=f"seed {tape.seed}")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set(xscale="log", xlabel="return horizon (minutes)", ylabel="excess kurtosis", title="Return tails by scale")


def volatility_memory(ax: Axes, tapes: Sequence[Tape]) -> None:
    """Autocorrelation of |1-min return| by lag: BTC's factor over years (solid), Binance's BTC over the run
    (dashed)."""
    for tape in tapes:
        years = np.abs(tape.factor_minutes)
        (line,) = ax.plot(
            FACTOR_VOLATILITY_LAGS,
            [facts.acf(years, lag) for lag in FACTOR_VOLATILITY_LAGS],
            marker="o",
            label=f"seed {tape.seed}, factor, {len(tape.daily_returns)} days",
        )
        run = np.abs(facts.minute_returns(tape, facts.BTC))
        ax.plot(
            VOLATILITY_LAGS,
            [facts.acf(run, lag) for lag in VOLATILITY_LAGS],
            linestyle="--",
            color=line.get_color(),
            label=f"seed {tape.seed}, Binance, {tape.hours:g} h",
        )
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.set(xscale="log", xlabel="lag (minutes)", ylabel="ACF of |return|", title="Volatility memory")


def epps_curve(ax: Axes, tapes: Sequence[Tape]) -> None:
    """Correlation of BTC returns on Binance and Coinbase by sampling interval (the Epps effect)."""
    for tape in tapes:
        values = []
        for step in EPPS_S:
            edges = facts.bins(tape, step)
            one = facts.log_returns(facts.mids_at(tape.symbols[facts.BTC], edges))
            two = facts.log_returns(facts.mids_at(tape.symbols[facts.BTC_COINBASE], edges))
            values.append(facts.corr(one, two))
        ax.plot(EPPS_S, values, marker="o", label=f"seed {tape.seed}")
    ax.set(xscale="log", xlabel="sampling interval (s)", ylabel="correlation", title="Epps curve, Binance-Coinbase BTC")


def lead_lag(ax: Axes, tapes: Sequence[Tape]) -> None:
    """Cross-correlation of 1 s BTC returns, Binance leading Coinbase by the lag."""
    lags = range(-10, 11)
    for tape in tapes:
        ccf = facts.lead_lag_ccf(tape, lags)
        ax.plot(list(lags), [ccf[lag] for lag in lags], marker="o", label=f"seed {tape.seed}")
    ax.set(xlabel="Coinbase lags Binance by (s)", ylabel="correlation", title="Lead-lag, 1 s returns")


def depth_profile(ax: Axes, tapes: Sequence[Tape]) -> None:
    """Mean resting size by distance from the touch, in levels."""
    for tape in tapes:
        profile = facts.depth_profile(tape.symbols[facts.BTC])
        ax.plot(range(1, len(profile) + 1), profile, marker="o", label=f"seed {tape.seed}")
    ax.set(xlabel="level (1 = touch)", ylabel="mean size (BTC)", title="Depth profile, BTC Binance")


def imbalance(ax: Axes, tapes: Sequence[Tape]) -> None:
    """Share of next mid moves upward, by L1 queue imbalance decile."""
    edges = np.linspace(-1, 1, 11)
    for tape in tapes:
        before, moved = facts.imbalance_and_next_move(tape.symbols[facts.BTC])
        bucket = np.clip(np.digitize(before, edges) - 1, 0, 9)
        up = [np.mean(moved[bucket == b] > 0) if (bucket == b).any() else np.nan for b in range(10)]
        ax.plot((edges[:-1] + edges[1:]) / 2, up, marker="o", label=f"seed {tape.seed}")
    ax.axhline(0.5, color="grey", linewidth=0.8)
    ax.set(
        xlabel="L1 imbalance (bid - ask) / (bid + ask)", ylabel="P(next mid move up)", title="Imbalance -> next move"
    )


def intraday(ax: Axes, tapes: Sequence[Tape]) -> None:
    """Trades an hour through the run (a Friday, then the weekend)."""
    for tape in tapes:
        ax.plot(facts.hourly_trades(tape), label=f"seed {tape.seed}")
    ax.set(xlabel="hours from Friday 00:00 UTC", ylabel="trades per hour", title="Activity over the run, BTC Binance")


PLOTS: Final[dict[str, Draw]] = {
    "return_tails": return_tails,
    "volatility_memory": volatility_memory,
    "epps": epps_curve,
    "lead_lag": lead_lag,
    "depth_profile": depth_profile,
    "imbalance": imbalance,
    "intraday": intraday,
}


def draw_all(tapes: Sequence[Tape], folder: Path) -> list[Path]:
    """Every plot of ``PLOTS`` as ``folder/NAME.png``; the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, draw in PLOTS.items():
        figure = Figure(figsize=(6.4, 4.0), dpi=100, layout="tight")
        ax = figure.subplots()
        draw(ax, tapes)
        ax.legend()
        ax.grid(alpha=0.3)
        path = folder / f"{name}.png"
        figure.savefig(path)
        written.append(path)
    return written
