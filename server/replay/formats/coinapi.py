"""CoinAPI's flat files (docs.coinapi.io, "Flat Files"): ``T-TRADES`` and ``T-QUOTES``, one symbol a file under
``.../E-EXCHANGE/IDDI-...+SC-<symbol id>+S-<exchange symbol>.csv.gz``.

Semicolon-separated with a header, read by column name (CoinAPI's documents and its files list them in different
orders): trades ``time_exchange;time_coinapi;guid;price;base_amount;taker_side`` (newer files add exchange ids),
quotes ``time_exchange;time_coinapi;ask_px;ask_sx;bid_px;bid_sx``. Times are ISO 8601 with 7 fractional
digits and no zone (UTC). The symbol id comes from the ``SC-`` part of the file name, else ``--symbol-id``.
``T-LIMITBOOK_FULL`` is not read: its times are times of day, and its columns are documented in two orders.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from coinapi_emulator.server.replay.formats.rows import Imported, ImportFailed, SymbolNames, iso_time, number, stamps

TRADES: Final = ("time_exchange", "time_coinapi", "guid", "price", "base_amount", "taker_side")
QUOTES: Final = ("time_exchange", "time_coinapi", "ask_px", "ask_sx", "bid_px", "bid_sx")
#: ``...+SC-BINANCE_SPOT_BTC_USDT+S-BTCUSDT.csv.gz``: CoinAPI's symbol id in a flat file's name
_SYMBOL_IN_NAME: Final = re.compile(r"\+SC-([A-Z0-9_.\-]+)\+S-")
_TAKER_SIDES: Final = frozenset({"BUY", "SELL", "BUY_ESTIMATED", "SELL_ESTIMATED", "UNKNOWN"})


def matches(header: list[str]) -> bool:
    """Whether a file's first row names the columns of a trades or quotes flat file."""
    return set(TRADES) <= set(header) or set(QUOTES) <= set(header)


def data_types(header: list[str]) -> list[str]:
    """The CoinAPI ``type`` of the messages a file with ``header`` gives."""
    return ["trade"] if set(TRADES) <= set(header) else ["quote"]


def read(rows: Iterator[list[str]], header: list[str], name: str, names: SymbolNames) -> Iterator[Imported]:
    """The trades or quotes of the rows after ``header`` in a file named ``name``."""
    found = _SYMBOL_IN_NAME.search(name)
    symbol_id = found[1] if found else names.symbol_id(None, "SPOT", name, name)
    columns = TRADES if set(TRADES) <= set(header) else QUOTES
    index = [header.index(column) for column in columns]
    for line, row in enumerate(rows, start=2):
        where = f"{name} line {line}"
        if len(row) < len(header):
            raise ImportFailed(f"{where}: {len(row)} columns, the header has {len(header)}")
        values = [row[i] for i in index]
        exchange_ns, coinapi_ns = iso_time(columns[0], values[0], where), iso_time(columns[1], values[1], where)
        if columns is TRADES:
            yield Imported(coinapi_ns, "trade", symbol_id, _trade(values, exchange_ns, coinapi_ns, where))
        else:
            yield Imported(coinapi_ns, "quote", symbol_id, _quote(values, exchange_ns, coinapi_ns, where))


def _trade(values: list[str], exchange_ns: int, coinapi_ns: int, where: str) -> dict[str, object]:
    if values[5] not in _TAKER_SIDES:
        raise ImportFailed(f"{where}: taker_side {values[5]!r} is not one of {', '.join(sorted(_TAKER_SIDES))}")
    return {
        **stamps(exchange_ns, coinapi_ns),
        "uuid": values[2],
        "price": number(values[3], where),
        "size": number(values[4], where),
        "taker_side": values[5],
    }


def _quote(values: list[str], exchange_ns: int, coinapi_ns: int, where: str) -> dict[str, object]:
    return {
        **stamps(exchange_ns, coinapi_ns),
        "ask_price": number(values[2], where),
        "ask_size": number(values[3], where),
        "bid_price": number(values[4], where),
        "bid_size": number(values[5], where),
    }
