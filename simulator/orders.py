"""Order-by-order (L3) books: each level of a symbol's L2 book as a queue of orders, kept in step with its events.

The market itself is L2: it knows how much rests at each price, not who placed it. ``OrderBook`` gives that
depth an order structure a client can follow order by order (CoinAPI's ``book_l3``), under the rules of a
price-time priority exchange and the standard queue model (Cont, Stoikov, Talreja 2010):

* a trade takes from the front of its level's queue (``MATCH``), oldest order first;
* a new level arrives as a few orders at once (``ADD``), as when makers re-quote their ladders after a move;
* a level that grows gets a new order at the back (``ADD``), or now and then the order already at the back is
  amended up (``UPDATE``; it keeps its place, since it is last anyway);
* a level that shrinks without a trade loses orders cancelled at random, each order equally likely, as when
  every order cancels at the same rate: whole orders go (``DELETE``), the last one cut may be reduced
  (``SUBTRACT``);
* a level that empties loses every order left in it (``DELETE``).

So the orders at a price always sum to the L2 level, and the L3 stream says nothing the L2 stream contradicts.
Sizes follow CoinAPI's rules for ``size``: the order's size for ``ADD``, ``DELETE`` and ``UPDATE`` (its new
size), the amount taken off for ``SUBTRACT`` and ``MATCH``; an order whose size reaches 0 leaves the book.

Orders exist from the moment a book is first followed: its levels are cut into a few orders each, as new levels
are later. The owner
feeds every ``Trade`` and ``BookDelta`` of the symbol from then on, in the market's order (``match``, then
``apply``). Pure: draws come from the generator it is given.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple

from coinapi_emulator.simulator.events import BookDelta, Level, TakerSide, Trade
from coinapi_emulator.simulator.rng import uuid4_string

#: A new level, and each level of the book when it is first followed, holds 1 to this many orders.
INITIAL_ORDERS_MAX = 8
#: Share of a level's growth that amends the order at the back of its queue rather than adding an order.
AMEND_SHARE = 0.2


class UpdateType(enum.Enum):
    """How an entry of a ``book_l3`` update changes its order (CoinAPI's ``update_type``)."""

    ADD = "ADD"
    UPDATE = "UPDATE"
    SUBTRACT = "SUBTRACT"
    DELETE = "DELETE"
    MATCH = "MATCH"


_ADD, _UPDATE, _SUBTRACT, _DELETE, _MATCH = UpdateType


class Order(NamedTuple):
    """A resting order, as a snapshot lists it."""

    order_id: str
    price_ticks: int
    size_lots: int


class OrderChange(NamedTuple):
    """One entry of an update: what happened to one order (``size_lots`` as the module docstring says)."""

    order_id: str
    price_ticks: int
    size_lots: int
    update_type: UpdateType


@dataclass(frozen=True, slots=True)
class OrderBookDelta:
    """The order changes of one symbol at one instant, in the order they happened, per side."""

    symbol_id: str
    time_exchange_ns: int
    asks: tuple[OrderChange, ...]
    bids: tuple[OrderChange, ...]


class _Resting:
    """A resting order as the queue holds it: its size changes in place."""

    __slots__ = ("order_id", "size_lots")

    def __init__(self, order_id: str, size_lots: int) -> None:
        self.order_id = order_id
        self.size_lots = size_lots


#: a level's orders, front (oldest) first
_Queue = list[_Resting]


class _OrderSide:
    """One side's queues by price, and the changes made since the last ``OrderBook.apply``."""

    __slots__ = ("changes", "queues", "sign")

    def __init__(self, sign: int) -> None:
        #: +1 for asks (best = lowest), -1 for bids (best = highest)
        self.sign = sign
        self.queues: dict[int, _Queue] = {}
        self.changes: list[OrderChange] = []

    def prices(self) -> list[int]:
        """The side's prices, best first."""
        return sorted(self.queues, key=lambda price: price * self.sign)

    def orders(self) -> tuple[Order, ...]:
        """Every order, best price first, then queue order."""
        return tuple(
            Order(order.order_id, price, order.size_lots) for price in self.prices() for order in self.queues[price]
        )

    def levels(self) -> tuple[Level, ...]:
        """The side as L2 levels, best first: the sum of the orders at each price."""
        return tuple(Level(price, _total(self.queues[price])) for price in self.prices())

    def take_changes(self) -> tuple[OrderChange, ...]:
        changes, self.changes = self.changes, []
        return tuple(changes)


def _total(queue: _Queue) -> int:
    return sum(order.size_lots for order in queue)


class OrderBook:
    """A symbol's L3 book, built from its L2 book now and kept in step with its trades and book changes."""

    __slots__ = ("_asks", "_bids", "_rng", "symbol_id")

    def __init__(self, symbol_id: str, asks: Iterable[Level], bids: Iterable[Level], rng: random.Random) -> None:
        """Cut each level of the L2 book ``asks``/``bids`` into orders; ``rng`` draws every id and choice."""
        self.symbol_id = symbol_id
        self._rng = rng
        self._asks = _OrderSide(1)
        self._bids = _OrderSide(-1)
        for side, levels in ((self._asks, asks), (self._bids, bids)):
            for level in levels:
                side.queues[level.price_ticks] = self._initial_queue(level.size_lots)

    def asks(self) -> tuple[Order, ...]:
        """Every ask order: lowest price first, then oldest first."""
        return self._asks.orders()

    def bids(self) -> tuple[Order, ...]:
        """Every bid order: highest price first, then oldest first."""
        return self._bids.orders()

    def levels(self) -> tuple[tuple[Level, ...], tuple[Level, ...]]:
        """``(asks, bids)`` as L2 levels, best first: the sum of the orders at each price."""
        return self._asks.levels(), self._bids.levels()

    def match(self, trade: Trade) -> None:
        """A trade of the symbol: it fills the front of its level's queue on the maker side, oldest first."""
        is_buy = trade.taker_side is TakerSide.BUY or trade.taker_side is TakerSide.BUY_ESTIMATED
        side = self._asks if is_buy else self._bids
        queue = side.queues.get(trade.price_ticks)
        remaining = trade.size_lots
        while queue and remaining > 0:
            order = queue[0]
            fill = min(order.size_lots, remaining)
            side.changes.append(OrderChange(order.order_id, trade.price_ticks, fill, _MATCH))
            remaining -= fill
            order.size_lots -= fill
            if not order.size_lots:
                queue.pop(0)

    def apply(self, delta: BookDelta) -> OrderBookDelta:
        """The L2 change of the symbol at one instant (after its trades): the order changes of that instant,
        the trades' ``MATCH`` entries first."""
        for side, levels in ((self._asks, delta.asks), (self._bids, delta.bids)):
            for level in levels:
                self._settle_level(side, level.price_ticks, level.size_lots)
        return OrderBookDelta(
            self.symbol_id, delta.time_exchange_ns, self._asks.take_changes(), self._bids.take_changes()
        )

    # -- the queue model ------------------------------------------------------------------------------------

    def _initial_queue(self, size_lots: int) -> _Queue:
        """A level of ``size_lots`` cut into 1 to ``INITIAL_ORDERS_MAX`` orders at uniform random points."""
        rng = self._rng
        count = 1 + min(INITIAL_ORDERS_MAX - 1, size_lots - 1, int(rng.random() * INITIAL_ORDERS_MAX))
        cuts = sorted(rng.sample(range(1, size_lots), count - 1)) if count > 1 else []
        bounds = [0, *cuts, size_lots]
        return [_Resting(self._new_id(), bounds[i + 1] - bounds[i]) for i in range(count)]

    def _settle_level(self, side: _OrderSide, price: int, size_lots: int) -> None:
        """Bring the queue at ``price`` to ``size_lots`` after the instant's matches."""
        queue = side.queues.get(price)
        if queue is None:
            if size_lots > 0:
                side.queues[price] = queue = self._initial_queue(size_lots)
                side.changes += [OrderChange(order.order_id, price, order.size_lots, _ADD) for order in queue]
            return
        held = _total(queue)
        if size_lots == 0:
            for order in queue:
                side.changes.append(OrderChange(order.order_id, price, order.size_lots, _DELETE))
            del side.queues[price]
        elif size_lots > held:
            self._grow(side, queue, price, size_lots - held)
        elif size_lots < held:
            self._cancel(side, queue, price, held - size_lots)

    def _grow(self, side: _OrderSide, queue: _Queue, price: int, lots: int) -> None:
        if queue and self._rng.random() < AMEND_SHARE:
            back = queue[-1]
            back.size_lots += lots
            side.changes.append(OrderChange(back.order_id, price, back.size_lots, _UPDATE))
            return
        order_id = self._new_id()
        queue.append(_Resting(order_id, lots))
        side.changes.append(OrderChange(order_id, price, lots, _ADD))

    def _cancel(self, side: _OrderSide, queue: _Queue, price: int, lots: int) -> None:
        # ``lots`` is less than the queue holds (the level does not empty), so the queue never runs out
        rng = self._rng
        while lots > 0:
            index = int(rng.random() * len(queue))
            order = queue[index]
            if order.size_lots <= lots:
                side.changes.append(OrderChange(order.order_id, price, order.size_lots, _DELETE))
                del queue[index]
                lots -= order.size_lots
            else:
                side.changes.append(OrderChange(order.order_id, price, lots, _SUBTRACT))
                order.size_lots -= lots
                lots = 0

    def _new_id(self) -> str:
        return uuid4_string(self._rng.getrandbits(128))
