# The C twins of simulator/book.py and of simulator.market.SymbolState (simulator/csrc/): the same API
# and behaviour, which tests/simulator/test_speedups.py checks call for call. Typed as the reference classes
# they stand in for.
from array import array
from collections.abc import Callable, Iterator

from coinapi_emulator.simulator.book import MAX_LEVELS as MAX_LEVELS
from coinapi_emulator.simulator.book import MIN_LEVELS as MIN_LEVELS
from coinapi_emulator.simulator.book import Book as Book
from coinapi_emulator.simulator.book import BookMaker as BookMaker
from coinapi_emulator.simulator.events import MarketEvent
from coinapi_emulator.simulator.market import SymbolHandover
from coinapi_emulator.simulator.market import SymbolState as _ReferenceState
from coinapi_emulator.simulator.price import PriceFactors

class SymbolState(_ReferenceState):
    def __init__(self, handover: SymbolHandover) -> None: ...

class Scheduler:
    def __init__(
        self,
        states: list[_ReferenceState],
        second: Callable[[int], list[MarketEvent]],
        factors: PriceFactors,
        first_second_ns: int,
        now_ns: int,
    ) -> None: ...
    @property
    def now_ns(self) -> int: ...
    def advance(self, until_ns: int) -> Iterator[MarketEvent]: ...

OHLCV_LAYOUT: tuple[tuple[int, ...], tuple[int, ...]]

class TradeFolder:
    def __init__(
        self,
        states: list[array[int]],
        recent: dict[int, None] | None,
        second_periods: list[tuple[int, int]],
        block_periods: list[tuple[int, int]],
        lengths: tuple[int, ...],
        count_after: Callable[[int], int],
        symbol_ids: list[str],
        period_ids: tuple[str, ...],
    ) -> None: ...
    def __call__(self, index: int, time_ns: int, price_ticks: int, size_lots: int) -> None: ...
    def emit_all(self, due: list[tuple[int, int, bool]], second_ns: int, out: list[MarketEvent]) -> None: ...
    def emit_wanted(
        self,
        due: list[tuple[int, int, bool]],
        second_ns: int,
        out: list[MarketEvent],
        wanted: list[set[int] | None],
    ) -> None: ...
