"""Binance's public trade files (data.binance.vision, github.com/binance/binance-public-data): ``trades`` and
``aggTrades``, daily or monthly, one symbol a file named ``BTCUSDT-trades-2024-01-01.zip`` (or the ``.csv`` in it).

* Spot files have no header: ``id,price,qty,quoteQty,time,isBuyerMaker,isBestMatch`` (trades) and
  ``aggId,price,qty,firstId,lastId,time,isBuyerMaker,isBestMatch`` (aggTrades), booleans ``True``/``False``.
  ``time`` is ms since the epoch, µs in files from 2025-01-01 on: told apart by its digits (16 for µs).
* USD-M futures files have a header (``id,price,qty,quote_qty,time,is_buyer_maker`` and
  ``agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker``), lowercase booleans,
  ms; their symbols are BINANCEFTS perpetuals. Older futures files without a header read as spot: name their
  symbol with ``--symbol-id``.

Every row is a ``trade``: the taker sold when the buyer was the maker. Binance's time is the only one, so it is
both ``time_exchange`` and ``time_coinapi``; the uuid derives from the trade id (aggTrades: the aggregate id).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import chain
from typing import Final

from coinapi_emulator.server.replay.formats.rows import Imported, ImportFailed, SymbolNames, number, stamps, trade_uuid

#: ``BTCUSDT-trades-2024-01-01.csv``: the symbol and the kind of trades
FILE_NAME: Final = re.compile(r"([A-Z0-9]+)-(trades|aggTrades)-\d{4}-\d{2}(?:-\d{2})?(?:\.csv)?(?:\.zip|\.gz)?")
FUTURES_TRADES: Final = ["id", "price", "qty", "quote_qty", "time", "is_buyer_maker"]
FUTURES_AGG_TRADES: Final = [
    "agg_trade_id", "price", "quantity", "first_trade_id", "last_trade_id", "transact_time", "is_buyer_maker",
]  # fmt: skip
#: (column of the time, of is_buyer_maker) per kind of file
_COLUMNS: Final = {"trades": (4, 5), "aggTrades": (5, 6)}
_BUYER_MAKER: Final = {"True": True, "true": True, "False": False, "false": False}


def matches(name: str) -> bool:
    """Whether a file named ``name`` is one of Binance's trade files."""
    return FILE_NAME.fullmatch(name) is not None


def has_header(first_row: list[str]) -> bool:
    """Whether the first row is a futures file's header rather than a trade."""
    return first_row in (FUTURES_TRADES, FUTURES_AGG_TRADES)


def read(rows: Iterator[list[str]], first_row: list[str], name: str, names: SymbolNames) -> Iterator[Imported]:
    """The trades of a file named ``name``; ``first_row`` is its first row (a header or a trade)."""
    found = FILE_NAME.fullmatch(name)
    assert found is not None  # matches() said so
    exchange_symbol, kind = found[1], found[2]
    futures = has_header(first_row)
    exchange_id, symbol_kind = ("BINANCEFTS", "PERP") if futures else ("BINANCE", "SPOT")
    symbol_id = names.symbol_id(exchange_id, symbol_kind, exchange_symbol, name)
    source = f"binance:{exchange_id}:{exchange_symbol}:{kind}"
    time_column, maker_column = _COLUMNS[kind]
    start, data = (2, rows) if futures else (1, chain([first_row], rows))
    for line, row in enumerate(data, start=start):
        where = f"{name} line {line}"
        if len(row) <= maker_column:
            raise ImportFailed(f"{where}: {len(row)} columns, not a Binance {kind} row")
        time_ns = _time_ns(row[time_column], where)
        buyer_maker = _BUYER_MAKER.get(row[maker_column])
        if buyer_maker is None:
            raise ImportFailed(f"{where}: is_buyer_maker {row[maker_column]!r} is not True or False")
        fields = {
            **stamps(time_ns, time_ns),
            "uuid": trade_uuid(source, row[0]),
            "price": number(row[1], where),
            "size": number(row[2], where),
            "taker_side": "SELL" if buyer_maker else "BUY",
        }
        yield Imported(time_ns, "trade", symbol_id, fields)


def _time_ns(text: str, where: str) -> int:
    if not text.isdigit():
        raise ImportFailed(f"{where}: time {text!r} is not a number of ms or µs since the epoch")
    # 16 digits: µs (spot files from 2025-01-01); 13: ms
    return int(text) * (1000 if len(text) >= 16 else 1_000_000)
