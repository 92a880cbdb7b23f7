"""Encoders: market events to CoinAPI JSON bytes, called once per event and never once per subscriber.

JSON is assembled from pre-built per-symbol fragments rather than through a generic serializer, because
(PROTOCOL.md §4.3) prices and sizes must be plain decimal tokens at the symbol's precision (no exponent, no
float artefacts), and because this is the hot path. Every string spliced in is a catalogue id or a formatted
number, none of which needs JSON escaping (catalogue ids are upper-case ASCII; see ``SymbolCodec``).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from functools import lru_cache

from simulator.catalog import Symbol
from simulator.events import Bar, BookDelta, Level, Quote, Trade

from .datatypes import DataType

#: PROTOCOL.md §3.9: the real service and every SDK spell it without the second "t". DO NOT FIX.
HEARTBEAT = b'{"type":"hearbeat"}'

_NS_PER_S = 1_000_000_000


@lru_cache(maxsize=4096)
def _second_prefix(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


def format_time(ns: int) -> str:
    """ISO 8601 UTC with exactly seven fractional digits and ``Z`` (PROTOCOL.md §4.1)."""
    second, fraction_ns = divmod(ns, _NS_PER_S)
    return f"{_second_prefix(second)}.{fraction_ns // 100:07d}Z"


def format_fixed(units: int, decimals: int) -> str:
    """``units * 10**-decimals`` as a plain decimal token, trailing zeros dropped: (425, 2) -> ``4.25``."""
    if decimals <= 0:
        return str(units * 10**-decimals)
    sign = "-" if units < 0 else ""
    whole, fraction = divmod(abs(units), 10**decimals)
    if fraction == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{decimals}d}".rstrip("0")


def format_significant(value: float, digits: int = 10) -> str:
    """A float as a plain decimal token with ``digits`` significant digits (never an exponent)."""
    if value == 0 or not math.isfinite(value):
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def encode_exrate(asset_id_base: str, asset_id_quote: str, rate_type: str, time_ns: int, rate: float) -> bytes:
    """An ``exrate`` frame (PROTOCOL.md §3.7); it has no ``symbol_id`` and no ``sequence``."""
    return (
        f'{{"type":"exrate","asset_id_base":"{asset_id_base}","asset_id_quote":"{asset_id_quote}",'
        f'"rate_type":"{rate_type}","time":"{format_time(time_ns)}","rate":{format_significant(rate)}}}'
    ).encode()


def encode_reconnect(within_seconds: int, before_time_ns: int) -> bytes:
    """A ``reconnect`` notice (PROTOCOL.md §3.10)."""
    return (
        f'{{"type":"reconnect","within_seconds":{within_seconds},"before_time":"{format_time(before_time_ns)}"}}'
    ).encode()


class SymbolCodec:
    """Encoders for one symbol's streams, with its id and precisions baked in once."""

    __slots__ = ("_head", "_price_decimals", "_size_decimals", "symbol_id")

    def __init__(self, symbol: Symbol) -> None:
        self.symbol_id = symbol.symbol_id
        self._price_decimals = symbol.price_decimals
        self._size_decimals = symbol.size_decimals
        self._head = {
            data_type: f'{{"type":"{data_type.value}","symbol_id":"{symbol.symbol_id}","sequence":'
            for data_type in DataType
            if data_type.is_symbol_stream
        }

    def price(self, ticks: int) -> str:
        """A price in ticks as its wire token."""
        return format_fixed(ticks, self._price_decimals)

    def size(self, lots: int) -> str:
        """A size in lots as its wire token."""
        return format_fixed(lots, self._size_decimals)

    def trade(self, trade: Trade, sequence: int, time_coinapi_ns: int) -> bytes:
        """A ``trade`` frame (PROTOCOL.md §3.1)."""
        return (
            f"{self._head[DataType.TRADE]}{sequence},"
            f'"time_exchange":"{format_time(trade.time_exchange_ns)}","time_coinapi":"{format_time(time_coinapi_ns)}",'
            f'"uuid":"{trade.uuid}","price":{self.price(trade.price_ticks)},"size":{self.size(trade.size_lots)},'
            f'"taker_side":"{trade.taker_side.value}"}}'
        ).encode()

    def quote(self, quote: Quote, sequence: int, time_coinapi_ns: int) -> bytes:
        """A ``quote`` frame (PROTOCOL.md §3.2)."""
        return (
            f"{self._head[DataType.QUOTE]}{sequence},"
            f'"time_exchange":"{format_time(quote.time_exchange_ns)}","time_coinapi":"{format_time(time_coinapi_ns)}",'
            f'"ask_price":{self.price(quote.ask_price_ticks)},"ask_size":{self.size(quote.ask_size_lots)},'
            f'"bid_price":{self.price(quote.bid_price_ticks)},"bid_size":{self.size(quote.bid_size_lots)}}}'
        ).encode()

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
        """A ``book`` (snapshot or delta, ``is_snapshot`` given) or ``book5/20/50`` frame (``is_snapshot`` None)."""
        snapshot_field = "" if is_snapshot is None else f'"is_snapshot":{"true" if is_snapshot else "false"},'
        return (
            f"{self._head[data_type]}{sequence},"
            f'"time_exchange":"{format_time(time_exchange_ns)}","time_coinapi":"{format_time(time_coinapi_ns)}",'
            f'{snapshot_field}"asks":[{self._levels(asks)}],"bids":[{self._levels(bids)}]}}'
        ).encode()

    def book_delta(self, delta: BookDelta, sequence: int, time_coinapi_ns: int) -> bytes:
        """An incremental ``book`` frame; a level with size 0 is a deletion (PROTOCOL.md §3.3)."""
        return self.book(
            DataType.BOOK, delta.asks, delta.bids, sequence, delta.time_exchange_ns, time_coinapi_ns, is_snapshot=False
        )

    def bar(self, bar: Bar, sequence: int) -> bytes:
        """An ``ohlcv`` frame (PROTOCOL.md §3.6)."""
        return (
            f'{self._head[DataType.OHLCV]}{sequence},"period_id":"{bar.period_id}",'
            f'"time_period_start":"{format_time(bar.time_period_start_ns)}",'
            f'"time_period_end":"{format_time(bar.time_period_end_ns)}",'
            f'"time_open":"{format_time(bar.time_open_ns)}","time_close":"{format_time(bar.time_close_ns)}",'
            f'"price_open":{self.price(bar.price_open_ticks)},"price_high":{self.price(bar.price_high_ticks)},'
            f'"price_low":{self.price(bar.price_low_ticks)},"price_close":{self.price(bar.price_close_ticks)},'
            f'"volume_traded":{self.size(bar.volume_traded_lots)},"trades_count":{bar.trades_count}}}'
        ).encode()

    def _levels(self, levels: Iterable[Level]) -> str:
        price, size = self.price, self.size
        return ",".join(f'{{"price":{price(level.price_ticks)},"size":{size(level.size_lots)}}}' for level in levels)
