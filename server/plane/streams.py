"""Stream numbering and stamping: what makes a market event a CoinAPI message, whoever receives it.

Sequences: one counter per (type, symbol_id), shared by all connections (PROTOCOL.md §4.2, docs/ARCHITECTURE.md
"Sequence numbers"), counted whether or not anyone listens, so that what a client sees never depends on other
clients. ``time_coinapi``: the real time of sending on the wall clock at speed 1, else the event's time plus a
small delay derived from that time, so that a virtual-clock run is reproducible to the byte.

The feed writes these counters; the snapshots read them (a book snapshot carries the book stream's sequence).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from coinapi_emulator.server.plane.codec import ReferenceCodec, SymbolCodec
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.routes import RouteKey
from coinapi_emulator.simulator.catalog import Symbol

_SEQUENCE_LIMIT = 2**31 - 1  # PROTOCOL.md §4.2: some SDKs parse sequence as a signed 32-bit int
#: the streams counted per symbol here (ohlcv is counted by the market: ``Bar.sequence``)
COUNTED = (DataType.TRADE, DataType.QUOTE, DataType.BOOK, DataType.BOOK5, DataType.BOOK20, DataType.BOOK50)


def simulated_time_coinapi(time_exchange_ns: int) -> int:
    """``time_coinapi`` of an event on a virtual clock: its time plus a 0.5-5 ms "network" delay derived from the
    time itself, so that a run is reproducible to the byte."""
    return time_exchange_ns + 500_000 + (time_exchange_ns * 2654435761 >> 11) % 4_500_000


def wire_sequence(count: int) -> int:
    """The ``sequence`` of a stream's ``count``-th message: 1 to 2**31 - 1, then 1 again (PROTOCOL.md §4.2)."""
    return (count - 1) % _SEQUENCE_LIMIT + 1


class Channel:
    """One symbol's encoder, route keys, message counters, and which of its streams have subscribers."""

    __slots__ = ("codec", "counts", "keys", "listened", "next_slow_book_ns", "symbol_id")

    def __init__(self, codec: ReferenceCodec) -> None:
        self.codec = codec
        self.symbol_id = codec.symbol_id
        self.keys: dict[DataType, RouteKey] = {data_type: (data_type, codec.symbol_id) for data_type in COUNTED}
        #: messages so far per stream: ``wire_sequence`` of a count is the last message's sequence. The initial
        #: book is message 1 of the book stream, so a snapshot taken before any change has sequence 1.
        self.counts: dict[DataType, int] = dict.fromkeys(COUNTED, 0)
        self.counts[DataType.BOOK] = 1
        #: streams with at least one subscriber (the hub's interest notes); the others are only counted
        self.listened: set[DataType] = set()
        #: book20 and book50 go out together, on the first change at least a virtual second after the last
        #: one that did (PROTOCOL.md §3.4)
        self.next_slow_book_ns = 0


def channels_of(symbols: Iterable[Symbol]) -> dict[str, Channel]:
    """A channel per symbol, by symbol id."""
    return {symbol.symbol_id: Channel(SymbolCodec(symbol)) for symbol in symbols}


class Stamper:
    """``time_coinapi`` of the messages published now.

    ``live``: the real time of sending (speed 1 on the wall clock, where latency figures mean something), read
    once per publishing pass (``refresh``) rather than per message; otherwise ``simulated_time_coinapi``.
    """

    __slots__ = ("_epoch_ns", "_live", "_now_epoch_ns")

    def __init__(self, *, live: bool, epoch_ns: Callable[[], int] = time.time_ns) -> None:
        self._live = live
        self._epoch_ns = epoch_ns
        self._now_epoch_ns = epoch_ns()

    def refresh(self) -> None:
        """Read the wall clock for the messages about to be published."""
        self._now_epoch_ns = self._epoch_ns()

    def stamp(self, time_exchange_ns: int) -> int:
        """The ``time_coinapi`` of a message about an event at ``time_exchange_ns``."""
        if self._live:
            return max(self._now_epoch_ns, time_exchange_ns)
        return simulated_time_coinapi(time_exchange_ns)
