"""A session's subscription scope and the pure algebra of hello / subscribe / unsubscribe (PROTOCOL.md §2.2, §2.4).

A ``Scope`` maps each subscribed ``DataType`` to the ``Filters`` that select its instruments (``filters.py``).
The three verbs are pure functions from (scope, message) to a new scope. Nothing here knows the catalogue's size:
``routes.py`` turns a scope into concrete topics.

Model (UNVERIFIED, PROTOCOL.md §2.2: the real merge algebra is only described by example):

* Each type keeps one set per filter kind. An empty instrument side (no symbol, exchange or asset entry)
  means "all instruments"; an empty period set means "all live periods".
* Only the filters that mean something for a type are kept (``relevant_filters``): periods only for
  ``ohlcv``, only assets for ``exrate`` (they name the rate pairs). So ``trade`` with a period filter is
  stored as ``trade`` for all instruments.
* ``subscribe`` unions per kind, and "all" absorbs specific values: all + {X} = all. Because the sets are
  per kind, not per (symbol, period) pair, subscribing ohlcv for symbol A with period 1MIN, then for B with
  5MIN, gives ohlcv for {A, B} with {1MIN, 5MIN}: a superset of what was asked, the price of the per-type
  filter-set model the protocol describes.
* ``unsubscribe`` subtracts per kind and drops the type once a kind it subtracted from becomes empty. It
  cannot subtract from "all": removing ``BTC`` from ``trade`` for all instruments leaves it unchanged,
  since there is no way to write "everything except BTC" in the filter language.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Final

from coinapi_emulator.server.protocol.datatypes import DataType, FilterRequirement
from coinapi_emulator.server.protocol.errors import MissingFilter
from coinapi_emulator.server.protocol.filters import NO_FILTERS, Filters
from coinapi_emulator.server.protocol.messages import ClientMessage


@dataclass(frozen=True, slots=True)
class Scope(Mapping[DataType, Filters]):
    """An immutable mapping ``DataType -> Filters``; equal scopes compare equal. Build it with ``Scope.of``."""

    #: the entries in ``DataType`` declaration order, one per type (a canonical form, so ``==`` is by value)
    entries: tuple[tuple[DataType, Filters], ...] = ()

    @classmethod
    def of(cls, mapping: Mapping[DataType, Filters]) -> Scope:
        """The scope holding ``mapping``'s entries."""
        return cls(tuple((data_type, mapping[data_type]) for data_type in DataType if data_type in mapping))

    def __getitem__(self, data_type: DataType) -> Filters:
        for key, filters in self.entries:
            if key is data_type:
                return filters
        raise KeyError(data_type)

    def __iter__(self) -> Iterator[DataType]:
        return (data_type for data_type, _ in self.entries)

    def __len__(self) -> int:
        return len(self.entries)


EMPTY_SCOPE: Final = Scope()


def relevant_filters(data_type: DataType, filters: Filters) -> Filters:
    """The part of ``filters`` that applies to ``data_type``: periods only for ohlcv, only assets for exrate."""
    if data_type is DataType.OHLCV:
        return filters
    if data_type is DataType.EXRATE:
        return Filters(asset_ids=filters.asset_ids)
    return replace(filters, period_ids=frozenset())


def apply_hello(msg: ClientMessage) -> Scope:
    """The scope after ``hello``: it replaces everything, so the old scope is not an input."""
    return Scope.of({data_type: relevant_filters(data_type, msg.filters) for data_type in msg.data_types})


def apply_subscribe(scope: Scope, msg: ClientMessage) -> Scope:
    """The scope after ``subscribe``: the message's filter values are unioned into each listed type."""
    merged = dict(scope)
    for data_type in msg.data_types:
        added = relevant_filters(data_type, msg.filters)
        current = merged.get(data_type)
        merged[data_type] = added if current is None else _union(current, added)
    return Scope.of(merged)


def apply_unsubscribe(scope: Scope, msg: ClientMessage) -> Scope:
    """The scope after ``unsubscribe``.

    For each listed type in scope: with no (relevant) filter values the type is removed; otherwise the
    values are subtracted and the type is removed once a kind it subtracted from is left empty.
    Values cannot be subtracted from "all" (see the module docstring). Types not in scope are ignored.
    """
    remaining = dict(scope)
    for data_type in msg.data_types:
        current = remaining.get(data_type)
        if current is None:
            continue
        left = _difference(current, relevant_filters(data_type, msg.filters))
        if left is None:
            del remaining[data_type]
        else:
            remaining[data_type] = left
    return Scope.of(remaining)


def _union(a: Filters, b: Filters) -> Filters:
    """Per-kind union where "all" (an empty side) absorbs specific values."""
    if a.selects_all_instruments or b.selects_all_instruments:
        instruments = NO_FILTERS
    else:
        instruments = Filters(a.symbol_ids | b.symbol_ids, a.exchange_ids | b.exchange_ids, a.asset_ids | b.asset_ids)
    periods = a.period_ids | b.period_ids if a.period_ids and b.period_ids else frozenset()
    return replace(instruments, period_ids=periods)


def _difference(current: Filters, removed: Filters) -> Filters | None:
    """``current`` minus ``removed``, or None when the type must leave the scope."""
    if removed.is_empty:
        return None
    left = current
    if not removed.selects_all_instruments and not current.selects_all_instruments:
        left = replace(
            left,
            symbol_ids=current.symbol_ids - removed.symbol_ids,
            exchange_ids=current.exchange_ids - removed.exchange_ids,
            asset_ids=current.asset_ids - removed.asset_ids,
        )
        if left.selects_all_instruments:
            return None
    if removed.period_ids and current.period_ids:
        left = replace(left, period_ids=current.period_ids - removed.period_ids)
        if not left.period_ids:
            return None
    return left


def check_required_filters(scope: Scope, *, allow_unfiltered_books: bool = False) -> None:
    """Raise ``MissingFilter`` for the first type (in ``DataType`` order) that lacks the filter it needs.

    ``allow_unfiltered_books`` lets the book types through without a filter, for old examples that
    subscribe ``book20`` to every symbol (PROTOCOL.md §2.3); ``exrate`` still needs its asset filter.
    """
    for data_type, filters in scope.items():
        requirement = data_type.filter_requirement
        if requirement is FilterRequirement.INSTRUMENT and filters.selects_all_instruments:
            if not allow_unfiltered_books:
                raise MissingFilter(data_type)
        elif requirement is FilterRequirement.ASSET and not filters.asset_ids:
            raise MissingFilter(data_type)
