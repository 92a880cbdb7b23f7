"""``docs/REALISM.md``: the table of facts for every seed, the plots, and the parameters with their sources."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from bench.realism.facts import FACTS, Fact
from bench.realism.tape import CATALOG, START_NS, SYMBOLS, Tape
from coinapi_emulator.simulator import book, flow, price, regime

INTRO = """# Realism

How close the simulated market comes to real crypto markets, fact by fact. Written by `make realism`
(`python -m bench.realism`): it runs seeded markets for a span of virtual time, measures each stylised fact on
what they produced, and compares it with the range real markets show. A fact passes when every seed's value lies
in that range. This file is generated: edit `bench/realism/` instead.
"""

PLOT_TITLES = {
    "return_tails": "Return tails and aggregation",
    "volatility_memory": "Volatility memory",
    "epps": "Epps curve across venues",
    "lead_lag": "Lead-lag across venues",
    "depth_profile": "Depth profile",
    "imbalance": "Imbalance -> next move",
    "intraday": "Activity over time",
}


def _value(fact: Fact, value: float) -> str:
    return "n/a" if math.isnan(value) else fact.fmt.format(value)


def _range(fact: Fact) -> str:
    if math.isinf(fact.high):
        return f">= {fact.fmt.format(fact.low)}"
    return f"{fact.fmt.format(fact.low)} to {fact.fmt.format(fact.high)}"


def table(tapes: Sequence[Tape], values: dict[str, list[float]]) -> list[str]:
    """The facts table: one row a fact, one column a seed, the real range, its source and pass or fail."""
    seeds = " | ".join(f"seed {tape.seed}" for tape in tapes)
    lines = [f"| fact | {seeds} | real markets | pass range | source | |", "|---" * (len(tapes) + 5) + "|"]
    for fact in FACTS:
        measured = values[fact.key]
        verdict = "pass" if all(fact.passes(v) for v in measured) else "**fail**"
        cells = " | ".join(_value(fact, v) for v in measured)
        label = fact.label.replace("|", "\\|")  # |return| would end the cell
        lines.append(f"| {label} | {cells} | {fact.reference} | {_range(fact)} | {fact.source} | {verdict} |")
    return lines


def write(
    tapes: Sequence[Tape], values: dict[str, list[float]], plots: Sequence[Path], path: Path, *, command: str, date: str
) -> None:
    """Write the report to ``path``; ``plots`` are linked relative to it."""
    passed = sum(all(fact.passes(v) for v in values[fact.key]) for fact in FACTS)
    hours = tapes[0].hours
    lines = [
        INTRO,
        f"Run on {date} with `{command}`: seeds {', '.join(str(t.seed) for t in tapes)}, {hours:g} virtual hours each "
        f"from {_iso(START_NS)} (a Friday, so the run holds a weekday and a weekend), on the catalogue of the "
        f"{CATALOG.exchanges} biggest venues with at most {CATALOG.max_symbols_per_exchange} symbols each; measured on "
        f"{', '.join(SYMBOLS)}; daily returns over {len(tapes[0].daily_returns)} days.",
        "",
        f"**{passed} of {len(FACTS)} facts pass.**",
        "",
        *table(tapes, values),
        "",
        "## Plots",
        "",
    ]
    for plot in plots:
        lines += [
            f"### {PLOT_TITLES.get(plot.stem, plot.stem)}",
            "",
            f"![{plot.stem}]({plot.relative_to(path.parent).as_posix()})",
            "",
        ]
    lines += _method()
    lines += _parameters()
    path.write_text("\n".join(lines), encoding="utf-8")


def _iso(ns: int) -> str:
    import datetime

    return datetime.datetime.fromtimestamp(ns / 1e9, tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _method() -> list[str]:
    return [
        "## How each fact is measured",
        "",
        "Mid prices are sampled on a regular grid (the last quote at or before each instant); returns are log "
        "returns between grid points. Sizes are in base units, values in the quote currency (USD or USDT). "
        "Book samples are taken every virtual minute, 100 levels a side.",
        "",
        *[f"- **{fact.key}**: {fact.label}. Real markets: {fact.reference} ({fact.source})." for fact in FACTS],
        "",
        "The flow fact uses signed traded volume, as measured when the issue was filed; Cont, Kukanov and Stoikov's "
        "order-flow imbalance (from changes at the best quotes) explains more of the variance than traded volume "
        "does, so this is the stricter reading.",
        "",
        "Daily returns, the long-run volatility, the volatility's memory and the daily and weekly cycle of trading "
        "come from the asset's USD factor and the market's regime alone, stepped over six years as the BTC "
        "record the references use: the process the market's symbols follow (a factor depends on the seed, the "
        "shared market shock and its own generator only), on a 10 s grid instead of the market's 100 ms. The "
        "variance per unit of time, the jumps' rate and the regime are the same on both grids; only moves within "
        "10 s are lumped together. The cycle is read from the regime's activity, the multiplier of every "
        "symbol's trade rate, so it is the expected number of trades. A few days say little about these facts: a "
        "fat-tailed daily kurtosis settles only over years, the volatility's slowest components hardly move "
        "within one run, and one stress episode in a run's three days decides its busiest hour and its weekend "
        "(the activity plot shows the run's own hours).",
        "",
    ]


def _parameters() -> list[str]:
    """The model's parameters, read from the simulator itself so the table cannot drift from the code."""
    half_lives = ", ".join(f"{_duration(h)} (sd {sd:g})" for h, sd in regime.COMPONENTS)
    rows = [
        (
            "common log-variance components: half-life (stationary sd)",
            half_lives,
            "Cont 2001: volatility memory "
            "decays slowly over days; a sum of a few OU components stands in for the power law",
        ),
        (
            "daily cycle: busiest UTC hour, amplitude",
            f"{regime.BUSIEST_HOUR_UTC:g}:00, "
            f"{regime.DAILY_AMPLITUDE:g} (busiest / quietest {_cycle_ratio(regime.DAILY_AMPLITUDE):.1f}x)",
            "Eross et al. 2019; Kaiko intraday volume",
        ),
        ("weekend activity, share of a weekday's", f"{regime.WEEKEND_SHARE:g}", "Kaiko weekend volume reports"),
        (
            "stress episodes: per day, half-life, share of the variance (exponential sizes)",
            f"{regime.BURSTS_PER_DAY:g}, {_duration(regime.BURST_HALF_LIFE_S)}, {regime.BURST_VARIANCE_SHARE:g}",
            "Barndorff-Nielsen, Shephard 2001 (OU volatility driven by jumps); calibrated here on daily kurtosis",
        ),
        (
            "activity ~ exp(k x fast component): k",
            f"{regime.ACTIVITY_EXPONENT:g}",
            "Clark 1973; Ané, Geman 2000: variance follows the number of trades",
        ),
        (
            "co-jumps: per day, share of each asset's variance, duration, volatility kick per sigma of the jump",
            f"{price.JUMPS_PER_DAY:g}, {price.JUMP_VARIANCE_SHARE:g}, {price.JUMP_NS / 60e9:g} min, "
            f"x{math.exp(regime.JUMP_KICK / 2):.1f}",
            "Catania, Sandholdt 2019; Saef et al. 2021: intraday jumps on most days; the share calibrated here",
        ),
        (
            "follower venues' delay: 0 at activity 1, up to",
            f"{price.MAX_LAG_STEPS * price.STEP_NS / 1e9:g} s",
            "Brandvold et al. 2015; Makarov, Schoar 2020",
        ),
        (
            "metaorders: share of trades, length tail index",
            f"{flow.METAORDER_SHARE:g}, {flow.RUN_TAIL:g}",
            "Lillo, Mike, Farmer 2005; the share calibrated here with the racers (sign memory)",
        ),
        (
            "trade sizes: Pareto tail index, share rounded to one digit",
            f"{flow.SIZE_TAIL:g}, {flow.ROUND_SHARE:g}",
            "Alexander, Peterson 2007; the share calibrated here with the racers (round lots)",
        ),
        ("Hawkes branching ratio of trade arrivals", f"{flow.BRANCHING_RATIO:g}", "Filimonov, Sornette 2012"),
        (
            "book: resting size profile (peak level, height over the touch), dense levels near the touch",
            f"level {book.HUMP_DEPTH + 1:g}, x{1 + book.HUMP_HEIGHT:g}; one tick apart on liquid symbols, "
            f"sparser over {book.DENSE_DEPTH} levels",
            "Bouchaud, Mezard, Potters 2002",
        ),
        (
            "book: resting sizes, Pareto tail index and cap (in units of the level's size scale)",
            f"{book.LEVEL_SIZE_TAIL:g}, {book.LEVEL_SIZE_CAP:g}",
            "Bouchaud, Mezard, Potters 2002 (heavy-tailed resting volumes); calibrated here on the largest print",
        ),
        (
            "book: the touch queue the fair price heads for thins from this share of the half-spread",
            f"{book.LEAN_START:g}",
            "Stoikov 2018 (the micro-price)",
        ),
        (
            "book: share of the gap to the fair price one repricing closes (makers re-quote in steps)",
            f"{book.CATCH_UP:g}",
            "calibrated here: imbalance -> next move (Gould, Bonart 2016)",
        ),
        (
            "racers to stale quotes: a run of z steps' volatility wins with odds z x activity / RACE_Z; order size",
            f"RACE_Z {flow.RACE_Z:g}; {flow.RACE_SIZE:g} typical trades, limited at the fair price",
            "Budish, Cramton, Shim 2015; Kyle 1985; calibrated here: order flow -> price",
        ),
    ]
    return [
        "## Model parameters",
        "",
        "Read from `simulator/` when this file was written. Asset volatilities and correlations with the common "
        "factor are in `simulator/assets.py`.",
        "",
        "| parameter | value | source |",
        "|---|---|---|",
        *[f"| {name} | {value} | {source} |" for name, value, source in rows],
        "",
    ]


def _duration(seconds: float) -> str:
    if seconds >= 86_400:
        return f"{seconds / 86_400:g} d"
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min"


def _cycle_ratio(amplitude: float) -> float:
    return (1 + amplitude) / (1 - amplitude)
