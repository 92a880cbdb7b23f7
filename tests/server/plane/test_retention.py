"""Retention without a server: rows kept per symbol, forgotten in whole minutes, folded into minute candles first."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from coinapi_emulator.server.plane.retention import Retention, aggregate, bars_from_trades
from coinapi_emulator.simulator.catalog import CatalogConfig, build_catalog
from coinapi_emulator.simulator.events import ExchangeRate, Quote, TakerSide, Trade

START_NS = 1_704_067_200_000_000_000
SECOND_NS = 1_000_000_000
MINUTE_NS = 60 * SECOND_NS
CATALOG = build_catalog(CatalogConfig(exchanges=2, max_symbols_per_exchange=2, epoch_ns=START_NS), seed=1)
SYMBOL = CATALOG.symbols[0].symbol_id


def _trade(t: int, price: int, size: int = 1) -> Trade:
    return Trade(SYMBOL, t, price, size, TakerSide.SELL, f"{t % 10**8:08x}-0000-4000-8000-{price:012x}")


def test_a_trade_reads_back_as_it_was_published() -> None:
    retention = Retention(CATALOG, window_ns=MINUTE_NS, bar_window_ns=MINUTE_NS, start_ns=START_NS)
    trade = _trade(START_NS + 5, 123)
    retention.record_trade(trade, START_NS + 9)
    [kept] = retention.trades(SYMBOL, START_NS, START_NS + SECOND_NS, 10)
    assert (kept.trade, kept.time_coinapi_ns) == (trade, START_NS + 9)
    quote = Quote(SYMBOL, START_NS + 7, 101, 2, 99, 3)
    retention.record_quote(quote, START_NS + 8)
    assert retention.latest_quotes(SYMBOL, 5)[0].quote == quote


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 20 * MINUTE_NS), st.integers(1, 1000)), min_size=1, max_size=300))
def test_forgotten_trades_live_on_in_minute_candles_equal_to_folding_them(rows: list[tuple[int, int]]) -> None:
    retention = Retention(CATALOG, window_ns=2 * MINUTE_NS, bar_window_ns=60 * MINUTE_NS, start_ns=START_NS)
    trades = [_trade(START_NS + offset, price) for offset, price in sorted(rows)]
    for trade in trades:
        retention.record_trade(trade, trade.time_exchange_ns)
    expected = bars_from_trades(retention.trades(SYMBOL, START_NS, START_NS + 21 * MINUTE_NS, 10**6), "1MIN", MINUTE_NS)
    retention.evict(START_NS + 21 * MINUTE_NS)
    assert retention.trades_from_ns() == START_NS + 19 * MINUTE_NS
    assert list(retention.minute_bars(SYMBOL, START_NS, START_NS + 22 * MINUTE_NS)) == expected
    assert aggregate(expected, "5MIN", 5 * MINUTE_NS) == bars_from_trades(
        [kept for kept in _all(trades)], "5MIN", 5 * MINUTE_NS
    )


def _all(trades: list[Trade]) -> list[object]:
    from coinapi_emulator.server.plane.retention import RetainedTrade

    return [RetainedTrade(trade, trade.time_exchange_ns) for trade in trades]


def test_compaction_keeps_reads_right_after_many_evictions() -> None:
    retention = Retention(CATALOG, window_ns=MINUTE_NS, bar_window_ns=MINUTE_NS, start_ns=START_NS)
    for second in range(0, 3600):
        t = START_NS + second * SECOND_NS
        retention.record_trade(_trade(t, 100 + second), t)
        retention.record_quote(Quote(SYMBOL, t, 101, 1, 99, 1), t)
        retention.record_rate(ExchangeRate("BTC", "USD", t, 40_000.0 + second))
        if second % 10 == 0:
            retention.evict(t)
    newest = retention.latest_trades(SYMBOL, 1)[0].trade
    assert newest.price_ticks == 100 + 3599
    assert retention.rate_usd("BTC", START_NS + 3599 * SECOND_NS) == 40_000.0 + 3599
    assert retention.rate_usd("USD", START_NS) == 1.0
    # the last eviction ran at 3590 s: a minute's window back is 3530 s, rounded down to the whole minute
    assert retention.trades_from_ns() == START_NS + 3480 * SECOND_NS
    kept = retention.trades(SYMBOL, retention.trades_from_ns(), START_NS + 3600 * SECOND_NS, 10**6)
    assert [k.trade.price_ticks for k in kept] == list(range(100 + 3480, 100 + 3600))


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 600), st.booleans(), st.integers(1, 30), st.integers(0, 5)), min_size=1, max_size=400
    ),
    st.integers(0, 600),
)
def test_book_snapshots_survive_folding_old_changes_into_the_base(
    changes: list[tuple[int, bool, int, int]], cut_s: int
) -> None:
    from coinapi_emulator.server.plane.book_history import BookHistory
    from coinapi_emulator.simulator.book import Book
    from coinapi_emulator.simulator.events import BookDelta, Level

    initial = Book(asks=(Level(101, 1), Level(102, 2)), bids=(Level(99, 1), Level(98, 2)))
    history = BookHistory(lambda symbol_id: initial)
    history.watch(SYMBOL)
    deltas = [
        BookDelta(SYMBOL, START_NS + second * SECOND_NS, (Level(100 + price, size),) if is_ask else (), ()
                  if is_ask else (Level(100 - price, size),))
        for second, is_ask, price, size in sorted(changes)
    ]  # fmt: skip
    for delta in deltas:
        history.record(delta, _same)
    cut = START_NS + cut_s * SECOND_NS
    before = list(history.snapshots(SYMBOL, cut, START_NS + 10**12, 50))
    history.forget_before(cut)
    assert list(history.snapshots(SYMBOL, cut, START_NS + 10**12, 50)) == before
    assert len(list(history.snapshots(SYMBOL, 0, START_NS + 10**12, 50))) == len(deltas) - sum(
        1 for delta in deltas if delta.time_exchange_ns < cut
    )


def test_book_history_compacts_and_still_rebuilds_the_same_books() -> None:
    from coinapi_emulator.server.plane.book_history import BookHistory
    from coinapi_emulator.simulator.book import Book
    from coinapi_emulator.simulator.events import BookDelta, Level

    initial = Book(asks=(Level(101, 1),), bids=(Level(99, 1),))
    kept, folded = BookHistory(lambda _: initial), BookHistory(lambda _: initial)
    other = CATALOG.symbols[1].symbol_id
    for history in (kept, folded):
        history.watch(SYMBOL)
    for n in range(6000):
        delta = BookDelta(
            SYMBOL, START_NS + n * SECOND_NS, (Level(101 + n % 7, n % 5),), (Level(99 - n % 3, 1 + n % 4),)
        )
        kept.record(delta, _same)
        folded.record(delta, _same)
        kept.record(BookDelta(other, delta.time_exchange_ns, delta.asks, delta.bids), _same)
        if n % 500 == 0:
            folded.forget_before(delta.time_exchange_ns - 100 * SECOND_NS)
    assert folded._symbols[SYMBOL].dropped > 0, "the folded prefix was deleted"
    window = (START_NS + 5800 * SECOND_NS, START_NS + 6000 * SECOND_NS)
    assert list(folded.snapshots(SYMBOL, *window, 10)) == list(kept.snapshots(SYMBOL, *window, 10))
    assert len(list(kept.snapshots(SYMBOL, *window, 10))) == 200
    assert list(kept.snapshots(other, 0, window[1], 10)) == [], "a symbol nobody watched keeps nothing"


def _same(time_exchange_ns: int) -> int:
    """A stamp: ``time_coinapi`` equal to ``time_exchange``."""
    return time_exchange_ns
