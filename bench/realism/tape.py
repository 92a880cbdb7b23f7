"""The record of a simulated market that the facts are measured on: trades, quotes and sampled books of a few
symbols, as numpy arrays in real units (prices in quote currency, sizes in base units)."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from coinapi_emulator.simulator.catalog import Catalog, CatalogConfig, Symbol, build_catalog
from coinapi_emulator.simulator.events import Level, Quote, TakerSide, Trade
from coinapi_emulator.simulator.market import Market
from coinapi_emulator.simulator.price import PriceFactors

NS_PER_S: Final = 1_000_000_000
#: Friday 2024-01-05T00:00:00Z: a 72 h run covers a weekday and a weekend
START_NS: Final = 1_704_412_800 * NS_PER_S
#: the symbols measured (the issue's table: three venues' BTC, and ETH on the biggest)
SYMBOLS: Final = ("BINANCE_SPOT_BTC_USDT", "COINBASE_SPOT_BTC_USD", "KRAKEN_SPOT_BTC_USD", "BINANCE_SPOT_ETH_USDT")
#: the catalogue: the three biggest venues (BINANCE, KRAKEN, COINBASE) and their first symbols
CATALOG: Final = CatalogConfig(exchanges=3, max_symbols_per_exchange=12)
#: a book sample every virtual minute, its best ``BOOK_LEVELS`` levels a side
BOOK_EVERY_S: Final = 60
BOOK_LEVELS: Final = 100
#: the asset whose daily returns and long-run volatility are measured, over this many virtual days: six years, as
#: long as the BTC record the references use (its USD factor alone, on a grid of ``FACTOR_STEP_NS``: a day costs
#: ~0.03 s there, ~1.2 s on the market's grid, ~50 s for the whole market; a fat-tailed daily kurtosis needs years
#: of days before it settles)
DAILY_ASSET: Final = "BTC"
DAYS: Final = 2190
#: the factor's grid for those years: the market's process (its variance per unit of time, jump rate, regime) on
#: steps of 10 s instead of 100 ms; the same at the scale of the minutes and days measured
FACTOR_STEP_NS: Final = 10 * NS_PER_S
MINUTES_PER_DAY: Final = 1440

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


@dataclass
class SymbolTape:
    """What one symbol did: its trades, its quotes (the top of its book after each change) and book samples."""

    symbol_id: str
    tick: float
    #: the smallest size step, in base units
    lot: float
    trade_t: Ints
    trade_price: Floats
    trade_size: Floats
    #: +1 buyer-initiated, -1 seller-initiated
    trade_sign: Floats
    quote_t: Ints
    bid: Floats
    ask: Floats
    bid_size: Floats
    ask_size: Floats
    #: one (bids, asks) pair a minute: arrays of (price, size) rows, best first
    books: list[tuple[Floats, Floats]] = field(default_factory=list)


@dataclass
class Tape:
    """One seeded run."""

    seed: int
    start_ns: int
    hours: float
    symbols: dict[str, SymbolTape]
    #: 1-minute log returns of ``DAILY_ASSET``'s USD factor over ``DAYS`` days from ``START_NS``
    factor_minutes: Floats = field(default_factory=lambda: np.array([], dtype=np.float64))
    #: the market's activity (the multiplier of every trade rate) at the end of each of those minutes
    factor_activity: Floats = field(default_factory=lambda: np.array([], dtype=np.float64))

    @property
    def daily_returns(self) -> Floats:
        """Daily log returns of the factor: its 1-minute returns summed by whole days."""
        return by_day(self.factor_minutes).sum(axis=1)


def by_day(per_minute: Floats) -> Floats:
    """A per-minute series from ``START_NS`` (midnight UTC) as one row of ``MINUTES_PER_DAY`` a whole day; a part
    day at the end is left out."""
    days = len(per_minute) // MINUTES_PER_DAY
    return per_minute[: days * MINUTES_PER_DAY].reshape(days, MINUTES_PER_DAY)


class _Recorder:
    """Collects one symbol's events into compact arrays while the market runs."""

    def __init__(self, symbol: Symbol) -> None:
        self.symbol = symbol
        self.price_unit = 10.0**-symbol.price_decimals
        self.size_unit = 10.0**-symbol.size_decimals
        self.trades = {name: array("q") for name in ("t", "price", "size", "sign")}
        self.quotes = {name: array("q") for name in ("t", "bid", "ask", "bid_size", "ask_size")}
        self.books: list[tuple[Floats, Floats]] = []

    def trade(self, event: Trade) -> None:
        buy = event.taker_side in (TakerSide.BUY, TakerSide.BUY_ESTIMATED)
        for name, value in (
            ("t", event.time_exchange_ns),
            ("price", event.price_ticks),
            ("size", event.size_lots),
            ("sign", 1 if buy else -1),
        ):
            self.trades[name].append(value)

    def quote(self, event: Quote) -> None:
        for name, value in (
            ("t", event.time_exchange_ns),
            ("bid", event.bid_price_ticks),
            ("ask", event.ask_price_ticks),
            ("bid_size", event.bid_size_lots),
            ("ask_size", event.ask_size_lots),
        ):
            self.quotes[name].append(value)

    def sample_book(self, market: Market) -> None:
        asks, bids = market.book(self.symbol.symbol_id).top(BOOK_LEVELS)
        self.books.append((self._levels(bids), self._levels(asks)))

    def _levels(self, levels: tuple[Level, ...]) -> Floats:
        rows = [(level.price_ticks * self.price_unit, level.size_lots * self.size_unit) for level in levels]
        return np.array(rows, dtype=np.float64).reshape(-1, 2)

    def tape(self) -> SymbolTape:
        price, size = self.price_unit, self.size_unit
        trades = {name: np.frombuffer(values, dtype=np.int64) for name, values in self.trades.items()}
        quotes = {name: np.frombuffer(values, dtype=np.int64) for name, values in self.quotes.items()}
        return SymbolTape(
            symbol_id=self.symbol.symbol_id,
            tick=price,
            lot=size,
            trade_t=trades["t"],
            trade_price=trades["price"] * price,
            trade_size=trades["size"] * size,
            trade_sign=trades["sign"].astype(np.float64),
            quote_t=quotes["t"],
            bid=quotes["bid"] * price,
            ask=quotes["ask"] * price,
            bid_size=quotes["bid_size"] * size,
            ask_size=quotes["ask_size"] * size,
            books=self.books,
        )


def factor_path(
    catalog: Catalog, seed: int, step_s: int, steps: int, grid_ns: int = FACTOR_STEP_NS
) -> tuple[Floats, Floats]:
    """``DAILY_ASSET``'s log USD price, and the market's activity, at ``START_NS`` and after each of ``steps`` steps
    of ``step_s``, with the factors on a grid of ``grid_ns``. On the market's grid (``STEP_NS``) this is the market's
    own path, since an asset's factor depends only on the seed, the shared market shock and its own generator, not
    on which other assets exist."""
    assets = tuple(asset for asset in catalog.assets if asset.asset_id in (DAILY_ASSET, "USD"))
    factors = PriceFactors(assets, seed, START_NS, step_ns=grid_ns)
    index = factors.index(DAILY_ASSET)
    path, activity = [factors.log_usd[index]], [factors.activity]
    for step in range(1, steps + 1):
        factors.step_to(START_NS + step * step_s * NS_PER_S)
        path.append(factors.log_usd[index])
        activity.append(factors.activity)
    return np.array(path, dtype=np.float64), np.array(activity, dtype=np.float64)


def record(
    seed: int, hours: float, *, days: int = DAYS, catalog: Catalog | None = None, symbols: tuple[str, ...] = SYMBOLS
) -> Tape:
    """Run a market with ``seed`` for ``hours`` of virtual time from ``START_NS`` and record ``symbols``, and its
    ``DAILY_ASSET`` factor for ``days``."""
    catalog = catalog or build_catalog(CATALOG, seed=seed)
    by_id = {symbol.symbol_id: symbol for symbol in catalog.symbols}
    recorders = {symbol_id: _Recorder(by_id[symbol_id]) for symbol_id in symbols}
    market = Market(catalog, seed=seed, start_ns=START_NS, bars="wanted")
    end_ns = START_NS + int(hours * 3600 * NS_PER_S)
    t = START_NS
    while t < end_ns:
        t = min(t + BOOK_EVERY_S * NS_PER_S, end_ns)
        for event in market.advance(t):
            if isinstance(event, Trade):
                if (recorder := recorders.get(event.symbol_id)) is not None:
                    recorder.trade(event)
            elif isinstance(event, Quote) and (recorder := recorders.get(event.symbol_id)) is not None:
                recorder.quote(event)
        for recorder in recorders.values():
            recorder.sample_book(market)
    tapes = {symbol_id: recorder.tape() for symbol_id, recorder in recorders.items()}
    path, activity = factor_path(catalog, seed, 60, days * MINUTES_PER_DAY)
    return Tape(seed, START_NS, hours, tapes, np.diff(path), activity[1:])
