"""Subscription filters: the values of one message's ``subscribe_filter_*`` fields, and the rules that match a
symbol against them (PROTOCOL.md §2.4). ``symbol_matches`` is the reference filter rule; ``routes.py`` resolves
whole scopes against a catalogue with indexes that give the same answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from coinapi_emulator.simulator.catalog import Symbol

#: How different filter kinds (symbol, exchange, asset) combine; PROTOCOL.md §2.4 documents "union".
Combine = Literal["union", "intersection"]

_NO_VALUES: Final[frozenset[str]] = frozenset()


@dataclass(frozen=True, slots=True)
class Filters:
    """The filter values of one message, or of one data type in a scope. An empty set means "no filter"."""

    #: ``subscribe_filter_symbol_id`` entries: prefixes, or exact ids when they end in ``$``
    symbol_ids: frozenset[str] = _NO_VALUES
    #: ``subscribe_filter_exchange_id`` entries, matched exactly
    exchange_ids: frozenset[str] = _NO_VALUES
    #: ``subscribe_filter_asset_id`` entries: ``BTC`` (base or quote) or ``BTC/USD`` (base and quote)
    asset_ids: frozenset[str] = _NO_VALUES
    #: ``subscribe_filter_period_id`` entries (ohlcv only), matched exactly
    period_ids: frozenset[str] = _NO_VALUES

    @property
    def selects_all_instruments(self) -> bool:
        """True when no symbol, exchange or asset entry restricts the instruments."""
        return not (self.symbol_ids or self.exchange_ids or self.asset_ids)

    @property
    def is_empty(self) -> bool:
        """True when no filter value of any kind is present."""
        return self.selects_all_instruments and not self.period_ids


NO_FILTERS: Final = Filters()


def symbol_id_matches(entry: str, symbol_id: str) -> bool:
    """One ``subscribe_filter_symbol_id`` entry: a prefix, or an exact id when it ends in ``$`` (§2.4)."""
    if entry.endswith("$"):
        return symbol_id == entry[:-1]
    return symbol_id.startswith(entry)


def asset_matches(entry: str, asset_id_base: str, asset_id_quote: str) -> bool:
    """One ``subscribe_filter_asset_id`` entry: ``BTC`` is base or quote, ``BTC/USD`` is base and quote (§2.4).

    ``USD/BTC`` does not match a BTC/USD symbol (UNVERIFIED, PROTOCOL.md §2.4).
    """
    base, slash, quote = entry.partition("/")
    if slash:
        return asset_id_base == base and asset_id_quote == quote
    return entry in (asset_id_base, asset_id_quote)


def symbol_matches(filters: Filters, symbol: Symbol, combine: Combine = "union") -> bool:
    """Whether ``symbol`` passes the instrument filters (periods are not looked at).

    ``union`` (PROTOCOL.md §2.4 default): no instrument filter, or any non-empty kind matches.
    ``intersection``: every non-empty kind matches.
    """
    results: list[bool] = []
    if filters.symbol_ids:
        results.append(any(symbol_id_matches(entry, symbol.symbol_id) for entry in filters.symbol_ids))
    if filters.exchange_ids:
        results.append(symbol.exchange_id in filters.exchange_ids)
    if filters.asset_ids:
        base, quote = symbol.asset_id_base, symbol.asset_id_quote
        results.append(any(asset_matches(entry, base, quote) for entry in filters.asset_ids))
    if not results:
        return True
    return any(results) if combine == "union" else all(results)
