"""``coinapi-emulator symbols``: the catalogue a server would list, filtered, without starting one.

The full ``/v1/symbols`` is ~3 MB of JSON; this answers "what is BTC called on Kraken, and which futures are
there" in a line each. It builds the catalogue exactly as ``serve`` does from the same ``--seed``,
``--exchanges``, ``--max-symbols-per-exchange`` and ``--start-time`` (flags or ``COINAPI_EMULATOR_*`` variables).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from typing import Any

import click
import orjson

from coinapi_emulator.server.cli.options import catalogue_options
from coinapi_emulator.simulator.catalog import Symbol, SymbolType, catalog_for_start

_TYPES = [symbol_type.value for symbol_type in SymbolType]


def select(symbols: Iterable[Symbol], *, exchanges: set[str], assets: set[str], types: set[str]) -> list[Symbol]:
    """The symbols on one of ``exchanges``, with one of ``assets`` as base or quote, of one of ``types`` (an
    empty set does not filter)."""
    return [
        symbol
        for symbol in symbols
        if (not exchanges or symbol.exchange_id in exchanges)
        and (not assets or {symbol.asset_id_base, symbol.asset_id_quote} & assets)
        and (not types or symbol.symbol_type.value in types)
    ]


def describe(symbol: Symbol) -> dict[str, Any]:
    """A symbol's id, type, assets, precisions and (derivatives) expiry, strike and contract unit."""
    row: dict[str, Any] = {
        "symbol_id": symbol.symbol_id,
        "symbol_type": symbol.symbol_type.value,
        "asset_id_base": symbol.asset_id_base,
        "asset_id_quote": symbol.asset_id_quote,
        "symbol_id_exchange": symbol.symbol_id_exchange,
        "price_precision": 10.0**-symbol.price_decimals,
        "size_precision": 10.0**-symbol.size_decimals,
    }
    if symbol.expiry_ns is not None:
        row["expiry"] = dt.datetime.fromtimestamp(symbol.expiry_ns / 1e9, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if symbol.option_strike is not None:
        row["strike"] = symbol.option_strike
        row["option_type"] = "CALL" if symbol.option_is_call else "PUT"
    if symbol.contract_unit is not None:
        row["contract_unit"] = f"{symbol.contract_unit:g} {symbol.contract_unit_asset}"
    return row


def table(rows: list[dict[str, Any]]) -> str:
    """Rows as aligned text columns (the keys of the widest rows), a header first."""
    columns = list(dict.fromkeys(key for row in rows for key in row))
    cells = [columns] + [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() for line in cells
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return f"{value:g}" if isinstance(value, float) else str(value)


@click.command("symbols")
@click.option("--exchange", "exchange_ids", multiple=True, help="Only this exchange id (repeatable), e.g. KRAKEN.")
@click.option("--asset", "asset_ids", multiple=True, help="Only symbols with this asset as base or quote (repeatable).")
@click.option(
    "--type",
    "symbol_types",
    multiple=True,
    type=click.Choice(_TYPES, case_sensitive=False),
    help="Only this type (repeatable).",
)
@click.option("--format", "output", type=click.Choice(["table", "json"]), default="table", show_default=True)
@catalogue_options
def symbols_command(**options: Any) -> None:
    """List the symbols a server with these flags would serve (no server needed)."""
    start_ns = options["start_time"] if options["start_time"] is not None else time.time_ns()
    catalog = catalog_for_start(
        start_ns,
        exchanges=options["exchanges"],
        max_symbols_per_exchange=options["max_symbols_per_exchange"],
        seed=options["seed"],
    )
    chosen = select(
        catalog.symbols,
        exchanges={exchange.upper() for exchange in options["exchange_ids"]},
        assets={asset.upper() for asset in options["asset_ids"]},
        types={kind.upper() for kind in options["symbol_types"]},
    )
    rows = [describe(symbol) for symbol in chosen]
    if options["output"] == "json":
        click.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    elif rows:
        click.echo(table(rows))
    else:
        raise click.UsageError("no symbol matches these filters")
