"""Fast constructors for the frozen event values on the simulator's hot path.

A frozen slotted dataclass sets every field through ``object.__setattr__`` in its generated ``__init__``, which
costs about 0.3 us per field; the simulator builds hundreds of thousands of events and levels per second.
Each helper here builds the object as an instance of a plain "twin" class with the very same ``__slots__``
(plain attribute stores are cheap), then switches its ``__class__`` to the real event class, which CPython
allows because the two layouts are identical. The result is an ordinary frozen instance: same type, equal,
hashable and immutable as usual. The per-event helpers allocate the twin with ``object.__new__`` and store the
fields themselves, which skips the class call and a Python ``__init__`` frame. Only ``simulator/`` uses these;
everybody else calls the constructors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from coinapi_emulator.simulator.events import Bar, BookDelta, ExchangeRate, Level, Quote, TakerSide, Trade

_new = object.__new__


class _LevelTwin:
    __slots__ = Level.__slots__


class _TradeTwin:
    __slots__ = Trade.__slots__


class _QuoteTwin:
    __slots__ = Quote.__slots__


class _DeltaTwin:
    __slots__ = BookDelta.__slots__


class _RateTwin:
    __slots__ = ExchangeRate.__slots__


class _BarTwin:
    __slots__ = Bar.__slots__

    def __init__(
        self, symbol_id: str, period_id: str, values: Sequence[int], at: int, is_final: bool, t: int, sequence: int
    ) -> None:
        self.symbol_id = symbol_id
        self.period_id = period_id
        (
            self.time_period_start_ns,
            self.time_period_end_ns,
            self.time_open_ns,
            self.time_close_ns,
            self.price_open_ticks,
            self.price_high_ticks,
            self.price_low_ticks,
            self.price_close_ticks,
            self.volume_traded_lots,
            self.trades_count,
        ) = values[at : at + 10]
        self.is_final = is_final
        self.time_ns = t
        self.sequence = sequence


def make_level(price_ticks: int, size_lots: int) -> Level:
    """``Level(price_ticks, size_lots)``."""
    obj: Any = _new(_LevelTwin)
    obj.price_ticks = price_ticks
    obj.size_lots = size_lots
    obj.__class__ = Level
    return obj  # type: ignore[no-any-return]


def make_trade(symbol_id: str, time_ns: int, price_ticks: int, size_lots: int, side: TakerSide, uuid: str) -> Trade:
    """``Trade(...)``, arguments in field order."""
    obj: Any = _new(_TradeTwin)
    obj.symbol_id = symbol_id
    obj.time_exchange_ns = time_ns
    obj.price_ticks = price_ticks
    obj.size_lots = size_lots
    obj.taker_side = side
    obj.uuid = uuid
    obj.__class__ = Trade
    return obj  # type: ignore[no-any-return]


def make_quote(symbol_id: str, time_ns: int, ask_px: int, ask_sz: int, bid_px: int, bid_sz: int) -> Quote:
    """``Quote(...)``, arguments in field order."""
    obj: Any = _new(_QuoteTwin)
    obj.symbol_id = symbol_id
    obj.time_exchange_ns = time_ns
    obj.ask_price_ticks = ask_px
    obj.ask_size_lots = ask_sz
    obj.bid_price_ticks = bid_px
    obj.bid_size_lots = bid_sz
    obj.__class__ = Quote
    return obj  # type: ignore[no-any-return]


def make_delta(symbol_id: str, time_ns: int, asks: tuple[Level, ...], bids: tuple[Level, ...]) -> BookDelta:
    """``BookDelta(...)``, arguments in field order."""
    obj: Any = _new(_DeltaTwin)
    obj.symbol_id = symbol_id
    obj.time_exchange_ns = time_ns
    obj.asks = asks
    obj.bids = bids
    obj.__class__ = BookDelta
    return obj  # type: ignore[no-any-return]


def make_rate(asset_id_base: str, asset_id_quote: str, time_ns: int, rate: float) -> ExchangeRate:
    """``ExchangeRate(...)``, arguments in field order."""
    obj: Any = _new(_RateTwin)
    obj.asset_id_base = asset_id_base
    obj.asset_id_quote = asset_id_quote
    obj.time_ns = time_ns
    obj.rate = rate
    obj.__class__ = ExchangeRate
    return obj  # type: ignore[no-any-return]


def make_bar(
    symbol_id: str, period_id: str, values: Sequence[int], at: int, is_final: bool, time_ns: int, sequence: int
) -> Bar:
    """``Bar(...)`` whose ten fields from ``time_period_start_ns`` to ``trades_count`` are ``values[at : at + 10]``."""
    obj: Any = _BarTwin(symbol_id, period_id, values, at, is_final, time_ns, sequence)
    obj.__class__ = Bar
    return obj  # type: ignore[no-any-return]
