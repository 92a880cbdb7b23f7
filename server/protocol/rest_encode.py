"""REST market-data objects (quotes, order books, trades, OHLCV, exchange-rate candles) in CoinAPI's shapes.

The numbers are the same decimal tokens the WebSocket sends (``SymbolEncoder``'s formatters, as
``orjson.Fragment``), so a trade read over REST is the trade a client received, field for field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache

import orjson

from coinapi_emulator.server.protocol.encode import SymbolEncoder, format_significant, format_time
from coinapi_emulator.server.protocol.metadata import JsonObject
from coinapi_emulator.simulator.catalog import Symbol
from coinapi_emulator.simulator.events import Bar, Level, Quote, Trade
from coinapi_emulator.simulator.orders import Order

#: encoders of the symbols REST was asked about (one per symbol; the catalogue has a few thousand)
_ENCODERS = 8192


@lru_cache(maxsize=_ENCODERS)
def _encoder(symbol: Symbol) -> SymbolEncoder:
    return SymbolEncoder(symbol)


def _number(token: str) -> orjson.Fragment:
    return orjson.Fragment(token.encode())


def json_array(items: Iterable[str]) -> bytes:
    """A JSON array of items that are JSON text already."""
    return ("[" + ",".join(items) + "]").encode()


def trade_writer(symbol: Symbol) -> Callable[[Trade, int], str]:
    """What writes the symbol's trades as ``/v1/trades/...`` returns them, from a trade and its ``time_coinapi``:
    JSON text, the WebSocket's ``trade`` without ``type`` and ``sequence``. Text, not a dict, and one writer per
    symbol, not a lookup per trade: a history answer holds up to 100,000 of them."""
    head, fields = f'{{"symbol_id":"{symbol.symbol_id}",', _encoder(symbol).trade_fields
    return lambda trade, time_coinapi_ns: f"{head}{fields(trade, time_coinapi_ns)}}}"


def quote_writer(symbol: Symbol) -> Callable[[Quote, int], str]:
    """What writes the symbol's quotes as ``/v1/quotes/...`` returns them, as ``trade_writer`` does trades."""
    head, fields = f'{{"symbol_id":"{symbol.symbol_id}",', _encoder(symbol).quote_fields
    return lambda quote, time_coinapi_ns: f"{head}{fields(quote, time_coinapi_ns)}}}"


def current_quote_json(symbol: Symbol, quote: Quote, time_coinapi_ns: int, last_trade: tuple[Trade, int] | None) -> str:
    """A quote as ``/v1/quotes/.../current`` returns it: with ``last_trade`` (the trade and its ``time_coinapi``),
    or ``null`` before the first. CoinAPI's ``last_trade`` carries no ``symbol_id``: the quote has it."""
    trade = "null" if last_trade is None else f"{{{_encoder(symbol).trade_fields(*last_trade)}}}"
    return f'{quote_writer(symbol)(quote, time_coinapi_ns)[:-1]},"last_trade":{trade}}}'


def order_book_object(
    symbol: Symbol, asks: Iterable[Level], bids: Iterable[Level], time_exchange_ns: int, time_coinapi_ns: int
) -> JsonObject:
    """An order book as ``/v1/orderbooks/.../current`` returns it: best levels first on each side."""
    return _book(symbol, _levels(symbol, asks), _levels(symbol, bids), time_exchange_ns, time_coinapi_ns)


def order_book_l3_object(
    symbol: Symbol, asks: Iterable[Order], bids: Iterable[Order], time_exchange_ns: int, time_coinapi_ns: int
) -> JsonObject:
    """An order book as ``/v1/orderbooks3/.../current`` returns it: every order, best price first, then oldest."""
    return _book(symbol, _orders(symbol, asks), _orders(symbol, bids), time_exchange_ns, time_coinapi_ns)


def _book(
    symbol: Symbol, asks: list[JsonObject], bids: list[JsonObject], time_exchange_ns: int, time_coinapi_ns: int
) -> JsonObject:
    return {
        "symbol_id": symbol.symbol_id,
        "time_exchange": format_time(time_exchange_ns),
        "time_coinapi": format_time(time_coinapi_ns),
        "asks": asks,
        "bids": bids,
    }


def _orders(symbol: Symbol, orders: Iterable[Order]) -> list[JsonObject]:
    price, size = _encoder(symbol).price, _encoder(symbol).size
    return [
        {"id": order.order_id, "price": _number(price(order.price_ticks)), "size": _number(size(order.size_lots))}
        for order in orders
    ]


def _levels(symbol: Symbol, levels: Iterable[Level]) -> list[JsonObject]:
    price, size = _encoder(symbol).price, _encoder(symbol).size
    return [{"price": _number(price(level.price_ticks)), "size": _number(size(level.size_lots))} for level in levels]


def bars_json(symbol: Symbol, bars: Iterable[Bar]) -> bytes:
    """OHLCV candles as ``/v1/ohlcv/{symbol_id}/...`` returns them, a JSON array: the WebSocket's ``ohlcv`` fields
    without ``type``, ``sequence``, ``symbol_id`` and ``period_id``. Written as text in one pass, since a history
    answer holds up to 100,000 candles."""
    fields = _encoder(symbol).bar_fields
    return json_array([f"{{{fields(bar)}}}" for bar in bars])


def rate_candle_object(
    time_period_start_ns: int,
    time_period_end_ns: int,
    time_open_ns: int,
    time_close_ns: int,
    rates: tuple[float, float, float, float],
) -> JsonObject:
    """An exchange-rate candle as ``/v1/exchangerate/{base}/{quote}/history`` returns it."""
    rate_open, rate_high, rate_low, rate_close = (_number(format_significant(rate)) for rate in rates)
    return {
        "time_period_start": format_time(time_period_start_ns),
        "time_period_end": format_time(time_period_end_ns),
        "time_open": format_time(time_open_ns),
        "time_close": format_time(time_close_ns),
        "rate_open": rate_open,
        "rate_high": rate_high,
        "rate_low": rate_low,
        "rate_close": rate_close,
    }
