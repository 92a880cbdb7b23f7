"""The market: every symbol's price, flow, book and candles, advanced on the virtual clock as one event stream.

``Market.advance(until_ns)`` yields every event up to ``until_ns`` in one total order: by time, then the
whole-second tick (candles and exchange rates) before symbols, then symbol index in the catalogue. A heap holds
each symbol's next event time; a symbol's events depend only on (seed, symbol, asset factors), never on other
symbols or on how the caller slices time into ``advance`` calls.

Pure: no wall clock, no asyncio, no global random state, nothing from ``server``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Iterator, Sequence
from heapq import heapify, heapreplace
from typing import Any, Literal, NamedTuple

from coinapi_emulator.simulator import _native
from coinapi_emulator.simulator._fast import make_rate, make_trade
from coinapi_emulator.simulator.book import Book
from coinapi_emulator.simulator.book import BookMaker as ReferenceBookMaker
from coinapi_emulator.simulator.catalog import TOP_TRADE_RATE, Catalog, Symbol, SymbolType
from coinapi_emulator.simulator.events import MarketEvent, TakerSide
from coinapi_emulator.simulator.flow import FlowHandover, TradeFlow
from coinapi_emulator.simulator.ohlcv import OhlcvEngine
from coinapi_emulator.simulator.orders import OrderBook
from coinapi_emulator.simulator.price import (
    STEP_NS,
    AssetFactor,
    PriceFactors,
    PricerHandover,
    SymbolPricer,
    venue_lag_steps,
)
from coinapi_emulator.simulator.rng import stable_seed, symbol_rng, uuid4_string
from coinapi_emulator.simulator.venues import venue_activity

_NS = 1_000_000_000
_STEP_SIGMA = math.sqrt(STEP_NS / 1e9 / (365.0 * 86_400.0))
#: Median notional of a trade, in USD (heavy-tailed around it).
_TRADE_USD = 150.0
#: Scale of a resting level's notional, in USD: from ``_LEVEL_USD_MIN`` on quiet symbols to ``_LEVEL_USD_TOP`` on
#: the busiest (``catalog.TOP_TRADE_RATE`` trades a second), growing with the square root of the trade rate; with
#: the depth profile this puts several $M within 10 bp of the mid of the big venues' BTC books (Kaiko market
#: depth research).
_LEVEL_USD_MIN = 1500.0
_LEVEL_USD_TOP = 20_000.0
#: Liquid symbols (at least one trade a second) quote a one-tick spread: their fresh touch sits this many ticks
#: from the fair mid, and their levels are one tick apart near the touch.
_LIQUID_TRADE_RATE = 1.0
_LIQUID_HALF_SPREAD_TICKS = 0.01
#: After a trade the makers refill within ~50 virtual ms on average.
_REFILL_RATE_PER_S = 20.0
_BUY, _SELL = TakerSide.BUY, TakerSide.SELL
_log = math.log
# hot-path truncation of non-negative floats: math.floor equals int() there, and int() on a float goes
# through CPython's generic type call, about three times the cost
_floor = math.floor


class SymbolHandover(NamedTuple):
    """A ``SymbolState`` as its C twin (simulator/csrc/symbol.c) takes it over: the explicit contract between the
    two, so the C code reads no private attribute of the Python objects."""

    symbol: Symbol
    symbol_id: str
    #: the symbol's position in the catalogue (``SymbolState.index``; ``index`` is taken by tuple)
    catalog_index: int
    rng: random.Random
    factors: PriceFactors
    #: called with (index, time_ns, price_ticks, size_lots) for every fill
    on_trade: Callable[[int, int, int, int], None]
    init_seed: int
    mid0: float
    #: the C ``BookMaker`` (the twin refuses the reference class)
    book_maker: Any
    flow: FlowHandover
    pricer: PricerHandover
    #: the C ``Book`` when already built, else None
    book: Any
    us_per_book: float
    spread_multiplier: float
    halted: bool
    next_trade_ns: int
    next_book_ns: int
    next_ns: int
    trades_count: int
    volume_lots: int
    last_price_ticks: int


class SymbolState:
    """Mutable state of one symbol, owned by the ``Market``.

    Public fields are scenario hooks (``halted``, ``spread_multiplier``) and REST statistics; the rest is
    private model state.
    """

    __slots__ = (
        "_book",
        "_factors",
        "_init_seed",
        "_mid0",
        "_on_trade",
        "book_maker",
        "flow",
        "halted",
        "index",
        "last_price_ticks",
        "next_book_ns",
        "next_ns",
        "next_trade_ns",
        "pricer",
        "rng",
        "spread_multiplier",
        "symbol",
        "symbol_id",
        "trades_count",
        "us_per_book",
        "volume_lots",
    )

    def __init__(
        self,
        index: int,
        symbol: Symbol,
        catalog: Catalog,
        factors: PriceFactors,
        *,
        seed: int,
        start_ns: int,
        rate_scale: float,
        on_trade: Callable[[int, int, int, int], None],
    ) -> None:
        self.index = index
        self.symbol = symbol
        self.symbol_id = symbol.symbol_id
        self.rng = rng = symbol_rng(seed, symbol.symbol_id)
        base = catalog.asset(symbol.asset_id_base)
        quote = catalog.asset(symbol.asset_id_quote)
        if base is None or quote is None:
            raise ValueError(f"{symbol.symbol_id}: asset missing from the catalogue")
        exchange = catalog.exchange(symbol.exchange_id)
        rank = exchange.rank if exchange is not None else len(catalog.exchanges)
        lag = venue_lag_steps(venue_activity(symbol.exchange_id, rank))
        self.pricer = SymbolPricer(symbol, factors, base, rng, start_ns, lag)
        self._mid0 = self.pricer.fair_mid_ticks(start_ns, factors)
        # level spacing ~ the price noise between two book events (at least one grid step): busy books are
        # dense, the long tail's books are sparse and wide; options move several times their underlying
        pair_vol = max(base.volatility, quote.volatility, 0.01)
        if symbol.symbol_type is SymbolType.OPTION:
            pair_vol *= 5.0
        steps_between_updates = max(1.0, 1e9 / STEP_NS / max(symbol.book_rate, 1e-3))
        step_ticks = self._mid0 * pair_vol * _STEP_SIGMA * math.sqrt(steps_between_updates)
        lot_usd = 10.0**-symbol.size_decimals * (
            quote.initial_price_usd * (symbol.contract_unit or 1.0)
            if symbol.contract_unit_asset == symbol.asset_id_quote
            else base.initial_price_usd
        )
        liquid = symbol.trade_rate >= _LIQUID_TRADE_RATE
        half_spread = _LIQUID_HALF_SPREAD_TICKS if liquid else step_ticks * 1.5
        level_usd = max(_LEVEL_USD_MIN, _LEVEL_USD_TOP * math.sqrt(symbol.trade_rate / TOP_TRADE_RATE))
        fast = _native.speedups
        maker_class = ReferenceBookMaker if fast is None else fast.BookMaker
        self.book_maker = maker_class(rng, round(step_ticks), half_spread, level_usd / lot_usd, 1 if liquid else None)
        self.flow = TradeFlow(rng, symbol.trade_rate * rate_scale, _TRADE_USD / lot_usd, pair_vol * _STEP_SIGMA)
        #: mean time between background book changes, in microseconds
        self.us_per_book = 1e6 / (symbol.book_rate * rate_scale)
        self._init_seed = stable_seed(seed, "initial-book", symbol.symbol_id)
        self._book: Book | None = None
        #: scenario hook: no trades and no book changes while True
        self.halted = False
        #: scenario hook: multiplies the quoted spread of new touch levels
        self.spread_multiplier = 1.0
        self.trades_count = 0
        self.volume_lots = 0
        #: price of the last trade, 0 before the first one
        self.last_price_ticks = 0
        self._factors = factors
        #: called with (index, time_ns, price_ticks, size_lots) for every fill (the candles)
        self._on_trade = on_trade
        self.next_trade_ns = start_ns + self.flow.next_gap_ns(factors.activity)
        self.next_book_ns = start_ns + self.book_gap_ns()
        #: time of the symbol's next event: the earlier of the two above
        self.next_ns = min(self.next_trade_ns, self.next_book_ns)

    def handover(self) -> SymbolHandover:
        """Everything a C twin needs to carry on from here (``simulator._speedups.SymbolState(handover)``)."""
        return SymbolHandover(
            self.symbol,
            self.symbol_id,
            self.index,
            self.rng,
            self._factors,
            self._on_trade,
            self._init_seed,
            self._mid0,
            self.book_maker,
            self.flow.handover(),
            self.pricer.handover(),
            self._book,
            self.us_per_book,
            self.spread_multiplier,
            self.halted,
            self.next_trade_ns,
            self.next_book_ns,
            self.next_ns,
            self.trades_count,
            self.volume_lots,
            self.last_price_ticks,
        )

    def book_gap_ns(self) -> int:
        """Time to the next background book change (Poisson in the market's operational time, microseconds)."""
        return (_floor(-_log(1.0 - self.rng.random()) * self.us_per_book / self._factors.activity) + 1) * 1000

    @property
    def book(self) -> Book:
        """The symbol's book; built on first use from the start-time state, with its own generator."""
        book = self._book
        if book is None:
            book = self._book = self.book_maker.initial_book(self._mid0, random.Random(self._init_seed))
        return book

    def event(self, t: int) -> Sequence[MarketEvent]:
        """The symbol's event at ``t`` (its ``next_ns``): a trade arrival or a background book change (with a
        racer's trades first when the fair mid has run past a touch).

        Returns what it changed, in order (trades, then the ``BookDelta``, then the ``Quote`` if the top moved),
        and sets ``next_ns``. ``simulator._speedups.SymbolState`` is the C twin of this method and its state.
        """
        out = self._trade(t) if self.next_trade_ns <= t else self._book_event(t)
        self.next_ns = self.next_trade_ns if self.next_trade_ns < self.next_book_ns else self.next_book_ns
        return out

    def _book_event(self, t: int) -> Sequence[MarketEvent]:
        self.next_book_ns = t + self.book_gap_ns()
        if self.halted:
            return ()
        mid = self.pricer.fair_mid_ticks(t, self._factors)
        book = self._book or self.book
        ask, _, bid, _ = book.touch()
        if bid <= mid <= ask:
            return self.book_maker.step(book, mid, self.spread_multiplier, self.symbol_id, t)
        out = self._race(t, book, mid, ask, bid)
        out += self.book_maker.step(book, mid, self.spread_multiplier, self.symbol_id, t)
        return out

    def _race(self, t: int, book: Book, mid: float, ask: int, bid: int) -> list[MarketEvent]:
        """The fair mid has run past a touch: a taker may pick off the stale quotes, up to the fair price, before
        the makers reprice (a limit order: it takes nothing priced worse than the fair mid)."""
        is_buy = mid > ask
        run = mid - ask if is_buy else bid - mid
        factors = self._factors
        lots = self.flow.racer_lots(run / mid, factors.vol_scale, factors.activity)
        if not lots:
            return []
        return self._record_fills(t, is_buy, book.sweep(is_buy, lots, _floor(mid) if is_buy else math.ceil(mid)))

    def _trade(self, t: int) -> Sequence[MarketEvent]:
        flow = self.flow
        self.next_trade_ns = t + flow.next_gap_ns(self._factors.activity)
        if self.halted:
            return ()
        book = self._book or self.book
        mid = self.pricer.fair_mid_ticks(t, self._factors)
        ask, _, bid, _ = book.touch()
        is_buy = flow.taker_is_buy((mid - 0.5 * (ask + bid)) / (ask - bid))
        fills = book.sweep(is_buy, flow.size_lots())
        if not fills:
            return ()
        out = self._record_fills(t, is_buy, fills)
        out += book.emit(self.symbol_id, t)
        # rng.expovariate(rate), spelled out to save a Python-level call (the same formula and draw)
        refill_ns = t + (_floor(-_log(1.0 - self.rng.random()) / _REFILL_RATE_PER_S * 1e6) + 1) * 1000
        if refill_ns < self.next_book_ns:
            self.next_book_ns = refill_ns
        return out

    def _record_fills(self, t: int, is_buy: bool, fills: list[tuple[int, int]]) -> list[MarketEvent]:
        """One ``Trade`` per fill of a taker order, counted in the symbol's statistics and candles."""
        side = _BUY if is_buy else _SELL
        symbol_id, index, rng, on_trade = self.symbol_id, self.index, self.rng, self._on_trade
        out: list[MarketEvent] = []
        volume = 0
        for price, size in fills:
            out.append(make_trade(symbol_id, t, price, size, side, uuid4_string(rng.getrandbits(128))))
            on_trade(index, t, price, size)
            volume += size
        if fills:
            self.trades_count += len(fills)
            self.volume_lots += volume
            self.last_price_ticks = fills[-1][0]
        return out


class Market:
    """A synthetic market over a catalogue, advanced on a virtual clock; one owner drives it.

    Deterministic: the same (catalog, seed, start_ns, rate_scale) and the same sequence of ``advance`` targets
    give the same events, and splitting one ``advance`` into several gives the same events as well.

    ``bars="wanted"``: yield only the ``Bar`` events of the (symbol, period) pairs chosen with ``want_bars``
    (none at first); everything else, bar sequences included, is the same as with the default ``"all"``.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        seed: int,
        start_ns: int,
        rate_scale: float = 1.0,
        bars: Literal["all", "wanted"] = "all",
    ) -> None:
        if rate_scale <= 0.0:
            raise ValueError("rate_scale must be > 0")
        self.catalog = catalog
        self._seed = seed
        self._now_ns = start_ns
        self._factors = PriceFactors(catalog.assets, seed, start_ns)
        self._ohlcv = OhlcvEngine([symbol.symbol_id for symbol in catalog.symbols], all_bars=bars == "all")
        record_trade = self._ohlcv.trade_recorder()
        self._states = [
            SymbolState(
                i,
                symbol,
                catalog,
                self._factors,
                seed=seed,
                start_ns=start_ns,
                rate_scale=rate_scale,
                on_trade=record_trade,
            )
            for i, symbol in enumerate(catalog.symbols)
        ]
        #: each symbol's book maker, fair mid and book seed, and each asset's log USD rate, at the start: where
        #: history before it ends
        self._start_books = {
            state.symbol_id: (state.book_maker, state._mid0, state._init_seed) for state in self._states
        }
        self._start_log_usd = list(self._factors.log_usd)
        fast = _native.speedups
        if fast is not None:
            self._states = [fast.SymbolState(state.handover()) for state in self._states]
        self._by_id = {st.symbol_id: st for st in self._states}
        self._rate_assets = [
            (a.asset_id, self._factors.index(a.asset_id)) for a in catalog.assets if a.asset_id != "USD"
        ]
        # heap keys pack (time, order) into one int, far cheaper to compare than tuples: order 0 is the
        # whole-second tick, order i + 1 is symbol i
        self._shift = (len(self._states) + 1).bit_length()
        first_second = (start_ns // _NS + 1) * _NS
        self._heap: list[int] = self._initial_heap(first_second) if fast is None else []
        self._pending: list[MarketEvent] = []
        self._running = False
        #: the C twin of ``_run`` over the C symbol states, when the speedups are built
        self._scheduler = (
            None if fast is None else fast.Scheduler(self._states, self._second, self._factors, first_second, start_ns)
        )

    def _initial_heap(self, first_second: int) -> list[int]:
        """The pure-Python event loop's heap: the first whole-second tick and every symbol's first event."""
        shift = self._shift
        heap = [first_second << shift]
        heap += [(st.next_ns << shift) | (st.index + 1) for st in self._states]
        heapify(heap)
        return heap

    @property
    def now_ns(self) -> int:
        """Virtual time: the target of the last exhausted ``advance``, or the time of the events being yielded."""
        return self._now_ns if self._scheduler is None else self._scheduler.now_ns

    def book(self, symbol_id: str) -> Book:
        """The live book of a symbol (read-only for callers); reflects exactly the events yielded so far.

        KeyError for an unknown symbol id.
        """
        return self._by_id[symbol_id].book

    def order_book(self, symbol_id: str) -> OrderBook:
        """The symbol's book now as orders (``simulator/orders.py``), for an owner that feeds it every trade and
        book change of the symbol from here on. Its ids and choices are drawn from (seed, symbol, now): a book
        followed from the same moment is the same order by order. KeyError for an unknown symbol id.
        """
        book = self._by_id[symbol_id].book
        rng = random.Random(stable_seed(self._seed, "orders", symbol_id, str(self.now_ns)))
        return OrderBook(symbol_id, book.asks(), book.bids(), rng)

    def want_bars(self, symbol_id: str, period_id: str, wanted: bool) -> None:
        """With ``bars="wanted"``: start or stop yielding the symbol's ``Bar`` events of one live period.

        KeyError for an unknown symbol; ValueError for a period that is not live, or with ``bars="all"``.
        """
        self._ohlcv.want(self._by_id[symbol_id].index, period_id, wanted)

    def symbol_state(self, symbol_id: str) -> SymbolState:
        """The symbol's mutable state, for scenario hooks (``halted``, ``spread_multiplier``)."""
        return self._by_id[symbol_id]

    def asset_factor(self, asset_id: str) -> AssetFactor | None:
        """The asset's USD price factor (``volatility_multiplier`` hook), None for USD."""
        return self._factors.factor(asset_id)

    def jump_price(self, asset_id: str, percent: float) -> None:
        """Scenario hook: the asset's USD price moves by ``percent`` now, on every exchange at once.

        Books then reprice toward the new fair price through their normal updates, as after a real gap.
        """
        if percent <= -100.0:
            raise ValueError(f"a price cannot fall by {percent} %")
        self._factors.jump(asset_id, math.log1p(percent / 100.0), self.now_ns)

    def rate_usd(self, asset_id: str) -> float:
        """The asset's USD reference rate at ``now_ns`` (1.0 for USD); KeyError for an unknown asset id."""
        self._factors.step_to(self.now_ns)  # stepping early is safe: steps depend only on (seed, asset, k)
        return math.exp(self._factors.log_usd[self._factors.index(asset_id)])

    def start_mid_ticks(self, symbol_id: str) -> float:
        """The symbol's fair mid price at the start, in ticks; KeyError for an unknown symbol id."""
        return self._start_books[symbol_id][1]

    def start_book(self, symbol_id: str) -> Book:
        """A new copy of the book the symbol starts with (its live book before the first change); KeyError for an
        unknown symbol id."""
        maker, mid, seed = self._start_books[symbol_id]
        return maker.initial_book(mid, random.Random(seed))

    def start_rate_usd(self, asset_id: str) -> float:
        """The asset's USD rate at the start (1.0 for USD); KeyError for an unknown asset id."""
        return math.exp(self._start_log_usd[self._factors.index(asset_id)])

    def last_price_ticks(self, symbol_id: str) -> int:
        """Price of the symbol's last trade, or the book's mid (rounded down) before its first trade."""
        state = self._by_id[symbol_id]
        if state.last_price_ticks:
            return state.last_price_ticks
        ask, _, bid, _ = state.book.touch()
        return (ask + bid) // 2

    def trades_count(self, symbol_id: str) -> int:
        """Number of trades of the symbol since the market started."""
        return self._by_id[symbol_id].trades_count

    def volume_lots_since_start(self, symbol_id: str) -> int:
        """Traded base volume of the symbol since the market started, in lots."""
        return self._by_id[symbol_id].volume_lots

    def advance(self, until_ns: int) -> Iterator[MarketEvent]:
        """Yield every event with time in (now_ns, until_ns], in order; then ``now_ns == until_ns``.

        When an event is yielded, ``book(symbol_id)`` already shows it and nothing later: the events of one
        symbol at one instant (its trades, then the ``BookDelta``, then the ``Quote`` if the top changed) are
        applied together before the first of them is yielded. Exhaust the iterator before calling ``advance``
        again; if it is dropped early, the rest of the current instant is yielded first by the next call.
        """
        if self._scheduler is not None:
            return self._scheduler.advance(until_ns)
        if until_ns < self._now_ns:
            raise ValueError(f"advance to {until_ns} is before now ({self._now_ns})")
        if self._running:
            raise RuntimeError("the previous advance() iterator is still open")
        return self._run(until_ns)

    def _run(self, until_ns: int) -> Iterator[MarketEvent]:
        self._running = True
        heap, states, factors = self._heap, self._states, self._factors
        shift = self._shift
        mask = (1 << shift) - 1
        limit = (until_ns + 1) << shift
        second_key = _NS << shift
        pending = iter(self._pending)
        self._pending = []
        try:
            for event in pending:
                yield event
            while heap[0] < limit:
                key = heap[0]
                t = key >> shift
                self._now_ns = t
                if t >= factors.next_step_ns:
                    factors.step_to(t)
                order = key & mask
                if order:
                    state = states[order - 1]
                    out = state.event(t)
                    heapreplace(heap, (state.next_ns << shift) | order)
                else:
                    out = self._second(t)
                    heapreplace(heap, key + second_key)
                pending = iter(out)
                for event in pending:
                    yield event
            self._now_ns = until_ns
        finally:
            self._pending = list(pending)
            self._running = False

    def _second(self, t: int) -> list[MarketEvent]:
        """The whole-second tick: candles first (they describe the past second), then exchange rates."""
        out: list[MarketEvent] = []
        self._ohlcv.on_second(t, out)
        log_usd = self._factors.log_usd
        for asset_id, i in self._rate_assets:
            out.append(make_rate(asset_id, "USD", t, math.exp(log_usd[i])))
        return out
