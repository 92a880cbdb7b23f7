"""What REST serves of the past: every symbol's trades and quotes, minute candles and USD rates, for a window.

The feed hands every trade, quote and rate to ``Retention`` as it publishes them, with the ``time_coinapi`` it
stamped, so that REST answers exactly what a WebSocket client received. Storage is columnar (``array('q')`` per
field, uuids as 16 raw bytes): about 50 bytes a trade and 50 a quote instead of ~300 for the event objects, which
is what makes keeping the whole catalogue affordable (README "REST market data" has the measured figure).

Two windows, both in virtual time:

* ``window_ns`` (``--retain``): trades and quotes. When they leave it, a symbol's trades are folded into minute
  candles first, so that candles outlive the trades they came from.
* ``bar_window_ns`` (``--retain-bars``): minute candles and per-second USD rates. Longer candles are aggregated from
  minute ones on request, which gives the same values as the live candles: both are the same trades, folded.
"""

from __future__ import annotations

import bisect
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from itertools import islice
from typing import Final

from coinapi_emulator.server.plane.book_history import BookHistory, BookSnapshot
from coinapi_emulator.server.protocol.encode import format_time
from coinapi_emulator.simulator.book import Book
from coinapi_emulator.simulator.catalog import Catalog
from coinapi_emulator.simulator.events import Bar, ExchangeRate, Quote, TakerSide, Trade

_NS_PER_MIN: Final = 60_000_000_000
#: later than any event: "up to now" for a read that has no end
_END_OF_TIME: Final = (1 << 63) - 1
#: a column's evicted prefix is deleted once it is this long and half the column (amortised O(1) per row)
_COMPACT_AT: Final = 1024
_SIDES: Final = tuple(TakerSide)
_SIDE_CODE: Final = {side: code for code, side in enumerate(_SIDES)}


@dataclass(frozen=True, slots=True)
class RetainedTrade:
    """A trade as it was published: the event and its ``time_coinapi``."""

    trade: Trade
    time_coinapi_ns: int


@dataclass(frozen=True, slots=True)
class RetainedQuote:
    """A quote as it was published: the event and its ``time_coinapi``."""

    quote: Quote
    time_coinapi_ns: int


class RetentionWindowError(ValueError):
    """A request reaches before what is retained; the message says from when data exists."""


class _Rows:
    """Rows of ``width`` integers in one ``array('q')``, the first of each a time; rows before ``start`` are evicted.

    One ``extend`` per row is what keeps recording cheap on the feed's hot path (a column per field costs a call
    per field)."""

    __slots__ = ("data", "start", "width")

    def __init__(self, width: int) -> None:
        self.data = array("q")
        self.width = width
        self.start = 0

    @property
    def end(self) -> int:
        """One past the last row."""
        return len(self.data) // self.width

    def row(self, index: int) -> array[int]:
        """The fields of row ``index``."""
        at = index * self.width
        return self.data[at : at + self.width]

    def first_at_or_after(self, time_ns: int, lo: int | None = None) -> int:
        """Index of the first live row whose time is >= ``time_ns``."""
        with memoryview(self.data) as view, view[:: self.width] as times:
            return bisect.bisect_left(times, time_ns, lo=self.start if lo is None else lo)

    def evict_before(self, time_ns: int) -> None:
        """Forget the rows older than ``time_ns``."""
        self.start = self.first_at_or_after(time_ns)

    def compact(self) -> int:
        """Delete the evicted prefix when it is long enough; how many rows went (0 if none)."""
        start = self.start
        if start < _COMPACT_AT or start * 2 < self.end:
            return 0
        del self.data[: start * self.width]
        self.start = 0
        return start


class _Tape:
    """One symbol's retained trades, quotes and minute candles."""

    __slots__ = ("bars", "quotes", "symbol_id", "trades", "uuids")

    def __init__(self, symbol_id: str) -> None:
        self.symbol_id = symbol_id
        #: time_exchange, time_coinapi, price, size, taker side (its index in ``TakerSide``)
        self.trades = _Rows(5)
        #: per trade, the uuid's 16 bytes
        self.uuids = bytearray()
        #: time_exchange, time_coinapi, ask price, ask size, bid price, bid size
        self.quotes = _Rows(6)
        #: period start, time_open, time_close, open, high, low, close, volume, count
        self.bars = _Rows(9)

    def trade(self, row: int) -> RetainedTrade:
        t_exchange, t_coinapi, price, size, side = self.trades.row(row)
        h = self.uuids[row * 16 : row * 16 + 16].hex()
        uuid = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
        return RetainedTrade(Trade(self.symbol_id, t_exchange, price, size, _SIDES[side], uuid), t_coinapi)

    def quote(self, row: int) -> RetainedQuote:
        t_exchange, t_coinapi, ask, ask_size, bid, bid_size = self.quotes.row(row)
        return RetainedQuote(Quote(self.symbol_id, t_exchange, ask, ask_size, bid, bid_size), t_coinapi)

    def fold_trades_before(self, time_ns: int) -> None:
        """Evict the trades older than ``time_ns``, folding them into minute candles first."""
        trades = self.trades
        first, cut = trades.start, trades.first_at_or_after(time_ns)
        if cut == first:
            return
        rows = trades.data[first * 5 : cut * 5].tolist()
        for at in range(0, len(rows), 5):
            self._fold(rows[at], rows[at + 2], rows[at + 3])
        trades.start = cut
        removed = trades.compact()
        if removed:
            del self.uuids[: removed * 16]

    def _fold(self, time_ns: int, price: int, size: int) -> None:
        bars = self.bars
        minute = time_ns - time_ns % _NS_PER_MIN
        data, at = bars.data, (bars.end - 1) * 9
        if bars.end > bars.start and data[at] == minute:
            data[at + 2] = time_ns
            data[at + 4] = max(data[at + 4], price)
            data[at + 5] = min(data[at + 5], price)
            data[at + 6] = price
            data[at + 7] += size
            data[at + 8] += 1
        else:
            data.extend((minute, time_ns, time_ns, price, price, price, price, size, 1))


class Retention:
    """Every symbol's recent trades and quotes, minute candles and USD rates, kept for REST (see the module doc)."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        window_ns: int,
        bar_window_ns: int,
        start_ns: int,
        book_of: Callable[[str], Book] | None = None,
    ) -> None:
        """``book_of``: the live book of a symbol, to keep book changes for order-book history (None: none kept)."""
        self.window_ns = window_ns
        #: every symbol's retained book changes (with ``book_of``)
        self.books = None if book_of is None else BookHistory(book_of)
        self.bar_window_ns = max(bar_window_ns, window_ns)
        #: the market's start: nothing before it was published
        self.start_ns = start_ns
        self._tapes = {symbol.symbol_id: _Tape(symbol.symbol_id) for symbol in catalog.symbols}
        self._rates: dict[str, _Rows] = {}
        #: virtual time of the last eviction: what is retained is counted back from it
        self.now_ns = start_ns
        #: what has been forgotten: nothing before these times is retained any more (0: nothing forgotten yet)
        self._trades_forgotten_before = 0
        self._bars_forgotten_before = 0

    # -- recording (the feed's hot path) ------------------------------------------------------------------------

    def record_trade(self, trade: Trade, time_coinapi_ns: int) -> None:
        """Keep a published trade."""
        tape = self._tapes[trade.symbol_id]
        tape.trades.data.extend(
            (trade.time_exchange_ns, time_coinapi_ns, trade.price_ticks, trade.size_lots, _SIDE_CODE[trade.taker_side])
        )
        tape.uuids += bytes.fromhex(trade.uuid.replace("-", ""))

    def record_quote(self, quote: Quote, time_coinapi_ns: int) -> None:
        """Keep a published quote."""
        self._tapes[quote.symbol_id].quotes.data.extend(
            (
                quote.time_exchange_ns,
                time_coinapi_ns,
                quote.ask_price_ticks,
                quote.ask_size_lots,
                quote.bid_price_ticks,
                quote.bid_size_lots,
            )
        )

    def record_rate(self, rate: ExchangeRate) -> None:
        """Keep an asset's USD rate (one a virtual second); stored as 1e-12 units so the column stays integer."""
        rows = self._rates.get(rate.asset_id_base)
        if rows is None:
            rows = self._rates[rate.asset_id_base] = _Rows(2)
        rows.data.extend((rate.time_ns, round(rate.rate * 1e12)))

    def evict(self, now_ns: int) -> None:
        """Forget what left the windows at virtual time ``now_ns``; cheap enough to call a few times a second."""
        self.now_ns = now_ns
        trade_cut, bar_cut = self.trades_from_ns(), self.bars_from_ns()
        if trade_cut > self.start_ns:
            self._trades_forgotten_before = trade_cut
        if bar_cut > self.start_ns - self.start_ns % _NS_PER_MIN:
            self._bars_forgotten_before = bar_cut
        for tape in self._tapes.values():
            tape.fold_trades_before(trade_cut)
            tape.quotes.evict_before(trade_cut)
            tape.quotes.compact()
            tape.bars.evict_before(bar_cut)
            tape.bars.compact()
        for rows in self._rates.values():
            rows.evict_before(bar_cut)
            rows.compact()
        if self.books is not None:
            self.books.forget_before(trade_cut)

    # -- reading (REST) -----------------------------------------------------------------------------------------

    def trades_from_ns(self) -> int:
        """Virtual time from which trades and quotes are retained: whole minutes, so that a minute's candle is
        either folded from all its trades or still made from them."""
        since = self.now_ns - self.window_ns
        return max(self.start_ns, since - since % _NS_PER_MIN)

    def bars_from_ns(self) -> int:
        """Virtual time from which candles of a minute and longer are retained (a whole minute)."""
        since = max(self.start_ns, self.now_ns - self.bar_window_ns)
        return since - since % _NS_PER_MIN

    def trades(self, symbol_id: str, time_start_ns: int, time_end_ns: int, limit: int) -> list[RetainedTrade]:
        """Trades with ``time_start <= time_exchange < time_end``, oldest first, at most ``limit``."""
        self._check_since(time_start_ns, self._trades_forgotten_before, "trades and quotes")
        tape = self._tapes[symbol_id]
        rows = _window(tape.trades, time_start_ns, time_end_ns)
        return [tape.trade(row) for row in rows[:limit]]

    def latest_trades(self, symbol_id: str, limit: int) -> list[RetainedTrade]:
        """The ``limit`` newest trades, newest first."""
        tape = self._tapes[symbol_id]
        return [tape.trade(row) for row in range(tape.trades.end - 1, tape.trades.start - 1, -1)[:limit]]

    def quotes(self, symbol_id: str, time_start_ns: int, time_end_ns: int, limit: int) -> list[RetainedQuote]:
        """Quotes with ``time_start <= time_exchange < time_end``, oldest first, at most ``limit``."""
        self._check_since(time_start_ns, self._trades_forgotten_before, "trades and quotes")
        tape = self._tapes[symbol_id]
        return [tape.quote(row) for row in _window(tape.quotes, time_start_ns, time_end_ns)[:limit]]

    def latest_quotes(self, symbol_id: str, limit: int) -> list[RetainedQuote]:
        """The ``limit`` newest quotes, newest first."""
        tape = self._tapes[symbol_id]
        return [tape.quote(row) for row in range(tape.quotes.end - 1, tape.quotes.start - 1, -1)[:limit]]

    def book_snapshots(
        self, symbol_id: str, time_start_ns: int, time_end_ns: int, limit: int, levels: int
    ) -> list[BookSnapshot]:
        """The book after each change in ``[time_start, time_end)``, oldest first, at most ``limit``."""
        self._check_since(time_start_ns, self._trades_forgotten_before, "order books")
        if self.books is None:
            return []
        return list(islice(self.books.snapshots(symbol_id, time_start_ns, time_end_ns, levels), limit))

    def latest_book_snapshots(self, symbol_id: str, limit: int, levels: int) -> list[BookSnapshot]:
        """The book after each of the ``limit`` newest changes, newest first."""
        if self.books is None:
            return []
        newest = deque(self.books.snapshots(symbol_id, 0, _END_OF_TIME, levels), maxlen=limit)
        return list(reversed(newest))

    def last_trade(self, symbol_id: str) -> RetainedTrade | None:
        """The symbol's newest retained trade."""
        newest = self.latest_trades(symbol_id, 1)
        return newest[0] if newest else None

    def minute_bars(self, symbol_id: str, time_start_ns: int, time_end_ns: int) -> Iterator[Bar]:
        """The symbol's minute candles starting in ``[time_start, time_end)``, from retained trades and from the
        candles folded out of them; the newest may still be open."""
        self._check_since(time_start_ns, self._bars_forgotten_before, "candles")
        tape = self._tapes[symbol_id]
        bars = tape.bars
        for row in _window(bars, time_start_ns, time_end_ns):
            yield _bar(symbol_id, *bars.row(row))
        yield from _minutes_of(symbol_id, tape, max(time_start_ns, _after_last_bar(bars)), time_end_ns)

    def rate_usd(self, asset_id: str, time_ns: int) -> float | None:
        """The asset's USD rate at the last whole second at or before ``time_ns``; None before the first one."""
        if asset_id == "USD":
            return 1.0
        self._check_since(time_ns, self._bars_forgotten_before, "exchange rates")
        rows = self._rates.get(asset_id)
        if rows is None:
            return None
        row = rows.first_at_or_after(time_ns + 1) - 1
        return rows.row(row)[1] / 1e12 if row >= rows.start else None

    @staticmethod
    def _check_since(time_ns: int, since_ns: int, what: str) -> None:
        if time_ns < since_ns:
            raise RetentionWindowError(
                f"{what} are retained from {format_time(since_ns)}; asked from {format_time(time_ns)}"
            )


def _window(rows: _Rows, time_start_ns: int, time_end_ns: int) -> range:
    lo = rows.first_at_or_after(time_start_ns)
    return range(lo, rows.first_at_or_after(time_end_ns, lo))


def _after_last_bar(bars: _Rows) -> int:
    return bars.row(bars.end - 1)[0] + _NS_PER_MIN if bars.end > bars.start else 0


def _minutes_of(symbol_id: str, tape: _Tape, time_start_ns: int, time_end_ns: int) -> Iterator[Bar]:
    """Minute candles folded on the fly from the tape's retained trades."""
    current: list[int] | None = None
    for row in _window(tape.trades, time_start_ns, time_end_ns):
        time_ns, _, price, size, _ = tape.trades.row(row)
        minute = time_ns - time_ns % _NS_PER_MIN
        if current is not None and current[0] == minute:
            current[2], current[6] = time_ns, price
            current[4], current[5] = max(current[4], price), min(current[5], price)
            current[7] += size
            current[8] += 1
            continue
        if current is not None:
            yield _bar(symbol_id, *current)
        current = [minute, time_ns, time_ns, price, price, price, price, size, 1]
    if current is not None:
        yield _bar(symbol_id, *current)


def _bar(
    symbol_id: str,
    start: int,
    time_open: int,
    time_close: int,
    open_: int,
    high: int,
    low: int,
    close: int,
    volume: int,
    count: int,
) -> Bar:
    return Bar(
        symbol_id, "1MIN", start, start + _NS_PER_MIN, time_open, time_close, open_, high, low, close, volume, count,
        True, start + _NS_PER_MIN, 0,
    )  # fmt: skip


def aggregate(bars: Iterable[Bar], period_id: str, length_ns: int) -> list[Bar]:
    """Candles of ``length_ns`` from shorter ones of the same symbol, in time order (epoch-aligned periods)."""
    out: list[Bar] = []
    for bar in bars:
        start = bar.time_period_start_ns - bar.time_period_start_ns % length_ns
        if out and out[-1].time_period_start_ns == start:
            last = out[-1]
            out[-1] = replace(
                last,
                time_close_ns=bar.time_close_ns,
                price_high_ticks=max(last.price_high_ticks, bar.price_high_ticks),
                price_low_ticks=min(last.price_low_ticks, bar.price_low_ticks),
                price_close_ticks=bar.price_close_ticks,
                volume_traded_lots=last.volume_traded_lots + bar.volume_traded_lots,
                trades_count=last.trades_count + bar.trades_count,
            )
        else:
            end_ns = start + length_ns
            out.append(
                replace(bar, period_id=period_id, time_period_start_ns=start, time_period_end_ns=end_ns, time_ns=end_ns)
            )
    return out


def bars_from_trades(trades: Iterable[RetainedTrade], period_id: str, length_ns: int) -> list[Bar]:
    """Candles of any period straight from trades (oldest first): what the live engine folds them into."""
    return aggregate((_trade_bar(retained.trade) for retained in trades), period_id, length_ns)


def _trade_bar(trade: Trade) -> Bar:
    t, price = trade.time_exchange_ns, trade.price_ticks
    return _bar(trade.symbol_id, t, t, t, price, price, price, price, trade.size_lots, 1)
