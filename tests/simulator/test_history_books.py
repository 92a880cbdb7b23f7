"""The order books behind the history's quotes: the rule for one book (any quote, any shape), and the books a
``MarketHistory`` gives (its quotes' touch, the live opening book's shape, sizes that hold within a minute)."""

from __future__ import annotations

import random
import statistics
from itertools import accumulate, pairwise

from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.simulator.events import Level, Quote
from coinapi_emulator.simulator.history_books import BookSides, Depth, book_at
from tests.simulator.helpers import SECOND_NS, START_NS
from tests.simulator.test_history import BTC_USDT, MEDIUM, MINUTE, SMALL, _history

_gaps = st.lists(st.integers(1, 50), max_size=30)
_sizes = st.lists(st.integers(1, 10_000), min_size=30, max_size=30)


@st.composite
def _depths(draw: st.DrawFn) -> Depth:
    ask_offsets, bid_offsets = list(accumulate(draw(_gaps))), list(accumulate(draw(_gaps)))
    sizes = draw(_sizes)
    return Depth(
        tuple(ask_offsets), tuple(sizes[: len(ask_offsets)]), tuple(bid_offsets), tuple(sizes[: len(bid_offsets)])
    )


@st.composite
def _quotes(draw: st.DrawFn) -> Quote:
    bid = draw(st.integers(1, 10**9))
    spread = draw(st.integers(1, 100))
    return Quote("X", START_NS, bid + spread, draw(st.integers(1, 10**6)), bid, draw(st.integers(1, 10**6)))


def _check(book: BookSides, quote: Quote, levels: int) -> None:
    asks, bids = book
    assert asks[0] == Level(quote.ask_price_ticks, quote.ask_size_lots)
    assert bids[0] == Level(quote.bid_price_ticks, quote.bid_size_lots)
    assert 1 <= len(asks) <= levels and 1 <= len(bids) <= levels
    assert all(a.price_ticks < b.price_ticks for a, b in pairwise(asks)), "asks ascend, each price once"
    assert all(a.price_ticks > b.price_ticks for a, b in pairwise(bids)), "bids descend, each price once"
    assert bids[-1].price_ticks > 0 and bids[0].price_ticks < asks[0].price_ticks
    assert all(level.size_lots >= 1 for level in (*asks, *bids))


@given(quote=_quotes(), depth=_depths(), levels=st.integers(1, 40), seed=st.integers(0, 2**32))
def test_any_quote_and_shape_give_an_uncrossed_book_on_its_touch(
    quote: Quote, depth: Depth, levels: int, seed: int
) -> None:
    sizes = depth.sizes_of_minute(random.Random(seed))
    book = book_at(quote, depth, sizes, levels)
    _check(book, quote, levels)
    asks, bids = book
    assert [level.price_ticks - quote.ask_price_ticks for level in asks[1:]] == list(depth.ask_offsets[: levels - 1])
    kept = [offset for offset in depth.bid_offsets[: levels - 1] if quote.bid_price_ticks - offset > 0]
    assert [quote.bid_price_ticks - level.price_ticks for level in bids[1:]] == kept


@given(depth=_depths(), quote=_quotes())
def test_a_books_shape_put_back_behind_its_touch_is_the_book(depth: Depth, quote: Quote) -> None:
    sizes = (depth.ask_sizes, depth.bid_sizes)
    book = book_at(quote, depth, sizes, levels=31)
    again = book_at(quote, Depth.of(*book), (depth.ask_sizes, depth.bid_sizes), levels=31)
    assert again == book


def test_deep_sizes_vary_around_the_opening_books_minute_by_minute() -> None:
    depth = Depth((1, 2), (100, 1000), (1,), (10,))
    draws = [depth.sizes_of_minute(random.Random(seed)) for seed in range(2000)]
    assert draws[0] == depth.sizes_of_minute(random.Random(0)), "the same draw for the same seed"
    for at, typical in ((0, 100), (1, 1000)):
        sizes = [asks[at] for asks, _ in draws]
        assert 0.9 * typical < statistics.median(sizes) < 1.1 * typical
        assert statistics.quantiles(sizes, n=10)[-1] > 1.4 * typical, "lognormal spread"
    assert min(bids[0] for _, bids in draws) >= 1


def test_a_historys_books_stand_behind_its_quotes_in_the_live_books_shape() -> None:
    history, market = _history(SMALL)
    quotes = history.quotes(BTC_USDT, START_NS - 3 * MINUTE, START_NS, limit=100_000)
    books = history.books(quotes, levels=20)
    assert len(books) == len(quotes) > 500
    for book, quote in zip(books, quotes, strict=True):
        _check(book, quote, 20)
    asks, bids = market.start_book(BTC_USDT).top(20)
    opening, last = Depth.of(asks, bids), Depth.of(*books[-1])
    assert (last.ask_offsets, last.bid_offsets) == (opening.ask_offsets, opening.bid_offsets)
    by_minute: dict[int, set[tuple[tuple[int, ...], tuple[int, ...]]]] = {}
    for book, quote in zip(books, quotes, strict=True):
        shape = Depth.of(*book)
        by_minute.setdefault(quote.time_exchange_ns // MINUTE, set()).add((shape.ask_sizes, shape.bid_sizes))
    assert all(len(sizes) == 1 for sizes in by_minute.values()), "deep sizes hold within a minute"
    assert len(set().union(*by_minute.values())) == 3, "and change from one minute to the next"


def test_the_same_books_whatever_the_order_of_the_requests_and_every_symbol_has_them() -> None:
    one, _ = _history(MEDIUM)
    other, _ = _history(MEDIUM)
    window = (START_NS - 2 * MINUTE, START_NS - 30 * SECOND_NS)
    for symbol in MEDIUM.symbols:
        quotes = one.quotes(symbol.symbol_id, *window, limit=50)
        assert quotes, symbol.symbol_id
        for book, quote in zip(one.books(quotes, 5), quotes, strict=True):
            _check(book, quote, 5)
    newest = other.newest_quotes([BTC_USDT], 40)
    assert other.books(newest, 3) == one.books(newest, 3)
