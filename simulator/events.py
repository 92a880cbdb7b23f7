"""Market events: the values ``Market.advance`` yields, in the wire vocabulary of CoinAPI.

Prices and sizes are fixed-point integers (``*_ticks`` = price / tick size, ``*_lots`` = size / lot size of the
symbol, see ``Symbol.price_decimals`` / ``Symbol.size_decimals``), so equality is exact and encoding never shows
float artefacts. All times are integer nanoseconds since the Unix epoch on the virtual clock.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TakerSide(enum.Enum):
    """Aggressor side of a trade, as CoinAPI spells it."""

    BUY = "BUY"
    SELL = "SELL"
    BUY_ESTIMATED = "BUY_ESTIMATED"
    SELL_ESTIMATED = "SELL_ESTIMATED"
    UNKNOWN = "UNKNOWN"


@dataclass(frozen=True, slots=True)
class Level:
    """One aggregated price level of an L2 book. ``size_lots == 0`` in a delta deletes the level."""

    price_ticks: int
    size_lots: int


@dataclass(frozen=True, slots=True)
class Trade:
    """An executed trade."""

    symbol_id: str
    #: virtual ns when the exchange matched
    time_exchange_ns: int
    price_ticks: int
    #: base amount in lots, > 0
    size_lots: int
    taker_side: TakerSide
    #: lower-case UUIDv4 drawn from the symbol's generator
    uuid: str


@dataclass(frozen=True, slots=True)
class Quote:
    """Best bid and ask after a change of the top of the book (always equal to the book's top level)."""

    symbol_id: str
    time_exchange_ns: int
    ask_price_ticks: int
    ask_size_lots: int
    bid_price_ticks: int
    bid_size_lots: int


@dataclass(frozen=True, slots=True)
class BookDelta:
    """Levels of one symbol's L2 book that changed at one instant; ``size_lots == 0`` deletes a level.

    ``asks`` ascending and ``bids`` descending by price. After this event ``Market.book(symbol_id)`` shows the
    book with the delta applied, so the consumer can take a snapshot or a top-N view at this exact point.
    """

    symbol_id: str
    time_exchange_ns: int
    asks: tuple[Level, ...]
    bids: tuple[Level, ...]


@dataclass(frozen=True, slots=True)
class Bar:
    """An OHLCV candle of one symbol and period; emitted when the period closes and every 5 s while open.

    Only candles with at least one trade exist. Several ``Bar`` events share one ``time_period_start_ns``;
    the one with ``is_final`` true is the closed candle.
    """

    symbol_id: str
    period_id: str
    time_period_start_ns: int
    time_period_end_ns: int
    time_open_ns: int
    time_close_ns: int
    price_open_ticks: int
    price_high_ticks: int
    price_low_ticks: int
    price_close_ticks: int
    volume_traded_lots: int
    trades_count: int
    is_final: bool
    #: virtual ns when the bar was emitted (period end for a final bar)
    time_ns: int
    #: 1-based number of this bar among every bar of its symbol (all periods), counting also the bars that a
    #: ``Market(bars="wanted")`` did not build, so it never depends on which bars someone asked for
    sequence: int


@dataclass(frozen=True, slots=True)
class ExchangeRate:
    """Reference rate of an asset in USD (CoinAPI's ``BASE_ALL_CROSSES_TO_REF``), emitted once a virtual second."""

    asset_id_base: str
    asset_id_quote: str
    time_ns: int
    #: units of quote per one base, > 0
    rate: float


MarketEvent = Trade | Quote | BookDelta | Bar | ExchangeRate
