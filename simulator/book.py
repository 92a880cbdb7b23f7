"""The L2 order book of one symbol, and the liquidity model that keeps it moving.

``Book`` is mutable state with one owner (the ``Market``); callers read it through ``asks()``, ``bids()``,
``top(n)``, ``best_ask()`` and ``best_bid()``. Prices are ticks, sizes lots, as in ``events.py``. Invariants
after every public mutation by the market: no level with size <= 0, asks ascending and bids descending, and
(maintained by ``BookMaker``) best bid < best ask with both sides non-empty.

``BookMaker`` is the per-symbol liquidity model: it builds the initial book around the fair mid, pulls quotes
that the mid has run over, refills the side that was left behind, and adds the small adds, cancels and size
changes that make a real book flicker. Trades take liquidity through ``Book.sweep`` (a limited sweep for a taker
that stops at a price). Levels are dense near the touch (``touch_gap_ticks`` apart: one tick on liquid symbols,
whose spread is then mostly one tick) and sparser deeper; resting sizes hump a few levels out (Bouchaud, Mezard,
Potters 2002); and the queue at a touch that the fair price is about to cross thins out, so book imbalance leans
towards the next move (the micro-price).
"""

from __future__ import annotations

import math
import random
from bisect import bisect_left, insort

from coinapi_emulator.simulator._fast import make_delta, make_level, make_quote
from coinapi_emulator.simulator.events import BookDelta, Level, Quote

_log = math.log
# hot-path truncation of non-negative floats: math.floor equals int() there, and int() on a float goes
# through CPython's generic type call, about three times the cost
_floor = math.floor
#: Fewest levels a side keeps after a book event, and most it holds.
MIN_LEVELS = 20
MAX_LEVELS = 50
#: Resting sizes are heavy-tailed: Pareto with this tail index (``u ** (-1 / 1.5)``), capped at ``LEVEL_SIZE_CAP``,
#: times ``SIZE_PROFILE[depth]``. A print is one level's fill, so big resting orders are what a big taker prints
#: against: calibrated with ``flow.SIZE_TAIL`` in docs/REALISM.md so that the big venues print the odd $1M+ trade.
LEVEL_SIZE_TAIL = 1.5
_SIZE_EXPONENT = -1.0 / LEVEL_SIZE_TAIL
#: The biggest wall, in units of the size scale: a few hundred BTC on Binance. Uncapped, a tail this heavy put a
#: $1B order in a book, and one such order decided a level's mean size over days.
LEVEL_SIZE_CAP = 300.0
#: Mean size at the touch, in units of the maker's size scale (the depth's calibration in docs/REALISM.md); the
#: profile below is scaled so that the capped Pareto draw, whose mean is (tail - cap ** (1 - tail)) / (tail - 1),
#: gives it.
LEVEL_MEAN = 2.25
_PROFILE_SCALE = LEVEL_MEAN * (LEVEL_SIZE_TAIL - 1.0) / (LEVEL_SIZE_TAIL - LEVEL_SIZE_CAP ** (1.0 - LEVEL_SIZE_TAIL))
#: Mean size by depth (0 = touch), relative to the touch: ``1 + HUMP_HEIGHT`` at ``HUMP_DEPTH``, back towards 1
#: deeper.
HUMP_DEPTH = 5.0
HUMP_HEIGHT = 3.0
SIZE_PROFILE = tuple(
    _PROFILE_SCALE * (1.0 + HUMP_HEIGHT * depth / HUMP_DEPTH * math.exp(1.0 - depth / HUMP_DEPTH))
    for depth in range(MAX_LEVELS + 2)
)
#: Level spacing widens from ``touch_gap_ticks`` at the touch to ``gap_ticks`` at this depth and beyond (with
#: the square of the depth: the first few levels stay close).
DENSE_DEPTH = 10
#: The queue at the touch the fair price is heading for thins once the fair price is this far across the
#: half-spread (0 = at the book's mid, 1 = at the touch).
LEAN_START = 0.2
#: Share of the way from the book's mid to the fair mid that one repricing goes: makers re-quote in steps, so the
#: book trails a fast fair price for a few events, and meanwhile the touch it is heading for thins (``_lean``) and
#: takers lean on it, which is what lets queue imbalance foretell the next move (Gould, Bonart 2016).
CATCH_UP = 0.9


class _Side:
    """One side of a book: sorted keys ``sign * price`` (best first), sizes by price, and pending changes."""

    __slots__ = ("changes", "keys", "sign", "sizes")

    def __init__(self, sign: int) -> None:
        #: +1 for asks (best = lowest), -1 for bids (best = highest)
        self.sign = sign
        self.keys: list[int] = []
        self.sizes: dict[int, int] = {}
        #: price -> new size (0 = deleted) since the last ``Book.emit``
        self.changes: dict[int, int] = {}

    def set(self, price: int, size: int) -> None:
        sizes = self.sizes
        if size > 0:
            if price not in sizes:
                insort(self.keys, price * self.sign)
            sizes[price] = size
        elif price in sizes:
            del sizes[price]
            keys = self.keys
            del keys[bisect_left(keys, price * self.sign)]
        self.changes[price] = size

    def levels(self, n: int | None) -> tuple[Level, ...]:
        sign, sizes = self.sign, self.sizes
        return tuple([make_level(k * sign, sizes[k * sign]) for k in self.keys[:n]])

    def drain(self) -> tuple[Level, ...]:
        """The pending changes as levels, best first, and forget them; the caller checks ``changes`` first."""
        changes = self.changes
        self.changes = {}
        if len(changes) == 1:
            ((price, size),) = changes.items()
            return (make_level(price, size),)
        ordered = sorted(changes) if self.sign > 0 else sorted(changes, reverse=True)
        return tuple([make_level(p, changes[p]) for p in ordered])


class Book:
    """An L2 book: levels keyed by price in ticks, sizes in lots, for both sides.

    The market mutates it with ``set_ask``/``set_bid``/``sweep`` and turns the net change of one instant into
    events with ``emit``; other owners (a client-side replica, tests) use ``apply``.
    """

    __slots__ = ("_asks", "_bids", "_quoted")

    def __init__(self, asks: tuple[Level, ...] = (), bids: tuple[Level, ...] = ()) -> None:
        self._asks = _Side(1)
        self._bids = _Side(-1)
        #: the touch as of the last ``emit`` (None before the first, or while a side is empty)
        self._quoted: tuple[int, int, int, int] | None = None
        for level in asks:
            self._asks.set(level.price_ticks, level.size_lots)
        for level in bids:
            self._bids.set(level.price_ticks, level.size_lots)
        self._settle()

    def _settle(self) -> None:
        """Forget pending changes and take the current touch as already quoted."""
        self._asks.changes.clear()
        self._bids.changes.clear()
        self._quoted = self.touch() if self._asks.keys and self._bids.keys else None

    def asks(self) -> tuple[Level, ...]:
        """All ask levels, best (lowest price) first."""
        return self._asks.levels(None)

    def bids(self) -> tuple[Level, ...]:
        """All bid levels, best (highest price) first."""
        return self._bids.levels(None)

    def top(self, n: int) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """``(asks, bids)``: at most ``n`` levels per side, best first (for book5/book20/book50)."""
        return self._asks.levels(n), self._bids.levels(n)

    def best_ask(self) -> Level | None:
        """The lowest ask, or None if the side is empty."""
        keys = self._asks.keys
        return make_level(keys[0], self._asks.sizes[keys[0]]) if keys else None

    def best_bid(self) -> Level | None:
        """The highest bid, or None if the side is empty."""
        keys = self._bids.keys
        return make_level(-keys[0], self._bids.sizes[-keys[0]]) if keys else None

    def depth(self) -> tuple[int, int]:
        """Number of ``(ask, bid)`` levels."""
        return len(self._asks.keys), len(self._bids.keys)

    def touch(self) -> tuple[int, int, int, int]:
        """``(ask_price, ask_size, bid_price, bid_size)`` of the top of the book; both sides must be non-empty."""
        a = self._asks.keys[0]
        b = -self._bids.keys[0]
        return a, self._asks.sizes[a], b, self._bids.sizes[b]

    def set_ask(self, price_ticks: int, size_lots: int) -> None:
        """Set the ask level at ``price_ticks`` to ``size_lots`` (0 deletes it); recorded for ``emit``."""
        self._asks.set(price_ticks, size_lots)

    def set_bid(self, price_ticks: int, size_lots: int) -> None:
        """Set the bid level at ``price_ticks`` to ``size_lots`` (0 deletes it); recorded for ``emit``."""
        self._bids.set(price_ticks, size_lots)

    def sweep(self, is_buy: bool, size_lots: int, limit_ticks: int | None = None) -> list[tuple[int, int]]:
        """Take up to ``size_lots`` from the opposite side, best level first: a taker BUY eats asks upwards.

        With ``limit_ticks`` the taker is a limit order that takes no level priced worse than it (a BUY no ask
        above it, a SELL no bid below it) and leaves the rest unfilled.

        Returns the fills ``[(price_ticks, size_lots), ...]`` in order, one per level touched. The side's last
        level is never emptied (a book always keeps both sides), so fills can total less than asked, or be
        empty when only one lot rests on that side.
        """
        side = self._asks if is_buy else self._bids
        keys, sizes, sign = side.keys, side.sizes, side.sign
        fills: list[tuple[int, int]] = []
        remaining = size_lots
        i, last = 0, len(keys) - 1
        # keys are sign * price, best first: the levels within the limit are a prefix
        end = len(keys) if limit_ticks is None else bisect_left(keys, limit_ticks * sign + 1)
        while remaining > 0 and i < end:
            price = keys[i] * sign
            available = sizes[price] - (1 if i == last else 0)
            take = min(remaining, available)
            if take <= 0:
                break
            fills.append((price, take))
            remaining -= take
            i += 1
        for price, take in fills:
            side.set(price, sizes[price] - take)
        return fills

    def emit(self, symbol_id: str, time_ns: int) -> list[BookDelta | Quote]:
        """Events for the changes since the previous ``emit``: ``[]``, ``[BookDelta]`` or ``[BookDelta, Quote]``.

        The delta holds the net change per level (size 0 = deleted), asks ascending and bids descending; the
        quote follows when the best bid or ask price or size differs from the last one emitted. Both sides
        must be non-empty.
        """
        asks, bids = self._asks, self._bids
        if asks.changes:
            ask_levels = asks.drain()
        elif bids.changes:
            ask_levels = ()
        else:
            return []
        delta = make_delta(symbol_id, time_ns, ask_levels, bids.drain() if bids.changes else ())
        a = asks.keys[0]
        b = -bids.keys[0]
        touch = (a, asks.sizes[a], b, bids.sizes[b])
        if touch == self._quoted:
            return [delta]
        self._quoted = touch
        return [delta, make_quote(symbol_id, time_ns, a, touch[1], b, touch[3])]

    def apply(self, delta: BookDelta) -> None:
        """Apply a ``BookDelta`` (size 0 deletes; deleting a missing level is a no-op). Not recorded as changes."""
        for level in delta.asks:
            self._asks.set(level.price_ticks, level.size_lots)
        for level in delta.bids:
            self._bids.set(level.price_ticks, level.size_lots)
        self._settle()

    def copy(self) -> Book:
        """An independent copy with the same levels (and no pending changes)."""
        return Book(self.asks(), self.bids())


class BookMaker:
    """The liquidity model of one symbol: initial book, reaction to the fair mid, and background noise.

    Distances are in ticks: ``gap_ticks`` is the typical spacing between deep levels, ``touch_gap_ticks`` (at
    most ``gap_ticks``; the same by default) the spacing near the touch, ``half_spread_ticks`` the distance of a
    fresh touch from the fair mid; sizes scale with ``size_lots``.
    """

    __slots__ = ("_rng", "_spacing", "gap_ticks", "half_spread_ticks", "size_lots", "touch_gap_ticks")

    def __init__(
        self,
        rng: random.Random,
        gap_ticks: int,
        half_spread_ticks: float,
        size_lots: float,
        touch_gap_ticks: int | None = None,
    ) -> None:
        self._rng = rng
        self.gap_ticks = max(1, gap_ticks)
        self.touch_gap_ticks = (
            self.gap_ticks if touch_gap_ticks is None else min(max(1, touch_gap_ticks), self.gap_ticks)
        )
        self.half_spread_ticks = max(0.01, half_spread_ticks)
        self.size_lots = max(1.0, size_lots)
        #: twice the mean spacing behind a level at each depth: a new key is ``floor(u * spacing) + 1`` further out
        near, deep = self.touch_gap_ticks, self.gap_ticks
        self._spacing = [2.0 * (near + (deep - near) * min(1.0, d / DENSE_DEPTH) ** 2) for d in range(MAX_LEVELS + 2)]

    def _size(self, depth: int, rng: random.Random) -> int:
        scale = (1.0 - rng.random()) ** _SIZE_EXPONENT
        if scale > LEVEL_SIZE_CAP:
            scale = LEVEL_SIZE_CAP
        return _floor(self.size_lots * SIZE_PROFILE[depth] * scale) or 1

    def initial_book(self, mid_ticks: float, rng: random.Random) -> Book:
        """A fresh book around ``mid_ticks`` with 25-45 levels per side and no pending changes.

        Draws from ``rng``, not from the symbol's generator, so that building the book early or late (it is
        built lazily) never shifts the symbol's event stream.
        """
        book = Book()
        hs = self.half_spread_ticks
        mid_ticks = max(mid_ticks, hs + 1.0)
        count = rng.randint(25, 45)
        self._extend(book._asks, math.ceil(mid_ticks + hs), count, rng)
        self._extend(book._bids, math.floor(mid_ticks - hs), count, rng)
        book._settle()
        return book

    def _extend(self, side: _Side, first_price: int, count: int, rng: random.Random) -> None:
        """Add ``count`` levels from ``first_price`` away from the touch (bids stop above price 0).

        Not recorded as changes: the caller records them if they are to be emitted. This builds every lazily
        created book (dozens of levels each), a large share of the simulator's work, so it skips the general
        paths: ``first_price`` lies behind the side's worst level, so each new key sorts last and is appended
        rather than going through ``_Side.set``, and ``_size`` is inlined (the same draws).
        """
        spacing, sign, size_lots = self._spacing, side.sign, self.size_lots
        sizes, append, random = side.sizes, side.keys.append, rng.random
        key = first_price * sign
        start = len(side.keys)
        for depth in range(start, start + count):
            price = key * sign
            if price < 1:
                return
            scale = (1.0 - random()) ** _SIZE_EXPONENT
            if scale > LEVEL_SIZE_CAP:
                scale = LEVEL_SIZE_CAP
            sizes[price] = _floor(size_lots * SIZE_PROFILE[depth] * scale) or 1
            append(key)
            key += _floor(random() * spacing[depth]) + 1

    def update(self, book: Book, mid_ticks: float, spread_multiplier: float = 1.0) -> None:
        """One book event: follow the fair mid if it moved, else one small random change; then fix the depth.

        Asks at or below ``mid + tol`` and bids at or above ``mid - tol`` (``tol`` = half the half-spread) are
        pulled, so the book can never cross; a side whose touch is left far behind gets new levels near the mid.
        Then the queue at the touch the fair mid leans towards thins (``_lean``). Both sides must be non-empty
        (every book the maker built is).
        """
        # the multiplier scales the quoted spread (2 * hs + 1 tick), so it widens a one-tick book too
        hs = (self.half_spread_ticks + 0.5) * spread_multiplier - 0.5
        if hs < 0.01:
            hs = 0.01
        if mid_ticks < hs + 1.0:
            mid_ticks = hs + 1.0  # keep bids at positive prices
        tol = 0.5 * hs
        far = hs + self.touch_gap_ticks
        asks, bids = book._asks, book._bids
        ask_keys, bid_keys = asks.keys, bids.keys
        if mid_ticks + tol < ask_keys[0] <= mid_ticks + far and mid_ticks - far <= -bid_keys[0] < mid_ticks - tol:
            # the common case: both touches inside their band around the fair mid, so just flicker
            self._noise(asks if self._rng.random() < 0.5 else bids, mid_ticks, tol)
        else:
            book_mid = 0.5 * (ask_keys[0] - bid_keys[0])
            self._reprice(asks, bids, book_mid + CATCH_UP * (mid_ticks - book_mid), hs, tol, far)
        if not MIN_LEVELS <= len(ask_keys) <= MAX_LEVELS:
            self._fix_depth(asks)
        if not MIN_LEVELS <= len(bid_keys) <= MAX_LEVELS:
            self._fix_depth(bids)
        self._lean(asks, bids, mid_ticks)

    def _lean(self, asks: _Side, bids: _Side, mid_ticks: float) -> None:
        """Thin the touch queue on the side the fair mid has moved towards: makers there cancel first."""
        ask, bid = asks.keys[0], -bids.keys[0]
        offset = (2.0 * mid_ticks - ask - bid) / (ask - bid)
        if -LEAN_START <= offset <= LEAN_START:
            return
        side, price = (asks, ask) if offset > 0.0 else (bids, bid)
        target = _floor(self.size_lots * (1.0 - min(abs(offset), 0.95))) or 1
        if target < side.sizes[price]:
            side.set(price, target)

    def step(
        self, book: Book, mid_ticks: float, spread_multiplier: float, symbol_id: str, time_ns: int
    ) -> list[BookDelta | Quote]:
        """``update`` then ``book.emit``: one background book event and what it changed, in one call."""
        self.update(book, mid_ticks, spread_multiplier)
        return book.emit(symbol_id, time_ns)

    def _reprice(self, asks: _Side, bids: _Side, mid_ticks: float, hs: float, tol: float, far: float) -> None:
        """Pull the quotes the fair mid ran over; refill a side whose touch was left ``far`` behind."""
        ask_keys, bid_keys = asks.keys, bids.keys
        ceiling = mid_ticks + tol
        while ask_keys and ask_keys[0] <= ceiling:
            asks.set(ask_keys[0], 0)
        floor = tol - mid_ticks  # as a bid key: bids at or above mid - tol are stale
        while bid_keys and bid_keys[0] <= floor:
            bids.set(-bid_keys[0], 0)
        if not ask_keys or ask_keys[0] > mid_ticks + far:
            self._fill(asks, math.ceil(mid_ticks + hs))
        if not bid_keys or -bid_keys[0] < mid_ticks - far:
            self._fill(bids, math.floor(mid_ticks - hs))

    def _fix_depth(self, side: _Side) -> None:
        """Drop the worst levels of a side that is too deep, or add levels behind one that is too shallow."""
        keys = side.keys
        if len(keys) > MAX_LEVELS:
            while len(keys) > MAX_LEVELS:
                side.set(keys[-1] * side.sign, 0)
        else:
            sign, old_depth = side.sign, len(keys)
            self._extend(side, (keys[-1] + self.gap_ticks) * sign, MIN_LEVELS - old_depth, self._rng)
            for key in keys[old_depth:]:
                side.changes[key * sign] = side.sizes[key * sign]

    def _fill(self, side: _Side, touch_price: int) -> None:
        """New levels from ``touch_price`` towards the current best (at most 4), the mid having moved away.

        The old best is then that many levels deep, and makers join its queue as they do there: it takes a fresh
        size for its new depth when that is larger (else a touch queue would stay small all the way down).
        """
        rng, spacing, sign = self._rng, self._spacing, side.sign
        best_key = side.keys[0] if side.keys else None
        key = touch_price * sign
        added = 0
        while added < 4:
            if (best_key is not None and key >= best_key) or key * sign < 1:
                break
            side.set(key * sign, self._size(added, rng))
            key += _floor(rng.random() * spacing[added]) + 1
            added += 1
        if added and best_key is not None:
            old_best = best_key * sign
            joined = self._size(added, rng)
            if joined > side.sizes[old_best]:
                side.set(old_best, joined)

    def _noise(self, side: _Side, mid_ticks: float, tol: float) -> None:
        """One small change on ``side``: resize, add, cancel or improve a level near the touch."""
        rng, keys, sizes, sign = self._rng, side.keys, side.sizes, side.sign
        depth = _floor(-4.0 * _log(1.0 - rng.random()))  # mostly near the touch
        if depth >= len(keys):
            depth = len(keys) - 1
        if depth > MAX_LEVELS:  # only a hand-built book is deeper; the profile ends here
            depth = MAX_LEVELS
        price = keys[depth] * sign
        action = rng.random()
        if action < 0.4:  # resize a resting level (partial cancel or join the queue)
            side.set(price, _floor(sizes[price] * (0.3 + 1.4 * rng.random())) or 1)
        elif action < 0.65:  # a new level just behind an existing one
            new_price = price + sign * (_floor(rng.random() * 0.5 * self._spacing[depth]) + 1)
            if new_price not in sizes and new_price >= 1:
                side.set(new_price, self._size(depth + 1, rng))
        elif action < 0.85:  # cancel a whole level (keeping the side non-empty)
            if len(keys) > 1:
                side.set(price, 0)
        else:  # improve the touch, never past the fair mid's tolerance band
            new_price = (keys[0] - _floor(rng.random() * self.touch_gap_ticks) - 1) * sign
            inside = new_price > mid_ticks + tol if sign > 0 else new_price < mid_ticks - tol
            if inside and new_price >= 1:
                side.set(new_price, self._size(0, rng))
