"""Order-book history for REST: a symbol's book when it is first watched, then every change the feed published.

Keeping a snapshot per change would cost gigabytes an hour for the catalogue; a delta costs about 80 bytes. A
snapshot at any retained time is rebuilt on request: the base book, then the deltas up to that time. When deltas
leave the window they are applied to the base, so the base is always the book at the window's start.

Even deltas are too many to keep for every symbol (~380 MB an hour, and the market's pace at ``--speed max``
halved), and book history is what clients ask for least. So a symbol's changes are kept once it is *watched*:
from the first REST request for its book, or the first subscription to one of its book streams.
"""

from __future__ import annotations

import heapq
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

from coinapi_emulator.simulator.book import Book
from coinapi_emulator.simulator.events import BookDelta, Level

#: the evicted prefix of a symbol's delta data is deleted once it is this long and half the data
_COMPACT_AT: Final = 4096


@dataclass(frozen=True, slots=True)
class BookSnapshot:
    """The book right after a published change: its best levels, and the change's times."""

    time_exchange_ns: int
    time_coinapi_ns: int
    asks: tuple[Level, ...]
    bids: tuple[Level, ...]


class _SymbolBook:
    """One symbol's base book and the deltas since, as ``[n_asks, n_bids, price, size, ...]`` records."""

    __slots__ = ("asks", "bids", "data", "dropped", "index", "start")

    def __init__(self, book: Book) -> None:
        #: the base book: the book as it stands before the retained deltas
        self.asks = {level.price_ticks: level.size_lots for level in book.asks()}
        self.bids = {level.price_ticks: level.size_lots for level in book.bids()}
        self.data = array("q")
        #: per delta: time_exchange, time_coinapi, offset of its record in ``data`` (counting ``dropped``)
        self.index = array("q")
        #: index rows before ``start`` were applied to the base
        self.start = 0
        #: entries deleted from the front of ``data``
        self.dropped = 0

    def record(self, delta: BookDelta, time_coinapi_ns: int) -> None:
        data = self.data
        self.index.extend((delta.time_exchange_ns, time_coinapi_ns, len(data) + self.dropped))
        data.extend((len(delta.asks), len(delta.bids)))
        for level in delta.asks:
            data.extend((level.price_ticks, level.size_lots))
        for level in delta.bids:
            data.extend((level.price_ticks, level.size_lots))

    def rows(self) -> range:
        return range(self.start, len(self.index) // 3)

    def time(self, row: int) -> int:
        return self.index[row * 3]

    def apply(self, row: int, asks: dict[int, int], bids: dict[int, int]) -> None:
        """Apply delta ``row`` to the two sides."""
        data, at = self.data, self.index[row * 3 + 2] - self.dropped
        n_asks, n_bids = data[at], data[at + 1]
        at += 2
        for side, count in ((asks, n_asks), (bids, n_bids)):
            for _ in range(count):
                price, size = data[at], data[at + 1]
                at += 2
                if size:
                    side[price] = size
                else:
                    side.pop(price, None)

    def forget_before(self, time_ns: int) -> None:
        """Fold the deltas older than ``time_ns`` into the base book."""
        rows = self.rows()
        cut = next((row for row in rows if self.time(row) >= time_ns), rows.stop)
        for row in range(self.start, cut):
            self.apply(row, self.asks, self.bids)
        self.start = cut
        self._compact()

    def _compact(self) -> None:
        if self.start * 2 < len(self.index) // 3 or self.start < _COMPACT_AT // 3:
            return
        live = self.start < len(self.index) // 3
        first = self.index[self.start * 3 + 2] if live else len(self.data) + self.dropped
        del self.data[: first - self.dropped]
        self.dropped = first
        del self.index[: self.start * 3]
        self.start = 0


class BookHistory:
    """Every symbol's retained book changes; ``book_of`` gives the live book when a symbol first changes."""

    def __init__(self, book_of: Callable[[str], Book]) -> None:
        self._book_of = book_of
        self._symbols: dict[str, _SymbolBook] = {}
        self._watched: set[str] = set()

    def watch(self, symbol_id: str) -> None:
        """Keep the symbol's changes from now on (idempotent)."""
        self._watched.add(symbol_id)

    def record(self, delta: BookDelta, stamp: Callable[[int], int]) -> None:
        """Keep a published change of a watched symbol (the feed's hot path); ``stamp`` gives its ``time_coinapi``,
        asked only for a watched symbol's change."""
        if delta.symbol_id not in self._watched:
            return
        time_coinapi_ns = stamp(delta.time_exchange_ns)
        symbol = self._symbols.get(delta.symbol_id)
        if symbol is None:
            # the live book already shows this change: it becomes the base, and the change is kept as an empty
            # one, so that its snapshot is served too
            symbol = self._symbols[delta.symbol_id] = _SymbolBook(self._book_of(delta.symbol_id))
            delta = BookDelta(delta.symbol_id, delta.time_exchange_ns, (), ())
        symbol.record(delta, time_coinapi_ns)

    def forget_before(self, time_ns: int) -> None:
        """Fold what left the window into each symbol's base book."""
        for symbol in self._symbols.values():
            symbol.forget_before(time_ns)

    def snapshots(self, symbol_id: str, time_start_ns: int, time_end_ns: int, levels: int) -> Iterator[BookSnapshot]:
        """The book after each change with ``time_start <= time_exchange < time_end``, oldest first, ``levels``
        per side."""
        symbol = self._symbols.get(symbol_id)
        if symbol is None:
            return
        asks, bids = dict(symbol.asks), dict(symbol.bids)
        for row in symbol.rows():
            time_ns = symbol.time(row)
            if time_ns >= time_end_ns:
                return
            symbol.apply(row, asks, bids)
            if time_ns >= time_start_ns:
                best_asks, best_bids = _best(asks, levels, False), _best(bids, levels, True)
                yield BookSnapshot(time_ns, symbol.index[row * 3 + 1], best_asks, best_bids)


def _best(side: dict[int, int], levels: int, descending: bool) -> tuple[Level, ...]:
    prices = heapq.nlargest(levels, side) if descending else heapq.nsmallest(levels, side)
    return tuple(Level(price, side[price]) for price in prices)
