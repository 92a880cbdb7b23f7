"""REST market data (PROTOCOL.md §7.4): current quotes and books, trades, quotes, OHLCV and exchange rates over time.

Everything here reads the shared market: its live books for the current state, ``Retention`` for what was
published (so REST agrees with the WebSocket message for message), and ``MarketHistory`` for the span before the
start (``--history``). A request for one symbol costs what that symbol holds, never the catalogue's size.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from itertools import chain, groupby, islice
from operator import attrgetter
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.responses import NO_DATA, JsonResponse, RestError
from coinapi_emulator.server.plane.book_history import BookSnapshot
from coinapi_emulator.server.plane.retention import (
    RetainedQuote,
    RetainedTrade,
    Retention,
    RetentionWindowError,
    aggregate,
    bars_from_trades,
)
from coinapi_emulator.server.plane.streams import simulated_time_coinapi
from coinapi_emulator.server.protocol import rest_encode
from coinapi_emulator.server.protocol.encode import format_time
from coinapi_emulator.server.protocol.rest_query import (
    parse_limit,
    parse_limit_levels,
    parse_period,
    parse_time,
    select_symbols,
    split_list,
)
from coinapi_emulator.server.protocol.routes import CatalogIndex
from coinapi_emulator.simulator.catalog import Symbol
from coinapi_emulator.simulator.events import Bar, Quote, Trade
from coinapi_emulator.simulator.history import MarketHistory, RateBar
from coinapi_emulator.simulator.ohlcv import OhlcvPeriod
from coinapi_emulator.simulator.orders import Order

_NS_PER_S = 1_000_000_000
_NS_PER_MIN = 60 * _NS_PER_S
#: levels a side of an order-book history snapshot unless ``limit_levels`` says otherwise (CoinAPI's own cap)
HISTORY_LEVELS = 20
#: records a chunk of a streamed answer (a busy symbol's minute of trades is ~600)
_STREAM_BATCH = 1000
#: order books a chunk: one of 20 levels a side takes ~0.2 ms to make and write, so the loop is handed back every
#: ~20 ms (a busy symbol's minute has ~1,300)
_BOOK_BATCH = 100
#: symbols whose newest generated records are looked for between two turns of the event loop (~15 ms)
_SYMBOLS_A_TURN = 25


@dataclass(frozen=True, slots=True)
class _Records:
    """How REST reads one kind of record (trades, quotes): the newest retained, the retained over a window; the
    history's over a window (a minute at a time) and its newest; encoded, timed."""

    latest: Callable[[Retention, str, int], Sequence[Any]]
    history: Callable[[Retention, str, int, int, int], Sequence[Any]]
    generated: Callable[[MarketHistory, str, int, int], Iterator[list[Any]]]
    newest_generated: Callable[[MarketHistory, Sequence[str], int, Sequence[Any]], list[Any]]
    #: a generated event as a retained record: with the ``time_coinapi`` a stream on a virtual clock stamps
    stamp: Callable[[Any], Any]
    #: records of one symbol as JSON text
    encode: Callable[[Symbol, Sequence[Any]], list[str]]
    time_ns: Callable[[Any], int]


def _trades(symbol: Symbol, kept: Sequence[RetainedTrade]) -> list[str]:
    write = rest_encode.trade_writer(symbol)
    return [write(record.trade, record.time_coinapi_ns) for record in kept]


def _quotes(symbol: Symbol, kept: Sequence[RetainedQuote]) -> list[str]:
    write = rest_encode.quote_writer(symbol)
    return [write(record.quote, record.time_coinapi_ns) for record in kept]


def _stamped_trade(trade: Trade) -> RetainedTrade:
    return RetainedTrade(trade, simulated_time_coinapi(trade.time_exchange_ns))


def _stamped_quote(quote: Quote) -> RetainedQuote:
    return RetainedQuote(quote, simulated_time_coinapi(quote.time_exchange_ns))


def _json_array(items: list[str]) -> Response:
    return Response(rest_encode.json_array(items), media_type=JsonResponse.media_type)


def _batches(records: Sequence[Any], size: int = _STREAM_BATCH) -> Iterator[Sequence[Any]]:
    """Records in batches of ``size``: by default about a busy minute's generated trades."""
    return (records[at : at + size] for at in range(0, len(records), size))


def _encoded_chunks(
    encode: Callable[[Symbol, Sequence[Any]], list[str]], symbol: Symbol, batches: Iterable[Sequence[Any]], limit: int
) -> Iterator[str]:
    """The batches' records as JSON text (``encode``), a batch a chunk (comma-joined), until ``limit`` records."""
    left = limit
    for batch in batches:
        if left <= 0:
            return
        if batch:
            chunk = batch[:left]
            left -= len(chunk)
            yield ",".join(encode(symbol, chunk))


async def _streamed_array(chunks: Iterator[str]) -> AsyncIterator[bytes]:
    """A JSON array of the chunks' items, a chunk at a time, handing the event loop back before each."""
    yield b"["
    separator = ""
    for chunk in chunks:
        yield (separator + chunk).encode()
        separator = ","
        await asyncio.sleep(0)
    yield b"]"


def _rate_candle_object(bar: RateBar) -> dict[str, Any]:
    rates = (bar.rate_open, bar.rate_high, bar.rate_low, bar.rate_close)
    return rest_encode.rate_candle_object(
        bar.time_period_start_ns, bar.time_period_end_ns, bar.time_open_ns, bar.time_close_ns, rates
    )


def _snapshot(symbol: Symbol, snapshot: BookSnapshot) -> dict[str, Any]:
    return rest_encode.order_book_object(
        symbol, snapshot.asks, snapshot.bids, snapshot.time_exchange_ns, snapshot.time_coinapi_ns
    )


def _encoded_snapshots(symbol: Symbol, snapshots: Sequence[BookSnapshot]) -> list[str]:
    return [orjson.dumps(_snapshot(symbol, snapshot)).decode() for snapshot in snapshots]


def _generated_snapshots(history: MarketHistory, quotes: Sequence[Quote], levels: int) -> list[BookSnapshot]:
    """The history's books behind ``quotes``, stamped as a stream on a virtual clock stamps them."""
    return [
        BookSnapshot(quote.time_exchange_ns, simulated_time_coinapi(quote.time_exchange_ns), asks, bids)
        for quote, (asks, bids) in zip(quotes, history.books(quotes, levels), strict=True)
    ]


def _within_levels(orders: Sequence[Order], levels: int | None) -> Iterable[Order]:
    """The orders of the best ``levels`` prices (all with None); ``orders`` are best price first."""
    if levels is None:
        return orders
    by_price = groupby(orders, key=attrgetter("price_ticks"))
    return chain.from_iterable(group for _, group in islice(by_price, levels))


TRADES = _Records(
    Retention.latest_trades,
    Retention.trades,
    MarketHistory.trade_minutes,
    MarketHistory.newest_trades,
    _stamped_trade,
    _trades,
    lambda kept: kept.trade.time_exchange_ns,
)
QUOTES = _Records(
    Retention.latest_quotes,
    Retention.quotes,
    MarketHistory.quote_minutes,
    MarketHistory.newest_quotes,
    _stamped_quote,
    _quotes,
    lambda kept: kept.quote.time_exchange_ns,
)


class MarketDataApi:
    """The market-data handlers of one emulator."""

    def __init__(self, emulator: Emulator, index: CatalogIndex) -> None:
        self._emulator = emulator
        self._index = index
        self._market = emulator.shared.market
        self._retention = emulator.shared.retention
        self._history = emulator.history

    def endpoints(self) -> list[tuple[str, Callable[[Request], Awaitable[Response]]]]:
        """(path, handler) of each route; ``RestApi`` wraps them in its guard (key, output format, errors)."""
        return [
            ("/v1/quotes/current", self.quotes_current),
            ("/v1/quotes/latest", partial(self.latest_all, QUOTES)),
            ("/v1/quotes/{symbol_id}/current", self.quote_current),
            ("/v1/quotes/{symbol_id}/latest", partial(self.latest, QUOTES)),
            ("/v1/quotes/{symbol_id}/history", partial(self.history, QUOTES)),
            ("/v1/orderbooks/current", self.books_current),
            ("/v1/orderbooks/{symbol_id}/current", self.book_current),
            ("/v1/orderbooks/{symbol_id}/latest", self.books_latest),
            ("/v1/orderbooks/{symbol_id}/history", self.books_history),
            ("/v1/orderbooks3/current", self.order_books_current),
            ("/v1/orderbooks3/{symbol_id}/current", self.order_book_current),
            ("/v1/trades/latest", partial(self.latest_all, TRADES)),
            ("/v1/trades/{symbol_id}/latest", partial(self.latest, TRADES)),
            ("/v1/trades/{symbol_id}/history", partial(self.history, TRADES)),
            ("/v1/ohlcv/{symbol_id}/latest", self.ohlcv_latest),
            ("/v1/ohlcv/{symbol_id}/history", self.ohlcv_history),
            ("/v1/exchangerate/{asset_id_base}/{asset_id_quote}/history", self.rate_history),
        ]

    # -- quotes -------------------------------------------------------------------------------------------------

    async def quotes_current(self, request: Request) -> Response:
        """GET /v1/quotes/current[?filter_symbol_id=...]"""
        return _json_array([self._current_quote(symbol) for symbol in self._filtered(request)])

    async def quote_current(self, request: Request) -> Response:
        """GET /v1/quotes/{symbol_id}/current"""
        return Response(self._current_quote(self._symbol(request)).encode(), media_type=JsonResponse.media_type)

    def _current_quote(self, symbol: Symbol) -> str:
        retention = self._retention
        last = retention.latest_quotes(symbol.symbol_id, 1) if retention is not None else []
        # no quote since the start: the book the market opened with
        quote = (last[0].quote, last[0].time_coinapi_ns) if last else self._touch_quote(symbol)
        trade = retention.last_trade(symbol.symbol_id) if retention is not None else None
        last_trade = None if trade is None else (trade.trade, trade.time_coinapi_ns)
        return rest_encode.current_quote_json(symbol, *quote, last_trade)

    def _touch_quote(self, symbol: Symbol) -> tuple[Quote, int]:
        ask, ask_size, bid, bid_size = self._market.book(symbol.symbol_id).touch()
        now = self._market.now_ns
        return Quote(symbol.symbol_id, now, ask, ask_size, bid, bid_size), now

    # -- order books --------------------------------------------------------------------------------------------

    async def books_current(self, request: Request) -> Response:
        """GET /v1/orderbooks/current?filter_symbol_id=...[&limit_levels=N]"""
        levels = self._levels_of_filtered(request)
        return JsonResponse([self._book(symbol, levels) for symbol in self._filtered(request)])

    async def book_current(self, request: Request) -> Response:
        """GET /v1/orderbooks/{symbol_id}/current[?limit_levels=N]"""
        symbol = self._symbol(request)
        return JsonResponse(self._book(symbol, parse_limit_levels(request.query_params.get("limit_levels"))))

    async def books_latest(self, request: Request) -> Response:
        """GET /v1/orderbooks/{symbol_id}/latest[?limit=N&limit_levels=L]: the book after each of the newest
        changes, newest first (20 levels a side unless asked); with ``--history``, the history's newest after the
        published ones when these are fewer than ``limit``."""
        symbol, limit = self._symbol(request), parse_limit(request.query_params.get("limit"))
        self._watch_book(symbol)
        levels = parse_limit_levels(request.query_params.get("limit_levels")) or HISTORY_LEVELS
        snapshots = self._retained().latest_book_snapshots(symbol.symbol_id, limit, levels)
        if len(snapshots) >= limit or self._history is None:
            return JsonResponse([_snapshot(symbol, snapshot) for snapshot in snapshots])
        quotes = self._history.newest_quotes([symbol.symbol_id], limit - len(snapshots))
        generated = (_generated_snapshots(self._history, batch, levels) for batch in _batches(quotes, _BOOK_BATCH))
        chunks = _encoded_chunks(_encoded_snapshots, symbol, chain(_batches(snapshots, _BOOK_BATCH), generated), limit)
        return StreamingResponse(_streamed_array(chunks), media_type=JsonResponse.media_type)

    async def books_history(self, request: Request) -> Response:
        """GET /v1/orderbooks/{symbol_id}/history?time_start=...[&time_end=...&limit=N&limit_levels=L]: the book
        after each change in the window, oldest first; generated before the start (with ``--history``: the book
        behind each of the history's quotes, streamed ``_BOOK_BATCH`` books a chunk), then as published."""
        symbol, (start, end, limit) = self._symbol(request), self._window(request)
        self._watch_book(symbol)
        levels = parse_limit_levels(request.query_params.get("limit_levels")) or HISTORY_LEVELS
        live_from, symbol_id = self._market_start_ns(), symbol.symbol_id
        published: Sequence[BookSnapshot] = await self._published(
            lambda retention: retention.book_snapshots(symbol_id, start, end, limit, levels),
            lambda history: history.quote_minutes(symbol_id, start, live_from),  # a book a quote
            (start, end, limit),
        )
        if start >= live_from or self._history is None:
            return JsonResponse([_snapshot(symbol, snapshot) for snapshot in published])
        history = self._history_for(start)
        quote_minutes = history.quote_minutes(symbol_id, start, min(end, live_from))
        generated = (
            _generated_snapshots(history, batch, levels)
            for quotes in quote_minutes
            for batch in _batches(quotes, _BOOK_BATCH)
        )
        batches = chain(generated, _batches(published, _BOOK_BATCH))
        chunks = _encoded_chunks(_encoded_snapshots, symbol, batches, limit)
        return StreamingResponse(_streamed_array(chunks), media_type=JsonResponse.media_type)

    def _book(self, symbol: Symbol, levels: int | None) -> dict[str, Any]:
        self._watch_book(symbol)
        book = self._market.book(symbol.symbol_id)
        asks, bids = book.top(levels if levels is not None else max(book.depth()))
        now = self._market.now_ns
        return rest_encode.order_book_object(symbol, asks, bids, now, now)

    async def order_books_current(self, request: Request) -> Response:
        """GET /v1/orderbooks3/current?filter_symbol_id=...[&limit_levels=N]: each symbol's book, order by order."""
        levels = self._levels_of_filtered(request)
        return JsonResponse([self._orders(symbol, levels) for symbol in self._filtered(request)])

    async def order_book_current(self, request: Request) -> Response:
        """GET /v1/orderbooks3/{symbol_id}/current[?limit_levels=N]: the book order by order, as a ``book_l3``
        subscriber joining now gets it (PROTOCOL.md §3.5)."""
        symbol = self._symbol(request)
        return JsonResponse(self._orders(symbol, parse_limit_levels(request.query_params.get("limit_levels"))))

    @staticmethod
    def _levels_of_filtered(request: Request) -> int | None:
        """``limit_levels`` of a read over ``filter_symbol_id``, which these reads require."""
        if not request.query_params.get("filter_symbol_id"):
            raise RestError(400, "filter_symbol_id is required, e.g. filter_symbol_id=BINANCE_SPOT_BTC_USDT")
        return parse_limit_levels(request.query_params.get("limit_levels"))

    def _orders(self, symbol: Symbol, levels: int | None) -> dict[str, Any]:
        book = self._emulator.shared.orders_now(symbol.symbol_id)
        now = self._market.now_ns
        asks, bids = _within_levels(book.asks(), levels), _within_levels(book.bids(), levels)
        return rest_encode.order_book_l3_object(symbol, asks, bids, now, now)

    def _watch_book(self, symbol: Symbol) -> None:
        """Keep the symbol's book changes from now on: asked about once, it will likely be asked about again."""
        if self._retention is not None and self._retention.books is not None:
            self._retention.books.watch(symbol.symbol_id)

    # -- trades and quotes: the same three reads of two kinds of record --------------------------------------------

    async def latest_all(self, kind: _Records, request: Request) -> Response:
        """GET /v1/{trades,quotes}/latest[?filter_symbol_id=...&limit=N]: the newest of the symbols, newest first;
        with ``--history``, the history's newest after the published ones when these are fewer than ``limit``."""
        limit, retention = parse_limit(request.query_params.get("limit")), self._retained()
        symbols: dict[str, Symbol] = {}
        newest: list[tuple[Any, Symbol]] = []
        for symbol in self._filtered(request):
            symbols[symbol.symbol_id] = symbol
            newest += [(record, symbol) for record in kind.latest(retention, symbol.symbol_id, limit)]
        newest.sort(key=lambda pair: kind.time_ns(pair[0]), reverse=True)
        del newest[limit:]
        # every generated record is older than every published one
        for event in await self._newest_generated(kind, list(symbols), limit - len(newest)):
            newest.append((kind.stamp(event), symbols[event.symbol_id]))
        return _json_array([kind.encode(symbol, [record])[0] for record, symbol in newest])

    async def latest(self, kind: _Records, request: Request) -> Response:
        """GET /v1/{trades,quotes}/{symbol_id}/latest[?limit=N]: newest first; with ``--history``, the history's
        newest after the published ones when these are fewer than ``limit``."""
        symbol, limit = self._symbol(request), parse_limit(request.query_params.get("limit"))
        newest = list(kind.latest(self._retained(), symbol.symbol_id, limit))
        newest += map(kind.stamp, await self._newest_generated(kind, [symbol.symbol_id], limit - len(newest)))
        return _json_array(kind.encode(symbol, newest))

    async def _newest_generated(self, kind: _Records, symbol_ids: list[str], limit: int) -> list[Any]:
        """The history's ``limit`` newest events of the symbols (none without ``--history``), a group of symbols at
        a time, handing the event loop back between groups: every symbol's last minute is built, ~2 s for the
        default catalogue's 3,447."""
        found: list[Any] = []
        if self._history is None or limit <= 0:
            return found
        for at in range(0, len(symbol_ids), _SYMBOLS_A_TURN):
            found = kind.newest_generated(self._history, symbol_ids[at : at + _SYMBOLS_A_TURN], limit, found)
            await asyncio.sleep(0)
        return found

    async def history(self, kind: _Records, request: Request) -> Response:
        """GET /v1/{trades,quotes}/{symbol_id}/history?time_start=...[&time_end=...&limit=N]: oldest first; generated
        before the start (with ``--history``), then as published.

        The published records are read at once (every error is answered before the first byte); the generated ones
        are streamed a minute at a time, handing the event loop back between minutes, since 100,000 of them are
        seconds of work that the market's other clients must not wait for."""
        symbol, (start, end, limit) = self._symbol(request), self._window(request)
        live_from, symbol_id = self._market_start_ns(), symbol.symbol_id
        published = await self._published(
            lambda retention: kind.history(retention, symbol_id, start, end, limit),
            lambda history: kind.generated(history, symbol_id, start, live_from),
            (start, end, limit),
        )
        if start >= live_from or self._history is None:
            return _json_array(kind.encode(symbol, published))
        minutes = kind.generated(self._history_for(start), symbol_id, start, min(end, live_from))
        stamped = ([kind.stamp(event) for event in events] for events in minutes)
        chunks = _encoded_chunks(kind.encode, symbol, chain(stamped, _batches(published)), limit)
        return StreamingResponse(_streamed_array(chunks), media_type=JsonResponse.media_type)

    async def _published(
        self,
        read: Callable[[Retention], Sequence[Any]],
        generated: Callable[[MarketHistory], Iterator[list[Any]]],
        window: tuple[int, int, int],
    ) -> Sequence[Any]:
        """What the market published in a ``(start, end, limit)`` window (``read``), none for a window that ends
        by the market's start with ``--history``. Once the kept records no longer reach back to the start, a
        window from before it that the history's own records fill (``limit`` of them) needs none of them, and is
        answered from the history alone; any other answer would have a hole where the forgotten records were, and
        gets the retention's 400. Only then are the history's records counted first, a minute at a time with the
        event loop handed back between minutes: the answer costs twice the drawing."""
        start, end, limit = window
        live_from = self._market_start_ns()
        if end <= live_from and self._history is not None:
            return ()
        retention = self._retained()
        try:
            return read(retention)
        except RetentionWindowError:
            if self._history is None or start < self._history.first_ns or start >= live_from:
                raise
            count = 0
            for records in generated(self._history):
                count += len(records)
                if count >= limit:
                    return ()
                await asyncio.sleep(0)
            raise

    # -- OHLCV --------------------------------------------------------------------------------------------------

    async def ohlcv_history(self, request: Request) -> Response:
        """GET /v1/ohlcv/{symbol_id}/history?period_id=...&time_start=...[&time_end=...&limit=N]: oldest first."""
        symbol, period = self._symbol(request), parse_period(request.query_params.get("period_id"))
        start, end, limit = self._window(request)
        bars = self._bars(symbol, period, start, end, limit)
        return Response(rest_encode.bars_json(symbol, bars), media_type=JsonResponse.media_type)

    async def ohlcv_latest(self, request: Request) -> Response:
        """GET /v1/ohlcv/{symbol_id}/latest?period_id=...[&limit=N]: the newest candles, newest first (the newest
        may still be open, as on the WebSocket)."""
        symbol, period = self._symbol(request), parse_period(request.query_params.get("period_id"))
        limit, length_ns = parse_limit(request.query_params.get("limit")), _length_ns(period)
        now = self._market.now_ns
        earliest = self._earliest_bar_ns(period)
        start = max(earliest, now - now % length_ns - (limit - 1) * length_ns)
        bars = self._bars(symbol, period, start, now + 1, limit=None)
        while len(bars) < limit and start > earliest:  # quiet symbols: reach further back until `limit` candles
            start, end = max(earliest, start - limit * length_ns), start
            bars = self._bars(symbol, period, start, end, limit=None) + bars
        return Response(rest_encode.bars_json(symbol, reversed(bars[-limit:])), media_type=JsonResponse.media_type)

    def _bars(self, symbol: Symbol, period: OhlcvPeriod, start: int, end: int, limit: int | None) -> list[Bar]:
        """Candles starting in ``[start, end)``: generated history before the start, then the live market's."""
        length_ns = _length_ns(period)
        if limit is not None:  # a candle a period at most: nothing beyond `limit` periods is needed
            end = min(end, start - start % length_ns + limit * length_ns)
        live_from = self._market_start_ns()
        bars: list[Bar] = []
        if start < live_from:
            history = self._history_for(start)
            try:
                bars += history.bars(symbol.symbol_id, period.period_id, start, min(end, live_from), limit or 10**9)
            except ValueError as error:  # e.g. a period the history does not have
                raise RestError(400, str(error)) from None
        retention = self._retained()
        live_start = max(start, live_from - live_from % length_ns)
        if end > live_start:
            bars += self._live_bars(retention, symbol, period, live_start, end)
        return bars if limit is None else bars[:limit]

    def _live_bars(self, retention: Retention, symbol: Symbol, period: OhlcvPeriod, start: int, end: int) -> list[Bar]:
        length_ns = _length_ns(period)
        aligned = start - start % length_ns
        if length_ns < _NS_PER_MIN:
            trades = retention.trades(symbol.symbol_id, aligned, end, 10**9)
            return bars_from_trades(trades, period.period_id, length_ns)
        minutes = retention.minute_bars(symbol.symbol_id, aligned, end)
        return aggregate(minutes, period.period_id, length_ns)

    def _earliest_bar_ns(self, period: OhlcvPeriod) -> int:
        if self._history is not None and _length_ns(period) >= _NS_PER_MIN:
            return self._history.first_ns
        retention = self._retained()
        return retention.bars_from_ns() if _length_ns(period) >= _NS_PER_MIN else retention.trades_from_ns()

    # -- exchange rates -----------------------------------------------------------------------------------------

    def rate_usd_at(self, asset_id: str, time_ns: int) -> float:
        """The asset's USD rate at ``time_ns``: history before the start, the retained rates after it."""
        if time_ns > self._market.now_ns:
            raise RestError(400, "time is after the market's current time")
        if time_ns < self._market_start_ns():
            try:
                return self._history_for(time_ns).rate_usd(asset_id, time_ns)
            except ValueError as error:
                raise RestError(400, str(error)) from None
        rate = self._retained().rate_usd(asset_id, time_ns)
        return self._market.start_rate_usd(asset_id) if rate is None else rate

    async def rate_history(self, request: Request) -> Response:
        """GET /v1/exchangerate/{base}/{quote}/history?period_id=...&time_start=...[&time_end=...&limit=N]"""
        base, quote = request.path_params["asset_id_base"], request.path_params["asset_id_quote"]
        for asset_id in (base, quote):
            if self._emulator.catalog.asset(asset_id) is None:
                raise RestError(NO_DATA, f"Unknown asset_id '{asset_id}'")
        period = parse_period(request.query_params.get("period_id"))
        start, end, limit = self._window(request)
        length_ns = _length_ns(period)
        if length_ns < _NS_PER_S:
            raise RestError(400, "exchange-rate candles have periods of 1SEC and longer")
        first, live_from = start - start % length_ns, self._market_start_ns()
        candles = []
        if first + length_ns <= live_from:  # whole periods before the start: the history's own candles
            try:
                bars = self._history_for(first).rate_bars(base, quote, period.period_id, first, live_from, limit)
            except ValueError as error:
                raise RestError(400, str(error)) from None
            candles = [_rate_candle_object(bar) for bar in bars]
        first = max(first, live_from - live_from % length_ns)
        for period_start in range(first, min(end, self._market.now_ns), length_ns):
            if len(candles) == limit:
                break
            candles.append(self._rate_candle(base, quote, period_start, length_ns))
        return JsonResponse(candles)

    def _rate_candle(self, base: str, quote: str, period_start: int, length_ns: int) -> dict[str, Any]:
        """A candle of the live market's rates (the one spanning the start may begin in the history), sampled every
        ``max(1 s, period / 60)``."""
        earliest = self._market_start_ns() if self._history is None else self._history.first_ns
        step = max(_NS_PER_S, length_ns // 60)
        times = range(max(period_start, earliest), min(period_start + length_ns, self._market.now_ns), step)
        rates = [self.rate_usd_at(base, t) / self.rate_usd_at(quote, t) for t in times]
        return rest_encode.rate_candle_object(
            period_start, period_start + length_ns, times[0], times[-1], (rates[0], max(rates), min(rates), rates[-1])
        )

    # -- shared -------------------------------------------------------------------------------------------------

    def _market_start_ns(self) -> int:
        return self._emulator.shared.spec.start_ns

    def _retained(self) -> Retention:
        if self._retention is None:
            raise RestError(400, "the emulator keeps no market history (--retain 0, or --replay)")
        return self._retention

    def _history_for(self, time_ns: int) -> MarketHistory:
        if self._history is None:
            raise RestError(
                400, "before the market's start there is no data unless the emulator runs with --history (e.g. 2d)"
            )
        if time_ns < self._history.first_ns:
            raise RestError(
                400, f"history before the start reaches back to {format_time(self._history.first_ns)} (--history)"
            )
        return self._history

    def _symbol(self, request: Request) -> Symbol:
        symbol_id = request.path_params["symbol_id"]
        symbol = self._index.symbol(symbol_id) if symbol_id in self._index.position else None
        if symbol is None:
            raise RestError(NO_DATA, f"Unknown symbol_id '{symbol_id}'")
        return symbol

    def _filtered(self, request: Request) -> Iterable[Symbol]:
        prefixes = split_list(request.query_params.get("filter_symbol_id"))
        return select_symbols(self._index, within=None, prefixes=prefixes, exchange_ids=[], asset_ids=[])

    def _window(self, request: Request) -> tuple[int, int, int]:
        params = request.query_params
        if not params.get("time_start"):
            raise RestError(400, "time_start is required, e.g. time_start=2024-01-01T00:00:00")
        start = parse_time("time_start", params["time_start"])
        end = parse_time("time_end", params["time_end"]) if params.get("time_end") else self._market.now_ns + 1
        if end <= start:
            raise RestError(400, "time_end must be after time_start")
        return start, end, parse_limit(params.get("limit"))


def _length_ns(period: OhlcvPeriod) -> int:
    if not period.length_seconds:
        raise RestError(400, f"period_id {period.period_id}: calendar periods are not served by the emulator")
    return period.length_seconds * _NS_PER_S
