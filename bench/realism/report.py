"""``docs/REALISM.md``: the table of facts for every seed, the plots, and the parameters with their sources."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from bench.realism.facts import FACTS, Fact
from bench.realism.tape import CATALOG, START_NS, SYMBOLS, Tape

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
        "Daily returns come from the asset's USD factor alone, stepped over the days: the same path the market's "
        "symbols follow (a factor depends on the seed, the shared market shock and its own generator only), at a "
        "fiftieth of the cost of running the whole market for months.",
        "",
    ]
