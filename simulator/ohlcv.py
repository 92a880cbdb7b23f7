"""OHLCV candles: the period table, and the engine that turns trades into live ``Bar`` events.

Periods are aligned to the Unix epoch (a 1HRS candle spans 10:00-11:00 UTC). The engine accumulates each
symbol's trades of the current virtual second, and at every whole second folds them into the open candle of
every live period: only symbols that traded are touched. At the second ``T`` it emits a final candle for every
period that closes at ``T`` and, when ``T`` is a multiple of 5 s, an interim candle for every open candle that
got trades since it was last emitted (PROTOCOL.md §3.6). Candles without trades do not exist.

Building a ``Bar`` costs far more than keeping the candle, and a server streams only the few (symbol, period)
pairs someone subscribed to, so an engine may build only wanted bars (``OhlcvEngine.want``). Every emitted
candle is still counted per symbol, and that count is the bar's ``sequence``: it never depends on what was wanted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from simulator._fast import make_bar
from simulator.events import MarketEvent

_NS = 1_000_000_000
#: Interim candles go out every 5 virtual seconds while a candle is being updated (PROTOCOL.md §3.6).
INTERIM_EVERY_NS = 5 * _NS


@dataclass(frozen=True, slots=True)
class OhlcvPeriod:
    """A row of REST ``/v1/ohlcv/periods``."""

    period_id: str
    #: fixed length in seconds; 0 for calendar periods (months, years)
    length_seconds: int
    #: length in calendar months; 0 for fixed-length periods (UNVERIFIED: CoinAPI's exact values for MTH/YRS)
    length_months: int
    unit_count: int
    #: "second", "minute", "hour", "day", "month" or "year"
    unit_name: str
    #: e.g. "1 Second", "30 Minutes"
    display_name: str


_UNITS = (
    ("SEC", "second", 1, 0, (1, 2, 3, 4, 5, 6, 10, 15, 20, 30)),
    ("MIN", "minute", 60, 0, (1, 2, 3, 4, 5, 6, 10, 15, 20, 30)),
    ("HRS", "hour", 3600, 0, (1, 2, 3, 4, 6, 8, 12)),
    ("DAY", "day", 86400, 0, (1, 2, 3, 5, 7, 10)),
    ("MTH", "month", 0, 1, (1, 2, 3, 4, 6)),
    ("YRS", "year", 0, 12, (1, 2, 3, 4, 5)),
)

#: Every period of PROTOCOL.md §4.5, shortest first.
OHLCV_PERIODS: tuple[OhlcvPeriod, ...] = tuple(
    OhlcvPeriod(
        f"{count}{suffix}",
        count * seconds,
        count * months,
        count,
        unit,
        f"{count} {unit.capitalize()}{'s' if count > 1 else ''}",
    )
    for suffix, unit, seconds, months, counts in _UNITS
    for count in counts
)

#: Length in seconds of every fixed-length period (SEC, MIN, HRS, DAY).
PERIOD_SECONDS: dict[str, int] = {p.period_id: p.length_seconds for p in OHLCV_PERIODS if p.length_seconds}

#: Periods streamed live over the WebSocket: 1SEC up to 1DAY.
LIVE_PERIODS: tuple[str, ...] = tuple(pid for pid, seconds in PERIOD_SECONDS.items() if seconds <= 86400)

# A candle is a mutable list (cheaper than an object on this path) with these slots; an accumulator of trades
# (one second's or one 5-second block's) uses the slots from _OPEN_T to _COUNT, shifted down by 2.
_START, _END, _OPEN_T, _CLOSE_T, _OPEN, _HIGH, _LOW, _CLOSE, _VOLUME, _COUNT, _INDEX, _DIRTY = range(12)


class OhlcvEngine:
    """Live candles of every symbol, fed trade by trade, emitting ``Bar`` events at whole virtual seconds.

    Call order: ``add_trade`` for each trade in time order, and ``on_second(T)`` at every whole second ``T``
    (in ns) before any trade at or after ``T``. ``symbol_ids[i]`` names the symbol whose index is ``i``.
    With ``all_bars`` every emitted candle becomes a ``Bar``; without, only those of the pairs ``want`` chose.

    Cost: each second's trades are folded into the periods that are not multiples of 5 s (1-4SEC, 6SEC) and
    into a 5-second accumulator; every 5 s that accumulator is folded into the other periods, just before
    they are read for interim and final candles.
    """

    __slots__ = (
        "_block",
        "_counts",
        "_dirty",
        "_each_second",
        "_five",
        "_open",
        "_period_ids",
        "_period_ns",
        "_second",
        "_symbol_ids",
        "_wanted",
    )

    def __init__(
        self, symbol_ids: list[str], periods: tuple[str, ...] = LIVE_PERIODS, *, all_bars: bool = True
    ) -> None:
        self._symbol_ids = symbol_ids
        self._period_ids = periods
        self._period_ns = [PERIOD_SECONDS[p] * _NS for p in periods]
        #: per period: symbol index -> open candle (insertion order = order of first trade: deterministic)
        self._open: list[dict[int, list[int]]] = [{} for _ in periods]
        #: per period: candles updated since their last emission, in the order they were updated
        self._dirty: list[list[list[int]]] = [[] for _ in periods]
        #: indices of the periods fed every second, and of those fed every 5 s from the block accumulator
        self._five = [i for i, ns in enumerate(self._period_ns) if ns % INTERIM_EVERY_NS == 0]
        self._each_second = [i for i in range(len(periods)) if i not in self._five]
        #: symbol index -> [open_t, close_t, open, high, low, close, volume, count] of the current second
        self._second: dict[int, list[int]] = {}
        #: the same, for the current 5-second block
        self._block: dict[int, list[int]] = {}
        #: symbol index -> candles emitted so far, all periods, built into a Bar or not: the last bar's sequence
        self._counts = [0] * len(symbol_ids)
        #: per period: indices of the symbols whose bars are built; None = all of them
        self._wanted: list[set[int] | None] = [None if all_bars else set() for _ in periods]

    def want(self, index: int, period_id: str, wanted: bool) -> None:
        """Build (or stop building) the bars of symbol ``index`` and ``period_id``; only without ``all_bars``.

        ValueError for a period the engine does not run, or if it builds every bar anyway.
        """
        symbols = self._wanted[self._period_ids.index(period_id)]
        if symbols is None:
            raise ValueError("this OHLCV engine builds every bar")
        if wanted:
            symbols.add(index)
        else:
            symbols.discard(index)

    def add_trade(self, index: int, time_ns: int, price_ticks: int, size_lots: int) -> None:
        """Record one trade of symbol ``index`` (times never decrease)."""
        acc = self._second.get(index)
        if acc is None:
            self._second[index] = [time_ns, time_ns, price_ticks, price_ticks, price_ticks, price_ticks, size_lots, 1]
            return
        acc[1] = time_ns
        if price_ticks > acc[3]:
            acc[3] = price_ticks
        elif price_ticks < acc[4]:
            acc[4] = price_ticks
        acc[5] = price_ticks
        acc[6] += size_lots
        acc[7] += 1

    def on_second(self, second_ns: int, out: list[MarketEvent]) -> None:
        """Close the virtual second ending at ``second_ns``: fold its trades, append finals then interims to ``out``."""
        five = self._five
        on_block = second_ns % INTERIM_EVERY_NS == 0
        if self._second:
            seconds, self._second = self._second, {}
            self._fold(seconds, second_ns - _NS, self._each_second)
            _merge_accumulators(self._block, seconds)
        if on_block and self._block:
            block, self._block = self._block, {}
            self._fold(block, second_ns - INTERIM_EVERY_NS, five)
        dirty_lists = self._dirty
        for pi, length in enumerate(self._period_ns):
            if second_ns % length == 0:
                candles = self._open[pi]
                if candles:
                    self._emit(candles.values(), pi, True, second_ns, out)
                    candles.clear()
                dirty_lists[pi].clear()
            elif on_block:
                dirty = dirty_lists[pi]
                if dirty:
                    self._emit(dirty, pi, False, second_ns, out)
                    dirty.clear()

    def _emit(
        self, candles: Iterable[list[int]], pi: int, is_final: bool, second_ns: int, out: list[MarketEvent]
    ) -> None:
        """Count each candle as its symbol's next bar, mark it clean, and append the wanted ones as ``Bar``s."""
        counts, wanted = self._counts, self._wanted[pi]
        symbol_ids, period_id = self._symbol_ids, self._period_ids[pi]
        for c in candles:
            c[_DIRTY] = 0
            index = c[_INDEX]
            counts[index] = sequence = counts[index] + 1
            if wanted is None or index in wanted:
                out.append(make_bar(symbol_ids[index], period_id, c, is_final, second_ns, sequence))

    def _fold(self, accs: dict[int, list[int]], acc_start_ns: int, periods: list[int]) -> None:
        """Fold accumulators that start at ``acc_start_ns`` into the open candles of ``periods``."""
        for pi in periods:
            length = self._period_ns[pi]
            candles, dirty = self._open[pi], self._dirty[pi]
            start = acc_start_ns - acc_start_ns % length
            for index, (open_t, close_t, o, h, low, c, v, n) in accs.items():
                candle = candles.get(index)
                if candle is None:
                    candles[index] = candle = [start, start + length, open_t, close_t, o, h, low, c, v, n, index, 1]
                    dirty.append(candle)
                    continue
                candle[_CLOSE_T] = close_t
                if h > candle[_HIGH]:
                    candle[_HIGH] = h
                if low < candle[_LOW]:
                    candle[_LOW] = low
                candle[_CLOSE] = c
                candle[_VOLUME] += v
                candle[_COUNT] += n
                if not candle[_DIRTY]:
                    candle[_DIRTY] = 1
                    dirty.append(candle)


def _merge_accumulators(into: dict[int, list[int]], accs: dict[int, list[int]]) -> None:
    """Merge later accumulators ``accs`` into ``into`` (same layout as ``add_trade``'s)."""
    for index, acc in accs.items():
        target = into.get(index)
        if target is None:
            into[index] = acc
            continue
        target[1] = acc[1]
        if acc[3] > target[3]:
            target[3] = acc[3]
        if acc[4] < target[4]:
            target[4] = acc[4]
        target[5] = acc[5]
        target[6] += acc[6]
        target[7] += acc[7]
