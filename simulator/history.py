"""Market history before the start (``--history``): OHLCV candles and USD rates, generated backward from the
live market's start state, so that a bot can warm its indicators over REST, and the trades and quotes inside the
candles (drawn from each minute's candle by ``history_ticks.py``) and the order books behind those quotes
(``history_books.py``).

Nothing is stored up front: a request generates what it covers, a few hours at a time, and every number is a
function of (seed, ids, hour), so the same history comes out whatever the order or the windows of the requests.

* Each asset has a log-USD path, written as its offset from the asset's rate at the start (0 at ``start_ns``):
  Brownian motion drawn backward hour by hour, with minute points on Brownian bridges (``history_paths.py``).
* A symbol's price is ``mid * exp(offset(base) - offset(quote))`` with ``mid`` its price at the start (the live
  mid), so history closes exactly where the live market opens. Futures, perpetuals and options follow their
  base/quote pair this way: no carry, basis or option value before the start.
* A minute's candle opens and closes on the path; its high and low are drawn from the law of the maximum
  (minimum) of a Brownian bridge between open and close with the pair's variance per minute. Its trades are
  Poisson with the symbol's trade rate (a minute without trades has no candle, as live), its volume the count
  times the mean size of a live trade (150 USD, Pareto sizes) with lognormal noise. Longer periods aggregate
  the minutes inside them, so every period agrees with every other.
* Exchange rates follow the asset paths at minute resolution: ``rate_usd(t)`` is the rate at the last minute
  boundary at or before ``t`` (the anchor at ``start_ns``); rate candles are built like price candles.

Pure: no wall clock, no I/O; every draw comes from a ``random.Random`` seeded by ``stable_seed``.
"""

from __future__ import annotations

import functools
import math
import random
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice, pairwise
from operator import attrgetter
from typing import TypeVar

from coinapi_emulator.simulator.book import Book
from coinapi_emulator.simulator.catalog import Catalog, Symbol
from coinapi_emulator.simulator.events import Bar, Quote, Trade
from coinapi_emulator.simulator.flow import SIZE_CAP, SIZE_TAIL
from coinapi_emulator.simulator.history_books import BookSides, Depth, DepthSizes, book_at
from coinapi_emulator.simulator.history_paths import HOUR_NS as HOUR_NS
from coinapi_emulator.simulator.history_paths import MINUTE_NS as MINUTE_NS
from coinapi_emulator.simulator.history_paths import MINUTE_VARIANCE, AssetPaths, pair_variance
from coinapi_emulator.simulator.history_ticks import (
    QUOTES_PER_BOOK_CHANGE,
    Candle,
    Touch,
    minute_quotes,
    minute_trades,
    tradable_extremes,
)
from coinapi_emulator.simulator.ohlcv import PERIOD_SECONDS
from coinapi_emulator.simulator.rng import stable_seed

#: The error message of a period that history does not have.
PERIODS_MESSAGE = "history before the start has periods from 1MIN to 10DAY"
#: Median trade notional in USD, as market.py's, and the mean of live's capped Pareto trade sizes in its units.
_TRADE_USD = 150.0
_MEAN_SIZE = SIZE_TAIL / (SIZE_TAIL - 1.0) - SIZE_CAP ** (1.0 - SIZE_TAIL) / (SIZE_TAIL - 1.0)
#: A generous bound on trades per minute (live's busiest symbol makes ~600): keeps a custom catalogue cheap.
_MAX_TRADES_PER_MINUTE = 6000.0
#: Above this mean, a minute's Poisson count is drawn from its normal approximation (one draw, not a walk).
_POISSON_NORMAL_FROM = 30.0
#: Cache bounds, in hours: minute candles of a symbol or a rate pair (~4 KB each), aggregated hours (~0.3 KB);
#: with the asset paths' (``history_paths``), ~25 MB at most.
_MINUTE_CACHE, _HOUR_CACHE = 512, 16384

_exp, _log, _sqrt, _floor, _cos, _sin = math.exp, math.log, math.sqrt, math.floor, math.cos, math.sin
_TAU = math.tau
# minute arrays hold a Candle (history_ticks) of _STRIDE values per minute
_STRIDE = 8
#: Minutes of trades and quotes kept (a busy symbol's minute is ~0.3 MB of them).
_TICK_CACHE = 32
_Tick = TypeVar("_Tick", Trade, Quote)
_time_of = attrgetter("time_exchange_ns")
# a rate candle: open, high, low, close
RateCandle = tuple[float, float, float, float]


@dataclass(frozen=True, slots=True)
class RateBar:
    """An exchange-rate candle of ``base/quote`` before the start; the close is the rate at the period's end."""

    time_period_start_ns: int
    time_period_end_ns: int
    time_open_ns: int
    time_close_ns: int
    rate_open: float
    rate_high: float
    rate_low: float
    rate_close: float


@dataclass(frozen=True, slots=True)
class HistoryWork:
    """What a ``MarketHistory`` has generated so far: for tests and diagnostics of its cost."""

    #: assets whose hourly path was drawn
    assets: frozenset[str]
    #: (asset, hour) minute paths built, counting rebuilds after eviction
    asset_hours: int
    #: (symbol, hour) minute candles built, counting rebuilds after eviction
    candle_hours: int


@dataclass(frozen=True, slots=True, eq=False)
class _SymbolSpec:
    """What the minute candles of one symbol need, worked out once (and hashed by identity: one per symbol)."""

    symbol: Symbol
    mid_ticks: float
    #: twice the variance of the pair's log price over one minute
    var2: float
    trades_mean: float
    #: the USD value of one lot is ``lot_usd * rate_usd(lot_asset)``
    lot_asset: str
    lot_usd: float
    #: the spread and sizes of its quotes
    touch: Touch


class MarketHistory:
    """OHLCV and USD rates for [start_ns - span_ns, start_ns), ending at the live market's start state.

    ``anchor_mid_ticks(symbol_id)`` is a symbol's price in ticks at ``start_ns`` (the live book's mid) and
    ``anchor_rate_usd(asset_id)`` an asset's USD rate then; both are asked only for the ids requested.
    A request costs what it covers for its symbol or assets, never anything of the rest of the catalogue.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        seed: int,
        start_ns: int,
        span_ns: int,
        anchor_mid_ticks: Callable[[str], float],
        anchor_rate_usd: Callable[[str], float],
        anchor_book: Callable[[str], Book],
    ) -> None:
        if span_ns < 0:
            raise ValueError("the history span cannot be negative")
        self._catalog, self._seed, self._start, self._first = catalog, seed, start_ns, start_ns - span_ns
        self._anchor_mid, self._anchor_rate, self._anchor_book = anchor_mid_ticks, anchor_rate_usd, anchor_book
        self._paths = AssetPaths(catalog, seed=seed, start_ns=start_ns)
        self._asset_minutes = self._paths.minutes
        self._rates: dict[str, float] = {}
        self._specs: dict[str, _SymbolSpec] = {}
        self._depths: dict[str, Depth] = {}
        # bounded caches of what costs: per instance, so that a history and its caches go together
        cache = functools.lru_cache
        self._minute_candles = cache(_MINUTE_CACHE)(self._build_candles)
        self._hour_candle = cache(_HOUR_CACHE)(self._build_hour)
        self._rate_minutes = cache(_MINUTE_CACHE)(self._build_rate_candles)
        self._rate_hour = cache(_HOUR_CACHE)(self._build_rate_hour)
        self._minute_trades = cache(_TICK_CACHE)(self._build_trades)
        self._minute_quotes = cache(_TICK_CACHE)(self._build_quotes)
        self._depth_sizes = cache(_TICK_CACHE)(self._build_depth_sizes)
        self._candle_hours = 0

    @property
    def first_ns(self) -> int:
        """The start of the history: ``start_ns - span_ns``."""
        return self._first

    @property
    def work(self) -> HistoryWork:
        """What has been generated so far."""
        return HistoryWork(self._paths.assets, self._paths.built_hours, self._candle_hours)

    # -- public queries -----------------------------------------------------------------------------------------

    def bars(self, symbol_id: str, period_id: str, time_start_ns: int, time_end_ns: int, limit: int) -> list[Bar]:
        """Final candles starting in ``[time_start, time_end)`` and ending by the start, oldest first, at most
        ``limit``; only candles with trades exist. ValueError for an unknown symbol or a period under 1MIN or
        of calendar length."""
        length = _period_ns(period_id)
        return self._collect(symbol_id, period_id, self._starts(length, time_start_ns, time_end_ns), limit)

    def rate_usd(self, asset_id: str, time_ns: int) -> float:
        """The asset's USD rate at ``time_ns`` (at minute resolution; 1.0 for USD).

        ValueError for an unknown asset or a time outside ``[first_ns, start_ns]``.
        """
        anchor = self._rate(asset_id)
        if not self._first <= time_ns <= self._start:
            raise ValueError("the history has rates from its first time to the market's start only")
        if time_ns == self._start:
            return anchor
        minute = time_ns - time_ns % MINUTE_NS
        hour = minute // HOUR_NS
        return anchor * _exp(self._asset_minutes(asset_id, hour)[(minute - hour * HOUR_NS) // MINUTE_NS])

    def rate_bars(
        self, base: str, quote: str, period_id: str, time_start_ns: int, time_end_ns: int, limit: int
    ) -> list[RateBar]:
        """Rate candles of ``base/quote`` starting in ``[time_start, time_end)`` and ending by the start, oldest
        first, at most ``limit``: every period has one. Periods and errors as in ``bars``."""
        for asset_id in (base, quote):
            self._rate(asset_id)
        length = _period_ns(period_id)
        out: list[RateBar] = []
        for start in self._starts(length, time_start_ns, time_end_ns)[: max(limit, 0)]:
            o, h, lo, c = self._rate_candle(base, quote, start, length)
            out.append(RateBar(start, start + length, start, start + length, o, h, lo, c))
        return out

    def trades(self, symbol_id: str, time_start_ns: int, time_end_ns: int, limit: int) -> list[Trade]:
        """Trades with ``time_start <= time_exchange < time_end`` in the whole minutes of the history, oldest first,
        at most ``limit``: the ticks of the 1MIN candles (``history_ticks.py``). ValueError for an unknown symbol."""
        return list(islice(chain.from_iterable(self.trade_minutes(symbol_id, time_start_ns, time_end_ns)), limit))

    def quotes(self, symbol_id: str, time_start_ns: int, time_end_ns: int, limit: int) -> list[Quote]:
        """Quotes with ``time_start <= time_exchange < time_end`` in the whole minutes of the history, oldest first,
        at most ``limit`` (``history_ticks.py``). ValueError for an unknown symbol."""
        return list(islice(chain.from_iterable(self.quote_minutes(symbol_id, time_start_ns, time_end_ns)), limit))

    def trade_minutes(self, symbol_id: str, time_start_ns: int, time_end_ns: int) -> Iterator[list[Trade]]:
        """What ``trades`` reads, a minute at a time (a list each, empty for a minute without trades), for a caller
        that hands control back between minutes. ValueError for an unknown symbol, at once."""
        return self._minutes(self._minute_trades, symbol_id, time_start_ns, time_end_ns)

    def quote_minutes(self, symbol_id: str, time_start_ns: int, time_end_ns: int) -> Iterator[list[Quote]]:
        """What ``quotes`` reads, a minute at a time, as ``trade_minutes``."""
        return self._minutes(self._minute_quotes, symbol_id, time_start_ns, time_end_ns)

    def newest_trades(self, symbol_ids: Sequence[str], limit: int, found: Sequence[Trade] = ()) -> list[Trade]:
        """The ``limit`` newest trades of the symbols in the history and of ``found``, newest first, ties in the
        order of ``found`` then ``symbol_ids``: what ``/latest`` shows beyond the market's own. ``found``: what an
        earlier call returned, for a caller that goes through many symbols a group at a time. Every symbol's last
        minute is built (~0.5 ms). ValueError for an unknown symbol."""
        return self._newest(self._minute_trades, symbol_ids, limit, found)

    def newest_quotes(self, symbol_ids: Sequence[str], limit: int, found: Sequence[Quote] = ()) -> list[Quote]:
        """The ``limit`` newest quotes of the symbols in the history and of ``found``, as ``newest_trades``."""
        return self._newest(self._minute_quotes, symbol_ids, limit, found)

    def books(self, quotes: Iterable[Quote], levels: int) -> list[BookSides]:
        """The book after each of ``quotes`` (its best ``levels`` a side, at least 1), at the quote's time: the
        history's own quotes, as ``quotes``, ``quote_minutes`` and ``newest_quotes`` give them
        (``history_books.py``)."""
        out = []
        for quote in quotes:
            spec = self._spec(quote.symbol_id)
            minute = quote.time_exchange_ns - quote.time_exchange_ns % MINUTE_NS
            out.append(book_at(quote, self._depth(quote.symbol_id), self._depth_sizes(spec, minute), levels))
        return out

    # -- ticks --------------------------------------------------------------------------------------------------

    def _newest(
        self,
        build: Callable[[_SymbolSpec, int], list[_Tick]],
        symbol_ids: Sequence[str],
        limit: int,
        found: Sequence[_Tick],
    ) -> list[_Tick]:
        """Each symbol's minutes backward from the last whole one, until it has ``limit`` ticks or its minutes are
        older than the ``limit``-th newest tick found so far (so that only the first symbols of a busy catalogue
        go back further than a minute)."""
        specs = [self._spec(symbol_id) for symbol_id in symbol_ids]
        minutes = self._whole_minutes()[::-1]
        newest = list(found)
        for spec in specs:
            cutoff = newest[limit - 1].time_exchange_ns if len(newest) >= limit else None
            ticks: list[_Tick] = []
            for minute in minutes:
                if len(ticks) >= limit or (cutoff is not None and minute + MINUTE_NS <= cutoff):
                    break
                ticks += reversed(build(spec, minute))
            # a stable sort: ties keep the symbols' order, and a symbol's own newest first
            newest = sorted(newest + ticks, key=_time_of, reverse=True)[:limit]
        return newest

    def _minutes(
        self, build: Callable[[_SymbolSpec, int], list[_Tick]], symbol_id: str, start: int, end: int
    ) -> Iterator[list[_Tick]]:
        """What ``build`` makes of each whole minute of the history in the window, within it."""
        spec = self._spec(symbol_id)
        whole = self._whole_minutes()
        minutes = range(max(start - start % MINUTE_NS, whole.start), min(end, whole.stop), MINUTE_NS)
        return ([tick for tick in build(spec, minute) if start <= tick.time_exchange_ns < end] for minute in minutes)

    def _whole_minutes(self) -> range:
        """The starts of the history's whole minutes (those with a candle's worth of ticks), oldest first."""
        return range(-(-self._first // MINUTE_NS) * MINUTE_NS, self._start - MINUTE_NS + 1, MINUTE_NS)

    def _candle_of_minute(self, spec: _SymbolSpec, minute: int) -> Candle:
        hour = minute // HOUR_NS
        at = (minute - hour * HOUR_NS) // MINUTE_NS * _STRIDE
        t_open, t_close, o, h, lo, c, volume, count = self._minute_candles(spec, hour)[at : at + _STRIDE]
        return t_open, t_close, o, h, lo, c, volume, count

    def _build_trades(self, spec: _SymbolSpec, minute: int) -> list[Trade]:
        candle, symbol_id = self._candle_of_minute(spec, minute), spec.symbol.symbol_id
        if not candle[7]:
            return []
        rand = random.Random(stable_seed(self._seed, "history-trades", symbol_id, str(minute // MINUTE_NS)))
        return minute_trades(symbol_id, candle, rand)

    def _build_depth_sizes(self, spec: _SymbolSpec, minute: int) -> DepthSizes:
        rand = random.Random(stable_seed(self._seed, "history-books", spec.symbol.symbol_id, str(minute // MINUTE_NS)))
        return self._depth(spec.symbol.symbol_id).sizes_of_minute(rand)

    def _build_quotes(self, spec: _SymbolSpec, minute: int) -> list[Quote]:
        symbol_id, open_ticks = spec.symbol.symbol_id, self._candle_of_minute(spec, minute)[2]
        rand = random.Random(stable_seed(self._seed, "history-quotes", symbol_id, str(minute // MINUTE_NS)))
        return minute_quotes(symbol_id, minute, open_ticks, self._minute_trades(spec, minute), spec.touch, rand)

    # -- periods ------------------------------------------------------------------------------------------------

    def _collect(self, symbol_id: str, period_id: str, starts: range, limit: int) -> list[Bar]:
        """The bars of the periods at ``starts``, in that order, until there are ``limit``."""
        spec, length = self._spec(symbol_id), abs(starts.step)
        out: list[Bar] = []
        for start in starts:
            if len(out) >= limit:
                break
            candle = self._candle(spec, start, length)
            if candle is not None:
                out.append(_bar(symbol_id, period_id, start, length, candle))
        return out

    def _starts(self, length: int, time_start_ns: int, time_end_ns: int) -> range:
        """Starts of the periods that begin in the window (and after ``first_ns``) and end by the start."""
        low = max(time_start_ns, self._first)
        return range(-(-low // length) * length, min(time_end_ns, self._start - length + 1), length)

    def _candle(self, spec: _SymbolSpec, start: int, length: int) -> Candle | None:
        """The symbol's candle of the period at ``start``: folded from its hours, or from its minutes."""
        if length >= HOUR_NS:
            hours = range(start // HOUR_NS, (start + length) // HOUR_NS)
            return _fold([self._hour_candle(spec, hour) for hour in hours])
        hour = start // HOUR_NS
        first = (start - hour * HOUR_NS) // MINUTE_NS
        return _fold_minutes(self._minute_candles(spec, hour), first, first + length // MINUTE_NS)

    def _build_hour(self, spec: _SymbolSpec, hour: int) -> Candle | None:
        return _fold_minutes(self._minute_candles(spec, hour), 0, 60)

    def _rate_candle(self, base: str, quote: str, start: int, length: int) -> RateCandle:
        if length >= HOUR_NS:
            hours = range(start // HOUR_NS, (start + length) // HOUR_NS)
            candles = [self._rate_hour(base, quote, hour) for hour in hours]
            return candles[0][0], max(c[1] for c in candles), min(c[2] for c in candles), candles[-1][3]
        hour = start // HOUR_NS
        first = (start - hour * HOUR_NS) // MINUTE_NS
        return _fold_rates(self._rate_minutes(base, quote, hour), first, first + length // MINUTE_NS)

    def _build_rate_hour(self, base: str, quote: str, hour: int) -> RateCandle:
        return _fold_rates(self._rate_minutes(base, quote, hour), 0, 60)

    # -- anchors and specs --------------------------------------------------------------------------------------

    def _rate(self, asset_id: str) -> float:
        rate = self._rates.get(asset_id)
        if rate is None:
            if self._catalog.asset(asset_id) is None:
                raise ValueError(f"unknown asset_id {asset_id!r}")
            rate = self._rates[asset_id] = self._anchor_rate(asset_id)
        return rate

    def _spec(self, symbol_id: str) -> _SymbolSpec:
        spec = self._specs.get(symbol_id)
        if spec is None:
            spec = self._specs[symbol_id] = self._make_spec(symbol_id)
        return spec

    def _make_spec(self, symbol_id: str) -> _SymbolSpec:
        symbol = self._catalog.symbol(symbol_id)
        base = quote = None
        if symbol is not None:
            base, quote = self._catalog.asset(symbol.asset_id_base), self._catalog.asset(symbol.asset_id_quote)
        if symbol is None or base is None or quote is None:
            raise ValueError(f"unknown symbol_id {symbol_id!r}")
        lot = 10.0**-symbol.size_decimals
        # as the live market: an inverse contract's lot is worth a fixed amount of its quote currency
        if symbol.contract_unit_asset == symbol.asset_id_quote:
            lot_asset, lot_usd = quote.asset_id, lot * (symbol.contract_unit or 1.0)
        else:
            lot_asset, lot_usd = base.asset_id, lot
        return _SymbolSpec(
            symbol,
            self._anchor_mid(symbol_id),
            2.0 * pair_variance(base, quote) * MINUTE_VARIANCE,
            min(symbol.trade_rate * 60.0, _MAX_TRADES_PER_MINUTE),
            lot_asset,
            lot_usd,
            self._touch(symbol),
        )

    def _touch(self, symbol: Symbol) -> Touch:
        """The symbol's quotes as its live book starts: its spread, the median size of its five best levels a
        side, and its book-change rate."""
        asks, bids = self._anchor_book(symbol.symbol_id).top(5)
        sizes = sorted(level.size_lots for level in (*asks, *bids))
        spread = asks[0].price_ticks - bids[0].price_ticks
        return Touch(spread, float(sizes[len(sizes) // 2]), QUOTES_PER_BOOK_CHANGE * symbol.book_rate * 60.0)

    def _depth(self, symbol_id: str) -> Depth:
        """The shape of the symbol's live opening book behind its touch: read for books only, once a symbol."""
        depth = self._depths.get(symbol_id)
        if depth is None:
            book = self._anchor_book(symbol_id)
            depth = self._depths[symbol_id] = Depth.of(*book.top(max(book.depth())))
        return depth

    # -- minute candles -----------------------------------------------------------------------------------------

    def _build_candles(self, spec: _SymbolSpec, hour: int) -> array[int]:
        """The symbol's candles of the hour's whole minutes (``_STRIDE`` values each; 0 trades: no candle)."""
        self._candle_hours += 1
        symbol, begin = spec.symbol, hour * HOUR_NS
        n = min(HOUR_NS, self._start - begin) // MINUTE_NS
        base = self._asset_minutes(symbol.asset_id_base, hour)
        quote = self._asset_minutes(symbol.asset_id_quote, hour)
        offsets = [b - q for b, q in zip(base[: n + 1], quote[: n + 1], strict=True)]
        # each part of the hour's candles is drawn for all its minutes at once: comprehensions are cheap
        rand = random.Random(stable_seed(self._seed, "history-candles", symbol.symbol_id, str(hour))).random
        counts, volumes = self._trades(spec, hour, rand, n)
        highs, lows = _extremes(rand, offsets, spec.var2)
        times = _trade_times(rand, counts, begin)
        mid = spec.mid_ticks
        ticks = [round(mid * _exp(x)) or 1 for x in offsets]
        flat: list[int] = []
        for i, count in enumerate(counts):
            o, c = ticks[i], ticks[i + 1]
            if count <= 0:  # no candle; its open is where the path stands, for the minute's quotes
                flat += (0, 0, o, o, o, o, 0, 0)
                continue
            top, bottom = (o, c) if o > c else (c, o)
            high, low = round(mid * _exp(highs[i])), round(mid * _exp(lows[i]))
            # rounding must not put the high below the open or close, nor the low above them (nor under a tick)
            o, high, low = tradable_extremes(
                count, o, high if high > top else top, low if 0 < low < bottom else bottom, c
            )
            flat += (*times[i], o, high, low, c, volumes[i] if volumes[i] > count else count, count)
        return array("q", flat)

    def _trades(self, spec: _SymbolSpec, hour: int, rand: Callable[[], float], n: int) -> tuple[list[int], list[int]]:
        """Trade counts and volumes (lots) of the hour's ``n`` minutes: Poisson counts, and volumes lognormal
        around ``count`` mean-sized trades, whose noise shrinks slowly with the count (heavy-tailed sizes)."""
        mean = spec.trades_mean
        # two normals per minute at once (Box-Muller): the count's and the volume's
        polar = [(_sqrt(-2.0 * _log(1.0 - rand())), _TAU * rand()) for _ in range(n)]
        if mean >= _POISSON_NORMAL_FROM:
            root = _sqrt(mean)
            counts = [round(mean + root * r * _cos(a)) for r, a in polar]
        else:
            zero = _exp(-mean)
            counts = [_poisson(rand(), mean, zero) for _ in range(n)]
        size = _TRADE_USD * _MEAN_SIZE / (spec.lot_usd * self._rate(spec.lot_asset))
        lot_rate = self._asset_minutes(spec.lot_asset, hour)
        volumes = [
            round(k * size * _exp(0.8 * k**-0.3 * r * _sin(a) - 0.32 * k**-0.6 - x)) if k > 0 else 0
            for k, (r, a), x in zip(counts, polar, lot_rate[:n], strict=True)
        ]
        return counts, volumes

    def _build_rate_candles(self, base: str, quote: str, hour: int) -> array[float]:
        """Rate candles (open, high, low, close) of ``base/quote`` for the hour's whole minutes."""
        base_asset, quote_asset = self._catalog.asset(base), self._catalog.asset(quote)
        assert base_asset is not None and quote_asset is not None  # ids are checked by rate_bars
        n = min(HOUR_NS, self._start - hour * HOUR_NS) // MINUTE_NS
        b, q = self._asset_minutes(base, hour), self._asset_minutes(quote, hour)
        offsets = [x - y for x, y in zip(b[: n + 1], q[: n + 1], strict=True)]
        rand = random.Random(stable_seed(self._seed, "rate", base, quote, str(hour))).random
        highs, lows = _extremes(rand, offsets, 2.0 * pair_variance(base_asset, quote_asset) * MINUTE_VARIANCE)
        rate = self._rate(base) / self._rate(quote)
        rates = [rate * _exp(x) for x in offsets]
        flat: list[float] = []
        for i in range(n):
            o, c = rates[i], rates[i + 1]
            flat += (o, max(rate * _exp(highs[i]), o, c), min(rate * _exp(lows[i]), o, c), c)
        return array("d", flat)


def _trade_times(rand: Callable[[], float], counts: list[int], begin: int) -> list[tuple[int, int]]:
    """First and last trade times of each minute's ``count`` trades, uniform in it, at microsecond resolution."""
    out: list[tuple[int, int]] = []
    for i, count in enumerate(counts):
        minute_ns = begin + i * MINUTE_NS
        if count <= 1:
            first = last = rand()
        else:
            first, last = 1.0 - (1.0 - rand()) ** (1.0 / count), rand() ** (1.0 / count)
            if last < first:
                first, last = last, first
        out.append((minute_ns + _floor(first * 60e6) * 1000, minute_ns + _floor(last * 60e6) * 1000))
    return out


def _poisson(u: float, mean: float, zero: float) -> int:
    """The Poisson(mean) count at the uniform ``u`` (inversion); ``zero`` is exp(-mean)."""
    k, p = 0, zero
    cdf = p
    while u > cdf and k < 1000:
        k += 1
        p *= mean / k
        cdf += p
    return k


def _extremes(rand: Callable[[], float], offsets: list[float], var2: float) -> tuple[list[float], list[float]]:
    """Highs and lows of Brownian bridges between consecutive ``offsets`` with variance ``var2 / 2``, by
    inverting the laws of their maximum and minimum: P(max > m) = exp(-2 (m - a)(m - b) / variance)."""
    pairs = list(pairwise(offsets))
    highs = [0.5 * (a + b + _sqrt((b - a) ** 2 - var2 * _log(1.0 - rand()))) for a, b in pairs]
    lows = [0.5 * (a + b - _sqrt((b - a) ** 2 - var2 * _log(1.0 - rand()))) for a, b in pairs]
    return highs, lows


def _period_ns(period_id: str) -> int:
    seconds = PERIOD_SECONDS.get(period_id, 0)
    if seconds < 60:
        raise ValueError(f"period_id {period_id!r}: {PERIODS_MESSAGE}")
    return seconds * 1_000_000_000


def _fold(candles: Sequence[Sequence[int] | None]) -> Candle | None:
    """One candle from consecutive ones (None: no trades)."""
    rows = [c for c in candles if c is not None]
    if not rows:
        return None
    first, last = rows[0], rows[-1]
    high, low = max(r[3] for r in rows), min(r[4] for r in rows)
    return first[0], last[1], first[2], high, low, last[5], sum(r[6] for r in rows), sum(r[7] for r in rows)


def _fold_minutes(minutes: array[int], first: int, end: int) -> Candle | None:
    """One candle from the minutes ``first`` to ``end`` (excluded) of an hour's minute array."""
    span = range(first * _STRIDE, min(end * _STRIDE, len(minutes)), _STRIDE)
    return _fold([minutes[at : at + _STRIDE] for at in span if minutes[at + 7]])


def _fold_rates(minutes: array[float], first: int, end: int) -> RateCandle:
    """One rate candle from the minutes ``first`` to ``end`` (excluded) of an hour's rate array."""
    return (
        minutes[4 * first],
        max(minutes[4 * first + 1 : 4 * end : 4]),
        min(minutes[4 * first + 2 : 4 * end : 4]),
        minutes[4 * end - 1],
    )


def _bar(symbol_id: str, period_id: str, start: int, length: int, candle: Candle) -> Bar:
    t_open, t_close, o, h, lo, c, volume, count = candle
    end = start + length
    return Bar(symbol_id, period_id, start, end, t_open, t_close, o, h, lo, c, volume, count, True, end, 0)
