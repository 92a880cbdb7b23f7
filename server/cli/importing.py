"""``coinapi-emulator import``: the command line of ``server/replay/importer.py``.

Exit codes: 0 the recording is written, 2 bad arguments or a file that cannot be imported (the message names the
file and line; nothing is left at ``--out``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from coinapi_emulator.server.cli.options import env_option, recording_out_option
from coinapi_emulator.server.replay.formats.rows import SymbolNames
from coinapi_emulator.server.replay.importer import ImportFailed, import_files


def symbol_names(entries: Sequence[str]) -> SymbolNames:
    """``--symbol-id`` values: ``EXCHANGE_SYMBOL=COINAPI_ID`` each, or one bare ``COINAPI_ID`` for every symbol."""
    given: dict[str, str] = {}
    bare = [entry for entry in entries if "=" not in entry]
    if len(bare) > 1:
        raise click.BadParameter(f"only one bare id (for files of one symbol), got {', '.join(bare)}")
    for entry in entries:
        exchange_symbol, found, symbol_id = entry.partition("=")
        if found and not (exchange_symbol and symbol_id):
            raise click.BadParameter(f"{entry!r} is not EXCHANGE_SYMBOL=COINAPI_ID, e.g. BTCUSDT=BINANCE_SPOT_BTC_USDT")
        if found:
            given[exchange_symbol] = symbol_id
    return SymbolNames(given, bare[0] if bare else None)


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@recording_out_option
@env_option(
    "--symbol-id",
    "symbol_ids",
    multiple=True,
    help="CoinAPI's id of a symbol the files name their own way: BTCUSDT=BINANCE_SPOT_BTC_USDT (repeatable), or "
    "just the id when the files hold one symbol. Default: derived for the exchanges and quote assets it knows.",
)
def import_command(files: tuple[Path, ...], out: Path, symbol_ids: tuple[str, ...]) -> None:
    """Make a recording of market-data files for serve --replay: Tardis.dev CSV (trades, quotes,
    incremental_book_L2, book_snapshot_N), data.binance.vision trades and aggTrades, CoinAPI flat files (trades,
    quotes), CoinAPI JSON (WebSocket messages a line, REST history arrays). Several files merge by the time they
    were received."""
    names = symbol_names(symbol_ids)
    try:
        summary = import_files(files, out, names)
    except ImportFailed as error:
        raise click.UsageError(str(error)) from None
    click.echo(f"wrote {out}: {summary.line()}", err=True)
