"""Resolve a session's ``Scope`` against the catalogue into the concrete routes the hub delivers.

A route is ``(DataType, topic)``; the hub keeps ``route -> subscribers`` and does one dict lookup per event
(ARCHITECTURE.md). Filters are resolved here, once per scope change, never per message. Topics:

=================================== =========================================================================
data type                           topic
=================================== =========================================================================
trade, quote, book, book5/20/50    ``symbol_id`` of each selected symbol
                                    (``book_l3`` too)
ohlcv                               ``f"{symbol_id}.{period_id}"``: each selected symbol x each live period
                                    passing the period filter (no period filter = every live period)
exrate                              ``"BASE/QUOTE"`` per asset filter entry: ``BTC`` -> ``BTC/USD``,
                                    ``BTC/EUR`` -> ``BTC/EUR``; only pairs of two different known assets
symbol                              ``symbol_id`` of each selected symbol
exchange                            ``exchange_id``: all with no instrument filter; else the named exchanges
                                    and the exchanges of the symbols the symbol/asset filters select
asset                               ``asset_id``: all with no instrument filter; else the named assets (both
                                    sides of a pair) and the base/quote of the symbols the symbol/exchange
                                    filters select
=================================== =========================================================================

For the two metadata rows, "named" and "derived from symbols" are joined like filter kinds: a union by
default, an intersection when both are present and ``combine="intersection"``. Whether the real service
filters metadata streams at all is UNVERIFIED (PROTOCOL.md §3.8, §10 item 9).

Filter values naming nothing are accepted silently (a C# SDK test relies on it, PROTOCOL.md §2.4); with
``strict=True`` the first such value (in ``DataType`` order, then sorted) raises ``UnknownFilterValue``.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterable
from itertools import repeat
from typing import Final, assert_never

import orjson

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.errors import UnknownFilterValue
from coinapi_emulator.server.protocol.filters import Combine, Filters
from coinapi_emulator.server.protocol.scope import Scope
from coinapi_emulator.simulator.catalog import Catalog, Symbol

#: ``(data_type, topic)``; the topic is a symbol id, ``symbol_id.period_id``, ``BASE/QUOTE`` or a metadata id
RouteKey = tuple[DataType, str]

#: the quote of an exrate filter entry that names one asset: ``BTC`` means ``BTC/USD`` (PROTOCOL.md §3.7)
EXRATE_REFERENCE_ASSET: Final = "USD"


class CatalogIndex:
    """Lookups over one catalogue for resolving filters. Building costs a few ms for 5,000 symbols, so a
    server builds one and keeps it; a lookup costs microseconds."""

    __slots__ = (
        "_by_asset",
        "_by_exchange",
        "_by_id",
        "_by_pair",
        "_known_assets",
        "_known_exchanges",
        "_sorted_ids",
        "asset_ids",
        "catalog",
        "exchange_ids",
        "position",
        "symbol_ids",
    )

    def __init__(self, catalog: Catalog) -> None:
        #: the indexed catalogue (immutable, so the index never goes stale)
        self.catalog = catalog
        symbols = catalog.symbols
        #: every symbol, exchange and asset id, in catalogue order
        self.symbol_ids: tuple[str, ...] = tuple(symbol.symbol_id for symbol in symbols)
        self.exchange_ids: tuple[str, ...] = tuple(exchange.exchange_id for exchange in catalog.exchanges)
        self.asset_ids: tuple[str, ...] = tuple(asset.asset_id for asset in catalog.assets)
        self._sorted_ids = sorted(self.symbol_ids)
        #: each symbol id's place in the catalogue, to list what the lookups found in catalogue order
        self.position = {symbol_id: n for n, symbol_id in enumerate(self.symbol_ids)}
        self._by_id = {symbol.symbol_id: symbol for symbol in symbols}
        self._by_exchange: dict[str, list[str]] = {}
        self._by_asset: dict[str, list[str]] = {}
        self._by_pair: dict[str, list[str]] = {}
        for symbol in symbols:
            self._add(symbol)
        # Ids a symbol uses count as known even if a hand-built catalogue forgot to list them.
        self._known_exchanges = frozenset(self.exchange_ids) | self._by_exchange.keys()
        self._known_assets = frozenset(self.asset_ids) | self._by_asset.keys()

    def _add(self, symbol: Symbol) -> None:
        sid, base, quote = symbol.symbol_id, symbol.asset_id_base, symbol.asset_id_quote
        self._by_exchange.setdefault(symbol.exchange_id, []).append(sid)
        self._by_asset.setdefault(base, []).append(sid)
        if quote != base:
            self._by_asset.setdefault(quote, []).append(sid)
        self._by_pair.setdefault(f"{base}/{quote}", []).append(sid)

    def symbol(self, symbol_id: str) -> Symbol:
        """The symbol with that id (KeyError if none)."""
        return self._by_id[symbol_id]

    def has_exchange(self, exchange_id: str) -> bool:
        """Whether the catalogue knows the exchange."""
        return exchange_id in self._known_exchanges

    def has_asset(self, asset_id: str) -> bool:
        """Whether the catalogue knows the asset."""
        return asset_id in self._known_assets

    def symbols_for_symbol_entry(self, entry: str) -> list[str]:
        """Ids matching one ``subscribe_filter_symbol_id`` entry (prefix, or exact with a trailing ``$``)."""
        if entry.endswith("$"):
            exact = entry[:-1]
            return [exact] if exact in self._by_id else []
        return self.symbols_with_prefix(entry)

    def symbols_with_prefix(self, prefix: str) -> list[str]:
        """Ids that start with ``prefix``, in id order: a binary search, then the matches."""
        ids = self._sorted_ids
        start = end = bisect_left(ids, prefix)
        while end < len(ids) and ids[end].startswith(prefix):
            end += 1
        return ids[start:end]

    def symbols_for_exchange(self, exchange_id: str) -> list[str]:
        """Ids of the symbols listed on that exchange."""
        return self._by_exchange.get(exchange_id, [])

    def symbols_for_asset(self, asset_id: str) -> list[str]:
        """Ids of the symbols with ``asset_id`` as base or quote."""
        return self._by_asset.get(asset_id, [])

    def symbols_for_asset_entry(self, entry: str) -> list[str]:
        """Ids matching one ``subscribe_filter_asset_id`` entry (``BTC`` base or quote, ``BTC/USD`` both)."""
        table = self._by_pair if "/" in entry else self._by_asset
        return table.get(entry, [])


def catalog_index(catalog: Catalog | CatalogIndex) -> CatalogIndex:
    """``catalog``'s index; callers that resolve often (a server) build one ``CatalogIndex`` and pass it in."""
    return catalog if isinstance(catalog, CatalogIndex) else CatalogIndex(catalog)


def resolve_routes(
    scope: Scope,
    catalog: Catalog | CatalogIndex,
    *,
    combine: Combine = "union",
    live_periods: tuple[str, ...],
    strict: bool = False,
) -> frozenset[RouteKey]:
    """Every route ``scope`` selects in ``catalog`` (see the module docstring for topics).

    ``live_periods`` are the OHLCV periods the feed emits. With ``strict`` a filter value that matches
    nothing raises ``UnknownFilterValue``. Pass a ``CatalogIndex`` to avoid rebuilding it per call.
    """
    index = catalog_index(catalog)
    if strict:
        check_known_values(scope, index, live_periods)
    selector = _Selector(index, combine)
    routes: set[RouteKey] = set()
    for data_type, filters in scope.items():
        topics = _topics(data_type, filters, selector, live_periods)
        routes.update(zip(repeat(data_type), topics))
    return frozenset(routes)


#: data types whose route topic is the symbol id (ohlcv adds the period: ``ohlcv_topic``)
SYMBOL_TOPIC_TYPES: Final = frozenset(
    {
        DataType.TRADE,
        DataType.QUOTE,
        DataType.BOOK,
        DataType.BOOK5,
        DataType.BOOK20,
        DataType.BOOK50,
        DataType.BOOK_L3,
        DataType.SYMBOL,
    }
)


class RouteResolver:
    """``resolve_routes`` over one catalogue with fixed options, remembering the routes of recent small scopes.

    Bots of one fleet send the same hello: resolving a scope over every symbol costs ~7 ms, and the subscribers of
    one scope then share one frozenset of routes as well (one subscription group in the hub). Only scopes of at most
    ``max_remembered_values`` filter values are remembered, under a 16-byte digest: a 14 MB hello (900k values),
    kept whole as the key of a cache, once held ~88 MB until the process ended.
    """

    def __init__(
        self,
        catalog: Catalog,
        *,
        combine: Combine,
        live_periods: tuple[str, ...],
        strict: bool,
        remembered_scopes: int = 256,
        max_remembered_values: int = 1_000,
    ) -> None:
        self.index = CatalogIndex(catalog)
        self._combine = combine
        self._live_periods = live_periods
        self._strict = strict
        self._size = remembered_scopes
        self._max_values = max_remembered_values
        #: scope digest -> its routes, least recently used first
        self._remembered: OrderedDict[bytes, frozenset[RouteKey]] = OrderedDict()

    @property
    def remembered(self) -> int:
        """How many scopes' routes are remembered now."""
        return len(self._remembered)

    def routes_of(self, scope: Scope) -> frozenset[RouteKey]:
        """Every route ``scope`` selects (``resolve_routes``); raises what it raises."""
        if _filter_values(scope) > self._max_values:
            return self._resolve(scope)
        key = _digest(scope)
        routes = self._remembered.get(key)
        if routes is None:
            routes = self._remembered[key] = self._resolve(scope)
            if len(self._remembered) > self._size:
                self._remembered.popitem(last=False)
        else:
            self._remembered.move_to_end(key)
        return routes

    def _resolve(self, scope: Scope) -> frozenset[RouteKey]:
        return resolve_routes(
            scope, self.index, combine=self._combine, live_periods=self._live_periods, strict=self._strict
        )


def _filter_values(scope: Scope) -> int:
    return sum(len(f.symbol_ids) + len(f.exchange_ids) + len(f.asset_ids) + len(f.period_ids) for _, f in scope.entries)


def _digest(scope: Scope) -> bytes:
    """16 bytes naming a scope: equal scopes, and only they (but for a 2**-128 chance), get equal digests."""
    canonical = [
        (data_type.value, sorted(f.symbol_ids), sorted(f.exchange_ids), sorted(f.asset_ids), sorted(f.period_ids))
        for data_type, f in scope.entries
    ]
    return hashlib.blake2b(orjson.dumps(canonical), digest_size=16).digest()


def ohlcv_topic(symbol_id: str, period_id: str) -> str:
    """The route topic of one symbol's candles of one period."""
    return f"{symbol_id}.{period_id}"


def ohlcv_topic_parts(topic: str) -> tuple[str, str]:
    """``(symbol_id, period_id)`` of an ``ohlcv_topic`` (period ids have no dot; a symbol id might)."""
    symbol_id, _, period_id = topic.rpartition(".")
    return symbol_id, period_id


def exrate_topic(asset_id_base: str, asset_id_quote: str) -> str:
    """The route topic of one exchange rate."""
    return f"{asset_id_base}/{asset_id_quote}"


def exrate_topic_parts(topic: str) -> tuple[str, str]:
    """``(asset_id_base, asset_id_quote)`` of an ``exrate_topic``."""
    base, _, quote = topic.partition("/")
    return base, quote


def _topics(data_type: DataType, filters: Filters, selector: _Selector, live_periods: tuple[str, ...]) -> Iterable[str]:
    match data_type:
        case DataType.OHLCV:
            periods = [period for period in live_periods if not filters.period_ids or period in filters.period_ids]
            return (ohlcv_topic(symbol_id, period) for symbol_id in selector.symbols(filters) for period in periods)
        case DataType.EXRATE:
            return _exrate_pairs(filters.asset_ids, selector.index)
        case DataType.EXCHANGE:
            return _exchange_topics(filters, selector)
        case DataType.ASSET:
            return _asset_topics(filters, selector)
        case (
            DataType.TRADE
            | DataType.QUOTE
            | DataType.BOOK
            | DataType.BOOK5
            | DataType.BOOK20
            | DataType.BOOK50
            | DataType.BOOK_L3
            | DataType.SYMBOL
        ):  # SYMBOL_TOPIC_TYPES
            return selector.symbols(filters)
        case _:
            assert_never(data_type)


def _exrate_pairs(asset_ids: Iterable[str], index: CatalogIndex) -> Iterable[str]:
    for entry in asset_ids:
        base, slash, quote = entry.partition("/")
        if not slash:
            quote = EXRATE_REFERENCE_ASSET
        if base != quote and index.has_asset(base) and index.has_asset(quote):
            yield exrate_topic(base, quote)


def _exchange_topics(filters: Filters, selector: _Selector) -> Collection[str]:
    index = selector.index
    if filters.selects_all_instruments:
        return index.exchange_ids
    named = {exchange_id for exchange_id in filters.exchange_ids if index.has_exchange(exchange_id)}
    others = Filters(symbol_ids=filters.symbol_ids, asset_ids=filters.asset_ids)
    return _metadata_ids(named if filters.exchange_ids else None, others, selector, _exchange_of)


def _asset_topics(filters: Filters, selector: _Selector) -> Collection[str]:
    index = selector.index
    if filters.selects_all_instruments:
        return index.asset_ids
    named = {part for entry in filters.asset_ids for part in entry.split("/") if index.has_asset(part)}
    others = Filters(symbol_ids=filters.symbol_ids, exchange_ids=filters.exchange_ids)
    return _metadata_ids(named if filters.asset_ids else None, others, selector, _assets_of)


def _metadata_ids(
    named: set[str] | None, others: Filters, selector: _Selector, ids_of: Callable[[Symbol], tuple[str, ...]]
) -> set[str]:
    """Named ids joined with the ids (``ids_of``) of the symbols the other filter kinds select."""
    derived = None
    if not others.selects_all_instruments:
        derived = {id_ for symbol_id in selector.symbols(others) for id_ in ids_of(selector.index.symbol(symbol_id))}
    return selector.join(named, derived)


def _exchange_of(symbol: Symbol) -> tuple[str, ...]:
    return (symbol.exchange_id,)


def _assets_of(symbol: Symbol) -> tuple[str, ...]:
    return (symbol.asset_id_base, symbol.asset_id_quote)


class _Selector:
    """Symbol selection for one ``resolve_routes`` call, cached per distinct instrument filters."""

    __slots__ = ("_cache", "combine", "index")

    def __init__(self, index: CatalogIndex, combine: Combine) -> None:
        self.index = index
        self.combine: Combine = combine
        self._cache: dict[tuple[frozenset[str], ...], Collection[str]] = {}

    def symbols(self, filters: Filters) -> Collection[str]:
        """Ids of the symbols passing the instrument filters, as ``scope.symbol_matches`` would decide."""
        key = (filters.symbol_ids, filters.exchange_ids, filters.asset_ids)
        selected = self._cache.get(key)
        if selected is None:
            selected = self._cache[key] = self._select(filters)
        return selected

    def _select(self, filters: Filters) -> Collection[str]:
        if filters.selects_all_instruments:
            return self.index.symbol_ids
        index = self.index
        by_symbol = _matches(filters.symbol_ids, index.symbols_for_symbol_entry)
        by_exchange = _matches(filters.exchange_ids, index.symbols_for_exchange)
        by_asset = _matches(filters.asset_ids, index.symbols_for_asset_entry)
        return self.join(by_symbol, by_exchange, by_asset)

    def join(self, *parts: set[str] | None) -> set[str]:
        """Union or intersection (per ``combine``) of the parts that are present (None = that kind is unused)."""
        present = [part for part in parts if part is not None]
        if self.combine == "union":
            return set().union(*present)
        return set.intersection(*present) if present else set()


def _matches(entries: frozenset[str], lookup: Callable[[str], list[str]]) -> set[str] | None:
    """Ids matching any entry, or None when there are no entries (the kind does not restrict)."""
    if not entries:
        return None
    return {symbol_id for entry in entries for symbol_id in lookup(entry)}


def check_known_values(scope: Scope, catalog: Catalog | CatalogIndex, live_periods: tuple[str, ...]) -> None:
    """Raise ``UnknownFilterValue`` for the first filter value in ``scope`` that matches nothing (strict mode).

    A symbol entry must match some symbol id (as a prefix or exactly), an exchange id and each side of an
    asset entry must be known, and a period must be live.
    """
    index = catalog_index(catalog)
    for filters in scope.values():
        for entry in sorted(filters.symbol_ids):
            if not index.symbols_for_symbol_entry(entry):
                raise UnknownFilterValue("subscribe_filter_symbol_id", entry)
        for exchange_id in sorted(filters.exchange_ids):
            if not index.has_exchange(exchange_id):
                raise UnknownFilterValue("subscribe_filter_exchange_id", exchange_id)
        for entry in sorted(filters.asset_ids):
            if not all(index.has_asset(part) for part in entry.split("/")):
                raise UnknownFilterValue("subscribe_filter_asset_id", entry)
        for period in sorted(filters.period_ids):
            if period not in live_periods:
                raise UnknownFilterValue("subscribe_filter_period_id", period)
