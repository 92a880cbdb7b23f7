"""Tardis.dev CSV datasets (docs.tardis.dev, "Downloadable CSV files"): ``trades``, ``quotes``,
``incremental_book_L2`` and ``book_snapshot_N``, one file per exchange, data type, day and symbol, as its
``datasets.tardis.dev`` download or the ``tardis-dev`` client writes them (``.csv.gz``, comma-separated, a header).

Times are µs since the epoch: ``timestamp`` the exchange's (empty or equal to ``local_timestamp`` when it gave
none), ``local_timestamp`` Tardis's receipt, which becomes ``time_coinapi`` and the recording's pacing.

* ``trades`` -> ``trade``: ``side`` is the taker's (``buy``, ``sell``, ``unknown``); the uuid derives from ``id``.
* ``quotes`` -> ``quote``; a row missing a side (an empty book side) is skipped.
* ``incremental_book_L2`` -> ``book``: the rows of one exchange message (one ``local_timestamp``) are one delta,
  a run of ``is_snapshot`` rows one snapshot; ``amount`` is the level's size, 0 deletes. Rows before a symbol's
  first snapshot are skipped, as Tardis advises: nothing to apply them to.
* ``book_snapshot_N`` -> ``book5`` (N <= 5), ``book20`` (N <= 20) or ``book50``: the top N levels every row.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any, Final

from coinapi_emulator.server.replay.formats.rows import (
    Imported,
    ImportFailed,
    SymbolNames,
    level,
    number,
    stamps,
    trade_uuid,
)

_COMMON: Final = ["exchange", "symbol", "timestamp", "local_timestamp"]
TRADES: Final = [*_COMMON, "id", "side", "price", "amount"]
QUOTES: Final = [*_COMMON, "ask_amount", "ask_price", "bid_price", "bid_amount"]
BOOK: Final = [*_COMMON, "is_snapshot", "side", "price", "amount"]
_SNAPSHOT_HEAD: Final = [*_COMMON, "asks[0].price", "asks[0].amount", "bids[0].price", "bids[0].amount"]
#: Tardis's exchange ids -> (CoinAPI's exchange id, the kind of its symbols whose ids can be derived)
EXCHANGES: Final = {
    "binance": ("BINANCE", "SPOT"),
    "binance-us": ("BINANCEUS", "SPOT"),
    "binance-futures": ("BINANCEFTS", "PERP"),
    "bitfinex": ("BITFINEX", "SPOT"),
    "bitstamp": ("BITSTAMP", "SPOT"),
    "bybit": ("BYBIT", "PERP"),
    "bybit-spot": ("BYBITSPOT", "SPOT"),
    "coinbase": ("COINBASE", "SPOT"),
    "crypto-com": ("CRYPTOCOM", "SPOT"),
    "gate-io": ("GATEIO", "SPOT"),
    "gemini": ("GEMINI", "SPOT"),
    "kraken": ("KRAKEN", "SPOT"),
    "kucoin": ("KUCOIN", "SPOT"),
    "okex": ("OKEX", "SPOT"),
}
_SIDES: Final = {"buy": "BUY", "sell": "SELL", "unknown": "UNKNOWN", "": "UNKNOWN"}


def matches(header: list[str]) -> bool:
    """Whether a file's first row is one of the headers read here."""
    return header in (TRADES, QUOTES, BOOK) or header[: len(_SNAPSHOT_HEAD)] == _SNAPSHOT_HEAD


def data_types(header: list[str]) -> list[str]:
    """The CoinAPI ``type`` of the messages a file with ``header`` gives."""
    if header == TRADES:
        return ["trade"]
    if header == QUOTES:
        return ["quote"]
    return ["book"] if header == BOOK else [_snapshot_type(header)]


def read(
    rows: Iterator[list[str]], header: list[str], name: str, names: SymbolNames, skipped: Counter[str]
) -> Iterator[Imported]:
    """The messages of the rows after ``header`` (``name``: the file, for messages)."""
    reader = _Reader(name, names)
    if header == TRADES:
        return (reader.trade(row, line) for line, row in enumerate(rows, start=2))
    if header == QUOTES:
        return _present(reader.quote(row, line, skipped) for line, row in enumerate(rows, start=2))
    if header == BOOK:
        return reader.book(rows, skipped)
    return (reader.snapshot(row, line, header) for line, row in enumerate(rows, start=2))


def _snapshot_type(header: list[str]) -> str:
    depth = (len(header) - len(_COMMON)) // 4
    return "book5" if depth <= 5 else "book20" if depth <= 20 else "book50"


def _present(messages: Iterator[Imported | None]) -> Iterator[Imported]:
    return (message for message in messages if message is not None)


class _Reader:
    """Row conversions of one file, with its symbols' ids cached."""

    def __init__(self, name: str, names: SymbolNames) -> None:
        self._name = name
        self._names = names
        self._ids: dict[tuple[str, str], str] = {}

    def trade(self, row: list[str], line: int) -> Imported:
        where = f"{self._name} line {line}"
        symbol_id, exchange_ns, local_ns = self._head(row, where)
        side = _SIDES.get(row[5])
        if side is None:
            raise ImportFailed(f"{where}: side {row[5]!r} is not buy, sell or unknown")
        trade_id = row[4] or f"{row[3]}:{line}"
        fields = {
            **stamps(exchange_ns, local_ns),
            "uuid": trade_uuid(f"tardis:{row[0]}:{row[1]}", trade_id),
            "price": number(row[6], where),
            "size": number(row[7], where),
            "taker_side": side,
        }
        return Imported(local_ns, "trade", symbol_id, fields)

    def quote(self, row: list[str], line: int, skipped: Counter[str]) -> Imported | None:
        where = f"{self._name} line {line}"
        symbol_id, exchange_ns, local_ns = self._head(row, where)
        if not all(row[4:8]):
            skipped["quotes with an empty side"] += 1
            return None
        fields = {
            **stamps(exchange_ns, local_ns),
            "ask_price": number(row[5], where),
            "ask_size": number(row[4], where),
            "bid_price": number(row[6], where),
            "bid_size": number(row[7], where),
        }
        return Imported(local_ns, "quote", symbol_id, fields)

    def snapshot(self, row: list[str], line: int, header: list[str]) -> Imported:
        where = f"{self._name} line {line}"
        symbol_id, exchange_ns, local_ns = self._head(row, where)
        if len(row) != len(header):
            raise ImportFailed(f"{where}: {len(row)} columns, the header has {len(header)}")
        cells = row[len(_COMMON) :]
        asks = [level(cells[i], cells[i + 1], where) for i in range(0, len(cells), 4) if cells[i]]
        bids = [level(cells[i + 2], cells[i + 3], where) for i in range(0, len(cells), 4) if cells[i + 2]]
        fields = {**stamps(exchange_ns, local_ns), "asks": asks, "bids": bids}
        return Imported(local_ns, _snapshot_type(header), symbol_id, fields)

    def book(self, rows: Iterator[list[str]], skipped: Counter[str]) -> Iterator[Imported]:
        """One ``book`` message per exchange message (a delta) or per run of snapshot rows (a snapshot)."""
        group: _BookGroup | None = None
        synced: set[str] = set()
        for line, row in enumerate(rows, start=2):
            where = f"{self._name} line {line}"
            symbol_id, exchange_ns, local_ns = self._head(row, where)
            is_snapshot = _flag(row[4], where)
            if not is_snapshot and symbol_id not in synced:
                skipped["book rows before the first snapshot"] += 1
                continue
            key = (symbol_id, is_snapshot, True if is_snapshot else local_ns)
            if group is None or group.key != key:
                if group is not None:
                    yield group.message()
                group = _BookGroup(key, symbol_id, is_snapshot, exchange_ns, local_ns)
                synced.add(symbol_id)
            group.add(row[5], row[6], row[7], where)
        if group is not None:
            yield group.message()

    def _head(self, row: list[str], where: str) -> tuple[str, int, int]:
        """(symbol id, exchange ns, local ns) of a row."""
        if len(row) < len(_COMMON) + 4:
            raise ImportFailed(f"{where}: {len(row)} columns, not the header's")
        key = (row[0], row[1])
        symbol_id = self._ids.get(key)
        if symbol_id is None:
            exchange_id, kind = EXCHANGES.get(row[0], (None, "SPOT"))
            symbol_id = self._ids[key] = self._names.symbol_id(exchange_id, kind, row[1], where)
        local_ns = _micros(row[3], where)
        return symbol_id, _micros(row[2], where) if row[2] else local_ns, local_ns


class _BookGroup:
    """The rows of one ``book`` message: the last size given to each price, per side."""

    def __init__(
        self, key: tuple[str, bool, Any], symbol_id: str, is_snapshot: bool, exchange_ns: int, local_ns: int
    ) -> None:
        self.key = key
        self._symbol_id = symbol_id
        self._is_snapshot = is_snapshot
        self._exchange_ns = exchange_ns
        self._local_ns = local_ns
        self._sides: dict[str, dict[Decimal, dict[str, Any]]] = {"ask": {}, "bid": {}}

    def add(self, side: str, price: str, amount: str, where: str) -> None:
        levels = self._sides.get(side)
        if levels is None:
            raise ImportFailed(f"{where}: side {side!r} is not bid or ask")
        entry = level(price, amount, where)
        if self._is_snapshot and not Decimal(amount):
            return  # a snapshot lists resting levels only
        levels[Decimal(price)] = entry

    def message(self) -> Imported:
        asks, bids = self._sides["ask"], self._sides["bid"]
        fields = {
            **stamps(self._exchange_ns, self._local_ns),
            "is_snapshot": self._is_snapshot,
            "asks": [asks[price] for price in sorted(asks)],
            "bids": [bids[price] for price in sorted(bids, reverse=True)],
        }
        return Imported(self._local_ns, "book", self._symbol_id, fields)


def _micros(text: str, where: str) -> int:
    if not text.isdigit():
        raise ImportFailed(f"{where}: {text!r} is not a time in µs since the epoch")
    return int(text) * 1000


def _flag(text: str, where: str) -> bool:
    if text not in ("true", "false"):
        raise ImportFailed(f"{where}: is_snapshot {text!r} is not true or false")
    return text == "true"
