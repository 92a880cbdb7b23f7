"""Stream numbering and stamping: what makes a market event a CoinAPI message, whoever receives it.

Sequences: one counter per (type, symbol_id), shared by all connections (PROTOCOL.md §4.2, docs/ARCHITECTURE.md
"Sequence numbers"), counted whether or not anyone listens, so that what a client sees never depends on other
clients. ``time_coinapi``: the real time of sending on the wall clock at speed 1, else the event's time plus a
small delay derived from that time, so that a virtual-clock run is reproducible to the byte.

The feed writes these counters; the snapshots read them (a book snapshot carries the book stream's sequence).

``book_l3``: the market is L2, so a symbol's order book (``simulator/orders.py``) exists only while its
``book_l3`` route has subscribers. The first subscription's snapshot starts it from the L2 book of that moment
(``Channel.follow_orders``); the feed then hands it every trade and book change of the symbol, and drops it when
the last subscriber leaves. Its ids and choices are drawn from (seed, symbol, that moment), so a run that
subscribes at the same virtual time gets the same bytes, and a symbol nobody follows costs nothing. Its messages
are numbered as the ``book`` stream: the update of a book change has the sequence of that change's ``book``
message, a snapshot the sequence of the last one, whoever listens.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from coinapi_emulator.server.plane.codec import ReferenceCodec, SymbolCodec
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.encode import OrderBookEncoder
from coinapi_emulator.server.protocol.routes import RouteKey
from coinapi_emulator.server.transport.frames import text_frame
from coinapi_emulator.simulator.catalog import Symbol
from coinapi_emulator.simulator.market import Market
from coinapi_emulator.simulator.orders import OrderBook, OrderBookDelta

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


class OrderStream:
    """A followed symbol's order book and its ``book_l3`` encoder."""

    __slots__ = ("book", "encoder")

    def __init__(self, book: OrderBook, encoder: OrderBookEncoder) -> None:
        self.book = book
        self.encoder = encoder

    def snapshot_frame(self, sequence: int, time_exchange_ns: int, time_coinapi_ns: int) -> bytes:
        """Every order now, in a text frame."""
        book = self.book
        return text_frame(self.encoder.snapshot(book.asks(), book.bids(), sequence, time_exchange_ns, time_coinapi_ns))

    def update_frame(self, update: OrderBookDelta, sequence: int, time_coinapi_ns: int) -> bytes:
        """The orders ``update`` changed, in a text frame."""
        return text_frame(self.encoder.update(update, sequence, time_coinapi_ns))


class Channel:
    """One symbol's encoder, route keys, message counters, which of its streams have subscribers, and its order
    book while anyone follows it."""

    __slots__ = ("codec", "counts", "keys", "listened", "next_slow_book_ns", "orders", "symbol_id")

    def __init__(self, codec: ReferenceCodec) -> None:
        self.codec = codec
        self.symbol_id = codec.symbol_id
        self.keys: dict[DataType, RouteKey] = {
            data_type: (data_type, codec.symbol_id) for data_type in (*COUNTED, DataType.BOOK_L3)
        }
        #: messages so far per stream: ``wire_sequence`` of a count is the last message's sequence. The initial
        #: book is message 1 of the book stream, so a snapshot taken before any change has sequence 1.
        self.counts: dict[DataType, int] = dict.fromkeys(COUNTED, 0)
        self.counts[DataType.BOOK] = 1
        #: streams with at least one subscriber (the hub's interest notes); the others are only counted
        self.listened: set[DataType] = set()
        #: book20 and book50 go out together, on the first change at least a virtual second after the last
        #: one that did (PROTOCOL.md §3.4)
        self.next_slow_book_ns = 0
        #: the symbol's order book while its ``book_l3`` route has subscribers (see the module docstring)
        self.orders: OrderStream | None = None

    def follow_orders(self, market: Market) -> OrderStream:
        """The symbol's order stream, started from the market's book now if nobody follows it yet."""
        orders = self.orders
        if orders is None:
            codec = self.codec
            encoder = OrderBookEncoder(self.symbol_id, codec.price, codec.size)
            orders = self.orders = OrderStream(market.order_book(self.symbol_id), encoder)
        return orders


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
