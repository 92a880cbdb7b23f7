"""The closed set of ``subscribe_data_type`` values the emulator streams, and their properties (PROTOCOL.md §2.3).

This module owns the names only; parsing lives in ``messages.py`` and filter rules in ``scope.py``.
"""

from __future__ import annotations

import enum
from typing import Final


class FilterRequirement(enum.Enum):
    """Which filter a data type needs before the server will stream it (PROTOCOL.md §2.3)."""

    #: streams with no filter at all
    NONE = "none"
    #: needs at least one symbol, exchange or asset filter entry (the book types)
    INSTRUMENT = "instrument"
    #: needs ``subscribe_filter_asset_id`` (``exrate``: the filter names the rate pairs)
    ASSET = "asset"


class DataType(enum.Enum):
    """A data type as named on the wire in ``subscribe_data_type`` and in the ``type`` of data messages."""

    TRADE = "trade"
    QUOTE = "quote"
    BOOK = "book"
    BOOK5 = "book5"
    BOOK20 = "book20"
    BOOK50 = "book50"
    BOOK_L3 = "book_l3"
    OHLCV = "ohlcv"
    EXRATE = "exrate"
    ASSET = "asset"
    EXCHANGE = "exchange"
    SYMBOL = "symbol"

    # Enum hashes members by name in Python code; members are singletons, so identity hashing is equivalent
    # and several times faster where data types key dicts on the hot path (sequence counters, route keys).
    __hash__ = object.__hash__

    @property
    def filter_requirement(self) -> FilterRequirement:
        """The filter this type needs; see ``FilterRequirement``."""
        return _FILTER_REQUIREMENTS.get(self, FilterRequirement.NONE)

    @property
    def needs_filter(self) -> bool:
        """True for the book types, ``book_l3`` included (any instrument filter), and ``exrate`` (an asset filter)."""
        return self.filter_requirement is not FilterRequirement.NONE

    @property
    def conflatable(self) -> bool:
        """True if a newer message may replace an older unsent one of the same symbol (quote, book5/20/50).

        ARCHITECTURE.md: these messages each carry a full state, so only the newest matters to a slow client.
        """
        return self in _CONFLATABLE

    @property
    def is_incremental_book(self) -> bool:
        """True for ``book`` and ``book_l3``: a snapshot of the book first, then changes to apply to it."""
        return self in _INCREMENTAL_BOOKS

    @property
    def is_symbol_stream(self) -> bool:
        """True for the per-symbol market streams: trade, quote, the book types (``book_l3`` too) and ohlcv."""
        return self in _SYMBOL_STREAMS

    @property
    def is_metadata(self) -> bool:
        """True for the metadata streams: asset, exchange and symbol."""
        return self in _METADATA


_BOOKS: Final = frozenset({DataType.BOOK, DataType.BOOK5, DataType.BOOK20, DataType.BOOK50, DataType.BOOK_L3})
_FILTER_REQUIREMENTS: Final = {
    **dict.fromkeys(_BOOKS, FilterRequirement.INSTRUMENT),
    DataType.EXRATE: FilterRequirement.ASSET,
}
_INCREMENTAL_BOOKS: Final = frozenset({DataType.BOOK, DataType.BOOK_L3})
_CONFLATABLE: Final = frozenset({DataType.QUOTE, DataType.BOOK5, DataType.BOOK20, DataType.BOOK50})
_SYMBOL_STREAMS: Final = frozenset({DataType.TRADE, DataType.QUOTE, DataType.OHLCV, *_BOOKS})
_METADATA: Final = frozenset({DataType.ASSET, DataType.EXCHANGE, DataType.SYMBOL})

#: Names older SDKs know but the emulator does not stream: the legacy ``volume`` / ``ticker`` (PROTOCOL.md §3.12).
#: They get ``UnsupportedDataType``, not ``UnknownDataType``.
UNSUPPORTED_DATA_TYPES: Final = frozenset({"volume", "ticker"})
