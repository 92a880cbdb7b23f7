"""Encoders: market events to CoinAPI JSON payloads, called once per event and never once per subscriber.

JSON is assembled from pre-built per-symbol fragments rather than through a generic serializer, because
(PROTOCOL.md §4.3) prices and sizes must be plain decimal tokens at the symbol's precision (no exponent, no
float artefacts), and because this is the hot path. Every string spliced in is a catalogue id or a formatted
number, none of which needs JSON escaping (catalogue ids are upper-case ASCII; see ``SymbolCodec``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from functools import cache

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.simulator.catalog import Symbol
from coinapi_emulator.simulator.events import Bar, BookDelta, Level, Quote, Trade
from coinapi_emulator.simulator.orders import Order, OrderBookDelta, OrderChange

#: PROTOCOL.md §3.9: the real service and every SDK spell it without the second "t". DO NOT FIX.
HEARTBEAT = b'{"type":"hearbeat"}'

_NS_PER_S = 1_000_000_000


#: Entries per memo of formatted tokens (a few hundred KB each at most).
_MEMO_SIZE = 4096


class _Memo(dict[int, str]):
    """``compute(key)`` memoised, read as ``memo[key]``; forgets everything when full.

    The encoders format the same tokens over and over within a few virtual seconds (the instants shared by a
    delta, its quote and its trades; a book's prices; the period bounds of every candle). A hit is a plain
    dict subscript in C, no Python frame: ``__missing__`` runs only on a miss. Clearing rather than evicting
    keeps that hit path free of bookkeeping.
    """

    __slots__ = ("_compute",)

    def __init__(self, compute: Callable[[int], str]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: int) -> str:
        if len(self) >= _MEMO_SIZE:
            self.clear()
        text = self[key] = self._compute(key)
        return text


def _bounded_memo(compute: Callable[[int], str]) -> Callable[[int], str]:
    """``compute`` memoised on its argument (see ``_Memo``), as a callable that is itself C code."""
    return _Memo(compute).__getitem__


#: "YYYY-MM-DDTHH:MM:SS." of a whole second since the epoch
_second_prefix = _bounded_memo(lambda second: time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second)))


def _iso_time(ns: int) -> str:
    # adding 10**7 and dropping the leading "1" zero-pads to seven digits, cheaper than a format spec
    return f"{_second_prefix(ns // _NS_PER_S)}{str(ns % _NS_PER_S // 100 + 10_000_000)[1:]}Z"


#: ``format_time(ns)``: ISO 8601 UTC with exactly seven fractional digits and ``Z`` (PROTOCOL.md §4.1).
format_time = _bounded_memo(_iso_time)


def format_fixed(units: int, decimals: int) -> str:
    """``units * 10**-decimals`` as a plain decimal token, trailing zeros dropped: (425, 2) -> ``4.25``."""
    return fixed_formatter(decimals)(units)


@cache  # one per precision in use: a handful
def fixed_formatter(decimals: int) -> Callable[[int], str]:
    """``format_fixed`` with ``decimals`` bound and memoised: the encoders' price and size tokens."""
    if decimals <= 0:
        factor = 10**-decimals
        return _bounded_memo(lambda units: str(units * factor))
    scale = 10**decimals

    def fixed(units: int) -> str:
        if units < 0:
            return "-" + fixed(-units)
        fraction = units % scale
        if fraction == 0:
            return str(units // scale)
        # adding ``scale`` and dropping the leading "1" zero-pads the fraction, cheaper than a format spec
        return f"{units // scale}.{str(fraction + scale)[1:]}".rstrip("0")

    return _bounded_memo(fixed)


def format_significant(value: float, digits: int = 10) -> str:
    """A float as a plain decimal token with ``digits`` significant digits (never an exponent)."""
    if value == 0 or not math.isfinite(value):
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def type_prefix(data_type: DataType) -> bytes:
    """How every payload of ``data_type`` that this module writes begins: ``{"type":"quote"``."""
    return f'{{"type":"{data_type.value}"'.encode()


def encode_exrate(asset_id_base: str, asset_id_quote: str, rate_type: str, time_ns: int, rate: float) -> bytes:
    """An ``exrate`` payload (PROTOCOL.md §3.7); it has no ``symbol_id`` and no ``sequence``."""
    return (
        f'{{"type":"exrate","asset_id_base":"{asset_id_base}","asset_id_quote":"{asset_id_quote}",'
        f'"rate_type":"{rate_type}","time":"{format_time(time_ns)}","rate":{format_significant(rate)}}}'
    ).encode()


def encode_reconnect(within_seconds: int, before_time_ns: int) -> bytes:
    """A ``reconnect`` notice (PROTOCOL.md §3.10)."""
    return (
        f'{{"type":"reconnect","within_seconds":{within_seconds},"before_time":"{format_time(before_time_ns)}"}}'
    ).encode()


class SymbolEncoder:
    """Encoders for one symbol's streams, with its id and precisions baked in once.

    The trade, quote and book-delta encoders run once per market event: they splice pre-built per-type heads
    and call the bound ``price``/``size`` formatters directly, since every attribute lookup and call counts here.
    The feed encodes with ``server/plane/codec.py``, which frames these payloads for the WebSocket (and has a C
    twin that writes payload and frame header in one pass).
    """

    __slots__ = ("_book_head", "_head", "_quote_head", "_trade_head", "price", "size", "symbol_id")

    def __init__(self, symbol: Symbol) -> None:
        self.symbol_id = symbol.symbol_id
        #: a price in ticks as its wire token
        self.price = fixed_formatter(symbol.price_decimals)
        #: a size in lots as its wire token
        self.size = fixed_formatter(symbol.size_decimals)
        self._head = {
            data_type: f'{{"type":"{data_type.value}","symbol_id":"{symbol.symbol_id}","sequence":'
            for data_type in DataType
            if data_type.is_symbol_stream
        }
        self._trade_head = self._head[DataType.TRADE]
        self._quote_head = self._head[DataType.QUOTE]
        self._book_head = self._head[DataType.BOOK]

    def trade(self, trade: Trade, sequence: int, time_coinapi_ns: int) -> bytes:
        """A ``trade`` payload (PROTOCOL.md §3.1)."""
        return f"{self._trade_head}{sequence},{self.trade_fields(trade, time_coinapi_ns)}}}".encode()

    def trade_fields(self, trade: Trade, time_coinapi_ns: int) -> str:
        """A trade's fields from ``time_exchange`` to ``taker_side``: the WebSocket's ``trade`` message and REST's
        trades both end with them."""
        # ``_value_`` is the plain instance field behind the ``value`` property, several times cheaper to read
        return (
            f'"time_exchange":"{format_time(trade.time_exchange_ns)}","time_coinapi":"{format_time(time_coinapi_ns)}",'
            f'"uuid":"{trade.uuid}","price":{self.price(trade.price_ticks)},"size":{self.size(trade.size_lots)},'
            f'"taker_side":"{trade.taker_side._value_}"'
        )

    def quote(self, quote: Quote, sequence: int, time_coinapi_ns: int) -> bytes:
        """A ``quote`` payload (PROTOCOL.md §3.2)."""
        return f"{self._quote_head}{sequence},{self.quote_fields(quote, time_coinapi_ns)}}}".encode()

    def quote_fields(self, quote: Quote, time_coinapi_ns: int) -> str:
        """A quote's fields from ``time_exchange`` to ``bid_size``: the WebSocket's ``quote`` message and REST's
        quotes both end with them."""
        price, size = self.price, self.size
        return (
            f'"time_exchange":"{format_time(quote.time_exchange_ns)}","time_coinapi":"{format_time(time_coinapi_ns)}",'
            f'"ask_price":{price(quote.ask_price_ticks)},"ask_size":{size(quote.ask_size_lots)},'
            f'"bid_price":{price(quote.bid_price_ticks)},"bid_size":{size(quote.bid_size_lots)}'
        )

    def book(
        self,
        data_type: DataType,
        asks: Iterable[Level],
        bids: Iterable[Level],
        sequence: int,
        time_exchange_ns: int,
        time_coinapi_ns: int,
        *,
        is_snapshot: bool | None = None,
    ) -> bytes:
        """A ``book`` (snapshot or delta, ``is_snapshot`` given) or ``book5/20/50`` payload (``is_snapshot`` None)."""
        snapshot_field = "" if is_snapshot is None else f'"is_snapshot":{"true" if is_snapshot else "false"},'
        return (
            f"{self._head[data_type]}{sequence},"
            f'"time_exchange":"{format_time(time_exchange_ns)}","time_coinapi":"{format_time(time_coinapi_ns)}",'
            f'{snapshot_field}"asks":[{self._levels(asks)}],"bids":[{self._levels(bids)}]}}'
        ).encode()

    def book_delta(self, delta: BookDelta, sequence: int, time_coinapi_ns: int) -> bytes:
        """An incremental ``book`` payload; a level with size 0 is a deletion (PROTOCOL.md §3.3).

        The same bytes as ``book(DataType.BOOK, ..., is_snapshot=False)``, spelled out because it runs per event.
        """
        return (
            f"{self._book_head}{sequence},"
            f'"time_exchange":"{format_time(delta.time_exchange_ns)}","time_coinapi":"{format_time(time_coinapi_ns)}",'
            f'"is_snapshot":false,"asks":[{self._levels(delta.asks)}],"bids":[{self._levels(delta.bids)}]}}'
        ).encode()

    def bar(self, bar: Bar, sequence: int) -> bytes:
        """An ``ohlcv`` payload (PROTOCOL.md §3.6)."""
        return f'{self._head[DataType.OHLCV]}{sequence},"period_id":"{bar.period_id}",{self.bar_fields(bar)}}}'.encode()

    def bar_fields(self, bar: Bar) -> str:
        """A candle's fields from ``time_period_start`` to ``trades_count``: the WebSocket's ``ohlcv`` message and
        REST's OHLCV objects both end with them."""
        return (
            f'"time_period_start":"{format_time(bar.time_period_start_ns)}",'
            f'"time_period_end":"{format_time(bar.time_period_end_ns)}",'
            f'"time_open":"{format_time(bar.time_open_ns)}","time_close":"{format_time(bar.time_close_ns)}",'
            f'"price_open":{self.price(bar.price_open_ticks)},"price_high":{self.price(bar.price_high_ticks)},'
            f'"price_low":{self.price(bar.price_low_ticks)},"price_close":{self.price(bar.price_close_ticks)},'
            f'"volume_traded":{self.size(bar.volume_traded_lots)},"trades_count":{bar.trades_count}'
        )

    def _levels(self, levels: Iterable[Level]) -> str:
        price, size = self.price, self.size
        return ",".join([f'{{"price":{price(level.price_ticks)},"size":{size(level.size_lots)}}}' for level in levels])


class OrderBookEncoder:
    """``book_l3`` payloads of one symbol (PROTOCOL.md §3.5): a snapshot lists every order, an update every
    order changed, each with its ``update_type``.

    Built from a codec's ``symbol_id`` and token formatters, so it writes the same price and size tokens as the
    symbol's other streams. Not on the hot path: only followed books are encoded.
    """

    __slots__ = ("_head", "price", "size")

    def __init__(self, symbol_id: str, price: Callable[[int], str], size: Callable[[int], str]) -> None:
        self._head = f'{{"type":"book_l3","symbol_id":"{symbol_id}","sequence":'
        #: a price in ticks as its wire token
        self.price = price
        #: a size in lots as its wire token
        self.size = size

    def snapshot(
        self, asks: Iterable[Order], bids: Iterable[Order], sequence: int, time_exchange_ns: int, time_coinapi_ns: int
    ) -> bytes:
        """A ``book_l3`` snapshot: every order, best price first and oldest first, without ``update_type``."""
        asks_text, bids_text = self._orders(asks), self._orders(bids)
        return self._payload(sequence, time_exchange_ns, time_coinapi_ns, "true", asks_text, bids_text)

    def update(self, delta: OrderBookDelta, sequence: int, time_coinapi_ns: int) -> bytes:
        """A ``book_l3`` update: the orders changed at one instant, in the order they changed."""
        asks, bids = self._changes(delta.asks), self._changes(delta.bids)
        return self._payload(sequence, delta.time_exchange_ns, time_coinapi_ns, "false", asks, bids)

    def _payload(
        self, sequence: int, time_exchange_ns: int, time_coinapi_ns: int, is_snapshot: str, asks: str, bids: str
    ) -> bytes:
        return (
            f"{self._head}{sequence},"
            f'"time_exchange":"{format_time(time_exchange_ns)}","time_coinapi":"{format_time(time_coinapi_ns)}",'
            f'"is_snapshot":{is_snapshot},"asks":[{asks}],"bids":[{bids}]}}'
        ).encode()

    def _orders(self, orders: Iterable[Order]) -> str:
        price, size = self.price, self.size
        return ",".join(
            [f'{{"id":"{o.order_id}","price":{price(o.price_ticks)},"size":{size(o.size_lots)}}}' for o in orders]
        )

    def _changes(self, changes: Iterable[OrderChange]) -> str:
        price, size = self.price, self.size
        return ",".join(
            [
                f'{{"id":"{c.order_id}","price":{price(c.price_ticks)},"size":{size(c.size_lots)},'
                f'"update_type":"{c.update_type.value}"}}'
                for c in changes
            ]
        )
