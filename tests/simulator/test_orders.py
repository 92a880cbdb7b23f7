"""Order books (simulator/orders.py): L3 queues that always sum to the L2 book, under price-time priority."""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Iterable

from hypothesis import given, settings
from hypothesis import strategies as st

from coinapi_emulator.simulator.book import Book
from coinapi_emulator.simulator.catalog import CatalogConfig, build_catalog
from coinapi_emulator.simulator.events import BookDelta, Level, TakerSide, Trade
from coinapi_emulator.simulator.market import Market
from coinapi_emulator.simulator.orders import (
    INITIAL_ORDERS_MAX,
    Order,
    OrderBook,
    OrderBookDelta,
    OrderChange,
    UpdateType,
)
from tests.l3_replica import Entry, L3Replica
from tests.simulator.helpers import SECOND_NS, START_NS

SYMBOL = "BINANCE_SPOT_BTC_USDT"


def entries(orders: Iterable[Order | OrderChange]) -> list[Entry]:
    return [
        Entry(o.order_id, o.price_ticks, o.size_lots, o.update_type.value if isinstance(o, OrderChange) else None)
        for o in orders
    ]


def replica_of(book: OrderBook) -> L3Replica:
    replica = L3Replica()
    replica.snapshot({"asks": entries(book.asks()), "bids": entries(book.bids())})
    return replica


def test_a_followed_book_sums_to_the_markets_book_after_every_change_and_a_client_can_follow_it() -> None:
    catalog = build_catalog(CatalogConfig(exchanges=3, max_symbols_per_exchange=3), seed=0)
    market = Market(catalog, seed=5, start_ns=START_NS)
    followed = market.order_book(SYMBOL)
    replica = replica_of(followed)
    kinds: Counter[str] = Counter()
    changes = 0
    trades: list[Trade] = []
    for event in market.advance(START_NS + 120 * SECOND_NS):
        if getattr(event, "symbol_id", None) != SYMBOL:
            continue
        if isinstance(event, Trade):
            followed.match(event)
            trades.append(event)
        elif isinstance(event, BookDelta):
            update = followed.apply(event)
            replica.update({"asks": entries(update.asks), "bids": entries(update.bids)})
            book = market.book(SYMBOL)
            assert followed.levels() == (book.asks(), book.bids())
            assert replica.orders == replica_of(followed).orders
            matched = [c for c in update.asks + update.bids if c.update_type is UpdateType.MATCH]
            assert sum(c.size_lots for c in matched) == sum(t.size_lots for t in trades)
            assert update.time_exchange_ns == event.time_exchange_ns
            kinds.update(c.update_type.value for c in update.asks + update.bids)
            changes += 1
            trades = []
    assert changes > 1000
    assert set(kinds) == {kind.value for kind in UpdateType}, kinds


def test_matches_take_the_front_of_the_queue_and_the_trades_side() -> None:
    book = OrderBook("X", [Level(101, 10)], [Level(99, 10)], random.Random(1))
    bids_before = book.bids()
    front, *rest = [order for order in book.asks() if order.price_ticks == 101]
    book.match(Trade("X", 5, 101, front.size_lots + 1, TakerSide.BUY, "u"))
    update = book.apply(BookDelta("X", 5, (Level(101, 10 - front.size_lots - 1),), ()))
    assert update.bids == () and book.bids() == bids_before
    assert update.asks[0] == OrderChange(front.order_id, 101, front.size_lots, UpdateType.MATCH)
    assert update.asks[1] == OrderChange(rest[0].order_id, 101, 1, UpdateType.MATCH)


@settings(max_examples=60, deadline=None)
@given(
    levels=st.lists(st.integers(1, 50), min_size=2, max_size=6),
    # (a trade?, buy / ask side?, lots to take or level offset, new level size)
    steps=st.lists(st.tuples(st.booleans(), st.booleans(), st.integers(0, 80), st.integers(0, 60)), max_size=30),
    seed=st.integers(0, 2**32),
)
def test_any_valid_l2_history_keeps_the_orders_in_step(
    levels: list[int], steps: list[tuple[bool, bool, int, int]], seed: int
) -> None:
    book = Book(
        tuple(Level(100 + i, size) for i, size in enumerate(levels)),
        tuple(Level(99 - i, size) for i, size in enumerate(levels)),
    )
    followed = OrderBook("X", book.asks(), book.bids(), random.Random(seed))
    replica = replica_of(followed)
    for time_ns, (is_trade, buy_or_ask, amount, size) in enumerate(steps, start=1):
        if is_trade:
            side = TakerSide.BUY if buy_or_ask else TakerSide.SELL
            for price, lots in book.sweep(buy_or_ask, amount):
                followed.match(Trade("X", time_ns, price, lots, side, "u"))
        elif size == 0 and len(book.asks() if buy_or_ask else book.bids()) == 1:
            continue  # a book keeps both sides
        elif buy_or_ask:
            book.set_ask(100 + amount % 8, size)
        else:
            book.set_bid(99 - amount % 8, size)
        for event in book.emit("X", time_ns):
            if isinstance(event, BookDelta):
                update = followed.apply(event)
                replica.update({"asks": entries(update.asks), "bids": entries(update.bids)})
        assert followed.levels() == (book.asks(), book.bids())
        assert replica.orders == replica_of(followed).orders


@given(size=st.integers(1, 10_000), seed=st.integers(0, 2**32))
def test_a_level_is_first_cut_into_a_few_orders_that_sum_to_it(size: int, seed: int) -> None:
    book = OrderBook("X", [Level(101, size)], [], random.Random(seed))
    orders = book.asks()
    assert 1 <= len(orders) <= min(size, INITIAL_ORDERS_MAX)
    assert sum(order.size_lots for order in orders) == size and all(order.size_lots > 0 for order in orders)
    assert len({order.order_id for order in orders}) == len(orders)


def test_a_book_followed_from_the_same_moment_is_the_same_and_another_moment_draws_new_ids() -> None:
    catalog = build_catalog(CatalogConfig(exchanges=3, max_symbols_per_exchange=3), seed=0)

    def orders_at(seconds: int) -> tuple[Order, ...]:
        market = Market(catalog, seed=5, start_ns=START_NS)
        deque(market.advance(START_NS + seconds * SECOND_NS), maxlen=0)
        return market.order_book(SYMBOL).asks()

    assert orders_at(3) == orders_at(3)
    assert not {o.order_id for o in orders_at(3)} & {o.order_id for o in orders_at(4)}


def test_a_level_added_and_removed_within_one_instant_changes_no_order() -> None:
    # Book.emit reports the net change of an instant: a level that came and went shows as size 0, never seen before
    book = OrderBook("X", [Level(101, 10)], [Level(99, 10)], random.Random(1))
    before = book.asks(), book.bids()
    assert book.apply(BookDelta("X", 5, (Level(102, 0),), ())) == OrderBookDelta("X", 5, (), ())
    assert (book.asks(), book.bids()) == before
