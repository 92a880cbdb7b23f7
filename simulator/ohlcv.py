"""OHLCV candles: the period table, and the engine that turns trades into live ``Bar`` events.

Periods are aligned to the Unix epoch (a 1HRS candle spans 10:00-11:00 UTC). At the whole second ``T`` a final
candle goes out for every period that closes at ``T`` and, when ``T`` is a multiple of 5 s, an interim candle
for every open candle that got trades since it was last emitted (PROTOCOL.md §3.6). Candles without trades do not
exist. Every emitted candle is counted per symbol, and that count is the bar's ``sequence``.

Building a ``Bar`` costs far more than keeping the candle, and a server streams only the few (symbol, period)
pairs someone subscribed to, so an engine may build only wanted bars (``OhlcvEngine.want``). Its whole-second
work is then proportional to the wanted pairs, whatever the number of symbols that traded:

* Candles are folded lazily, per symbol: its trades of one second are accumulated, and that second is folded
  into the candles of the periods not aligned to 5 s (1-4SEC, 6SEC) and into a 5-second block accumulator when
  the symbol's next second begins (its first later trade) or when one of its bars is built; a finished block is
  folded into the other periods the same way. Each symbol keeps all of this in one flat preallocated
  ``array('q')``, so updates allocate nothing, and the C twin (``TradeFolder``) works on the same memory.
* Which candles a symbol emits at ``T`` depends only on the second ``x`` of its last trade before ``T``: with a
  period of length ``L``, a final at ``T`` iff ``T % L == 0`` and ``x >= T - L``, an interim iff ``T % L != 0``,
  ``T % 5 == 0`` and ``x >= max(T - 5, T - T % L)``. So the count of a symbol's emitted candles is settled
  lazily too, with ``x`` fixed between two of its trading seconds, and needs no work at whole seconds.
* Within one period, bars go out in the order of each symbol's first trade in the window the bar reports on
  (the candle for a final, the candle since the last emission for an interim): every new trading second of a
  symbol draws the next number of a global counter, and bars are sorted by it.

With every bar wanted (``all_bars``), the symbols that emit at ``T`` are found among the most recently traded
ones (a dict kept in order of each symbol's last trading second), so a second costs what it emits.

A little over this project's ~400-line rule on purpose: the engine is the reference its C twin is tested against
call for call, and the lazy folding above only reads as one piece.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from coinapi_emulator.simulator import _native
from coinapi_emulator.simulator._fast import make_bar
from coinapi_emulator.simulator.events import MarketEvent

if TYPE_CHECKING:
    from coinapi_emulator.simulator._speedups import TradeFolder

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

# A candle, and an accumulator of trades (of one second, or of one 5-second block), is a run of slots of a
# symbol's state array: the first ten are a Bar's fields; _KEY orders it among the symbols (see the docstring).
_START, _END, _OPEN_T, _CLOSE_T, _OPEN, _HIGH, _LOW, _CLOSE, _VOLUME, _COUNT, _KEY = range(11)
_SLOTS = 11
# A symbol's state array: the start (ns) of the second of its last trade; the whole second up to which
# _SEQUENCE counts its emitted candles; then the accumulators of its last second and of its current block, then
# one candle per period
_LAST, _SETTLED, _SEQUENCE = range(3)
_SECOND = 3
_BLOCK = _SECOND + _SLOTS
_CANDLES = _BLOCK + _SLOTS
# add_trade's slots of the second accumulator
_SEC_END, _SEC_CLOSE_T, _SEC_HIGH, _SEC_LOW = _SECOND + _END, _SECOND + _CLOSE_T, _SECOND + _HIGH, _SECOND + _LOW
_SEC_CLOSE, _SEC_VOLUME, _SEC_COUNT = _SECOND + _CLOSE, _SECOND + _VOLUME, _SECOND + _COUNT
_BLOCK_END, _BLOCK_COUNT, _BLOCK_KEY = _BLOCK + _END, _BLOCK + _COUNT, _BLOCK + _KEY
#: _LAST of a symbol that never traded: every period's candle ends long before any time
_NEVER = -(1 << 62)


class OhlcvEngine:
    """Live candles of every symbol, fed trade by trade, emitting ``Bar`` events at whole virtual seconds.

    Call order: ``add_trade`` for each trade in time order, and ``on_second(T)`` at every whole second ``T``
    (in ns) before any trade at or after ``T``. ``symbol_ids[i]`` names the symbol whose index is ``i``.
    With ``all_bars`` every emitted candle becomes a ``Bar``; without, only those of the pairs ``want`` chose.
    """

    __slots__ = (
        "_block_periods",
        "_count_just_after",
        "_folder",
        "_found",
        "_lengths",
        "_mask",
        "_next_key",
        "_period_ids",
        "_recent",
        "_second_periods",
        "_shift",
        "_states",
        "_symbol_ids",
        "_wanted",
    )

    def __init__(
        self, symbol_ids: list[str], periods: tuple[str, ...] = LIVE_PERIODS, *, all_bars: bool = True
    ) -> None:
        self._symbol_ids = symbol_ids
        self._period_ids = periods
        self._lengths = lengths = tuple(PERIOD_SECONDS[p] * _NS for p in periods)
        size = _CANDLES + _SLOTS * len(periods)
        initial = array("q", [_NEVER, 0, 0] + [0] * (size - 3))
        self._states = [array("q", initial) for _ in symbol_ids]
        #: (candle offset, length) of the periods fed every second, and of those fed a 5-second block at a time
        self._second_periods = [(_CANDLES + _SLOTS * i, n) for i, n in enumerate(lengths) if n % INTERIM_EVERY_NS]
        self._block_periods = [(_CANDLES + _SLOTS * i, n) for i, n in enumerate(lengths) if not n % INTERIM_EVERY_NS]
        self._count_just_after = _count_just_after(lengths)
        self._next_key = 1
        #: bars are sorted as (key << shift | symbol index)
        self._shift = len(symbol_ids).bit_length()
        self._mask = (1 << self._shift) - 1
        #: per period: indices of the symbols whose bars are built; None = all of them
        self._wanted: list[set[int] | None] = [None if all_bars else set() for _ in periods]
        #: all_bars only: symbol indices, in order of their last trading second (values unused)
        self._recent: dict[int, None] | None = {} if all_bars else None
        #: all_bars only: per period, the sort keys of the bars being emitted (reused)
        self._found: list[list[int]] = [[] for _ in periods]
        #: the C twin of ``add_trade``, ``_emit_all`` and ``_emit_wanted``, once ``trade_recorder`` made it
        self._folder: TradeFolder | None = None

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

    def trade_recorder(self) -> Callable[[int, int, int, int], None]:
        """What to call with each trade: ``add_trade``, or its C twin over the same state when built.

        Use one or the other for the engine's whole life: each keeps its own order counter (``_KEY``).
        """
        fast = _native.speedups
        if fast is None:
            return self.add_trade
        self._folder = fast.TradeFolder(
            self._states,
            self._recent,
            self._second_periods,
            self._block_periods,
            self._lengths,
            self._count_just_after,
            self._symbol_ids,
            self._period_ids,
        )
        return self._folder

    def add_trade(self, index: int, time_ns: int, price_ticks: int, size_lots: int) -> None:
        """Record one trade of symbol ``index`` (times never decrease)."""
        st = self._states[index]
        if time_ns >= st[_SEC_END]:
            self._start_second(st, index, time_ns, price_ticks, size_lots)
            return
        st[_SEC_CLOSE_T] = time_ns
        if price_ticks > st[_SEC_HIGH]:
            st[_SEC_HIGH] = price_ticks
        elif price_ticks < st[_SEC_LOW]:
            st[_SEC_LOW] = price_ticks
        st[_SEC_CLOSE] = price_ticks
        st[_SEC_VOLUME] += size_lots
        st[_SEC_COUNT] += 1

    def on_second(self, second_ns: int, out: list[MarketEvent]) -> None:
        """Close the virtual second ending at ``second_ns``: append its finals then interims, period by period."""
        due, folder = self._due(second_ns), self._folder
        if self._recent is None:
            if folder is not None:
                folder.emit_wanted(due, second_ns, out, self._wanted)
            else:
                self._emit_wanted(due, second_ns, out)
        elif folder is not None:
            folder.emit_all(due, second_ns, out)
        else:
            self._emit_all(due, second_ns, out)

    def _start_second(self, st: array[int], index: int, time_ns: int, price_ticks: int, size_lots: int) -> None:
        """First trade of a symbol in a new second: fold the past, settle its count, open a second accumulator."""
        self._fold_pending(st, time_ns)
        second = time_ns - time_ns % _NS
        if self._recent is None:
            self._settle(st, second)
        else:
            # every candle is emitted, and counted, as it goes out
            recent = self._recent
            recent.pop(index, None)
            recent[index] = None
        st[_LAST] = second
        st[_SECOND + _START] = second
        st[_SEC_END] = second + _NS
        st[_SECOND + _OPEN_T] = st[_SEC_CLOSE_T] = time_ns
        st[_SECOND + _OPEN] = st[_SEC_HIGH] = st[_SEC_LOW] = st[_SEC_CLOSE] = price_ticks
        st[_SEC_VOLUME] = size_lots
        st[_SEC_COUNT] = 1
        st[_SECOND + _KEY] = self._next_key
        self._next_key += 1

    def _fold_pending(self, st: array[int], until_ns: int) -> None:
        """Fold a symbol's accumulators that ended by ``until_ns`` (the second one always has) into its candles."""
        if st[_SEC_COUNT]:
            _fold(st, _SECOND, self._second_periods)
            if st[_BLOCK_COUNT]:
                _merge(st, _SECOND, _BLOCK)
            else:
                st[_BLOCK : _BLOCK + _SLOTS] = st[_SECOND : _SECOND + _SLOTS]
                start = st[_BLOCK] - st[_BLOCK] % INTERIM_EVERY_NS
                st[_BLOCK] = start
                st[_BLOCK_END] = start + INTERIM_EVERY_NS
            st[_SEC_COUNT] = 0
        if st[_BLOCK_COUNT] and until_ns >= st[_BLOCK_END]:
            _fold(st, _BLOCK, self._block_periods)
            st[_BLOCK_COUNT] = 0

    def _settle(self, st: array[int], until_ns: int) -> None:
        """Count into ``_SEQUENCE`` the candles the symbol emits at whole seconds up to ``until_ns``.

        Valid while ``_LAST`` is the second of its last trade before each of those seconds.
        """
        after = st[_SETTLED]
        if until_ns <= after:
            return
        st[_SETTLED] = until_ns
        last = st[_LAST]
        if after == last and until_ns == last + _NS:
            # the usual case of a busy symbol, trading second after second
            st[_SEQUENCE] += self._count_just_after(until_ns)
            return
        block = last - last % INTERIM_EVERY_NS + INTERIM_EVERY_NS
        interim = after < block <= until_ns
        count = 0
        for length in self._lengths:
            end = last - last % length + length
            if after < end <= until_ns:
                count += 1
            if interim and block < end:
                count += 1
        st[_SEQUENCE] += count

    def _due(self, second_ns: int) -> list[tuple[int, int, bool]]:
        """(period index, earliest last-trade second of an emitting symbol, is_final) of the periods due now."""
        on_block = second_ns % INTERIM_EVERY_NS == 0
        due = []
        for pi, length in enumerate(self._lengths):
            into = second_ns % length
            if not into:
                due.append((pi, second_ns - length, True))
            elif on_block:
                due.append((pi, max(second_ns - INTERIM_EVERY_NS, second_ns - into), False))
        return due

    def _emit_wanted(self, due: list[tuple[int, int, bool]], second_ns: int, out: list[MarketEvent]) -> None:
        """Append the bars of the wanted pairs due at ``second_ns``."""
        states, shift, mask = self._states, self._shift, self._mask
        for pi, since, is_final in due:
            wanted = self._wanted[pi]
            if not wanted:
                continue
            found = []
            for index in wanted:
                st = states[index]
                if st[_LAST] >= since:
                    self._fold_pending(st, second_ns)
                    found.append(_sort_key(st, pi, is_final, second_ns) << shift | index)
            found.sort()
            for item in found:
                st = states[item & mask]
                sequence = self._sequence(st, pi, due, second_ns)
                self._append_bar(out, item & mask, pi, is_final, second_ns, sequence)

    def _sequence(self, st: array[int], pi: int, due: list[tuple[int, int, bool]], second_ns: int) -> int:
        """The sequence of the symbol's bar of period ``pi`` at ``second_ns``: its candles emitted before it.

        Those are the ones counted up to the second before, plus its bars of the periods up to ``pi`` now.
        """
        self._settle(st, second_ns - _NS)
        last = st[_LAST]
        return st[_SEQUENCE] + sum(1 for pj, since, _ in due if pj <= pi and last >= since)

    def _emit_all(self, due: list[tuple[int, int, bool]], second_ns: int, out: list[MarketEvent]) -> None:
        """Append every bar due at ``second_ns``, counting each as its symbol's next."""
        if not due or self._recent is None:
            return
        states, shift, found = self._states, self._shift, self._found
        threshold = min(since for _, since, _ in due)
        for index in reversed(self._recent):
            st = states[index]
            last = st[_LAST]
            if last < threshold:
                break
            self._fold_pending(st, second_ns)
            for pi, since, is_final in due:
                if last >= since:
                    found[pi].append(_sort_key(st, pi, is_final, second_ns) << shift | index)
        mask = self._mask
        for pi, _, is_final in due:
            items = found[pi]
            items.sort()
            for item in items:
                st = states[item & mask]
                st[_SEQUENCE] += 1
                self._append_bar(out, item & mask, pi, is_final, second_ns, st[_SEQUENCE])
            items.clear()

    def _append_bar(
        self, out: list[MarketEvent], index: int, pi: int, is_final: bool, second_ns: int, sequence: int
    ) -> None:
        """Append the ``Bar`` of the symbol's candle of period ``pi``."""
        st, at = self._states[index], _CANDLES + _SLOTS * pi
        out.append(make_bar(self._symbol_ids[index], self._period_ids[pi], st, at, is_final, second_ns, sequence))


def _sort_key(st: array[int], pi: int, is_final: bool, second_ns: int) -> int:
    """Rank of a symbol's bar among its period's at ``second_ns``: its first trade in the window the bar reports on.

    An interim reports on the candle since the last emission, 5 s ago or at the candle's start if later.
    """
    at = _CANDLES + _SLOTS * pi
    if is_final or st[at + _START] >= second_ns - INTERIM_EVERY_NS:
        return st[at + _KEY]
    return st[_BLOCK_KEY]


def _fold(st: array[int], acc: int, periods: list[tuple[int, int]]) -> None:
    """Fold the accumulator at slot ``acc`` into the candles at ``periods`` (offset, length), opening new ones."""
    start = st[acc]
    values = st[acc : acc + _SLOTS]
    for at, length in periods:
        if st[at + _END] <= start:
            st[at : at + _SLOTS] = values
            st[at] = start - start % length
            st[at + _END] = st[at] + length
        else:
            _merge(st, acc, at)


def _merge(st: array[int], src: int, dst: int) -> None:
    """Merge the later trades at slot ``src`` into the candle or accumulator at slot ``dst``."""
    st[dst + _CLOSE_T] = st[src + _CLOSE_T]
    if st[src + _HIGH] > st[dst + _HIGH]:
        st[dst + _HIGH] = st[src + _HIGH]
    if st[src + _LOW] < st[dst + _LOW]:
        st[dst + _LOW] = st[src + _LOW]
    st[dst + _CLOSE] = st[src + _CLOSE]
    st[dst + _VOLUME] += st[src + _VOLUME]
    st[dst + _COUNT] += st[src + _COUNT]


def _count_just_after(lengths: tuple[int, ...]) -> Callable[[int], int]:
    """Number of candles a symbol emits at the whole second ``T``, given a trade in the second just before.

    All the periods at a multiple of 5 s (finals and interims); else the finals of the periods dividing ``T``,
    which are only periods not aligned to 5 s, so a table over their least common multiple answers.
    """
    seconds = [n // _NS for n in lengths if n % INTERIM_EVERY_NS]
    cycle = math.lcm(*seconds)
    table = bytes(sum(k % s == 0 for s in seconds) for k in range(cycle))
    every = len(lengths)

    def count(second_ns: int) -> int:
        if second_ns % INTERIM_EVERY_NS == 0:
            return every
        return table[second_ns // _NS % cycle]

    return count
