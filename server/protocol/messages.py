"""Parse and validate one client message (hello / subscribe / unsubscribe) into a typed ``ClientMessage``.

``parse_client_message`` either returns a ``ClientMessage`` or raises a ``ProtocolError`` whose text names
the field and what was expected; ``Any`` stops at ``orjson.loads``. Rules (PROTOCOL.md §2.1, §9):

* ``type`` is ``hello``, ``subscribe`` or ``unsubscribe`` (case-sensitive). A message whose ``type`` is absent,
  null or ``""`` but that has an ``apikey`` or ``subscribe_data_type`` key is a ``hello``: the Java SDK may
  omit ``type`` and the Go SDK sends ``""`` when the caller did not set it.
* ``subscribe_data_type`` is a non-empty array of data type names for hello and subscribe. For unsubscribe
  it may be absent, null or ``[]``, meaning "no types": the unsubscribe then changes nothing (a decision:
  reading it as "every type" would make a stray empty unsubscribe wipe the scope).
* Filter arrays: absent, null and ``[]`` mean no filter (C# sends null, Go null slices). Entries are
  non-empty strings; duplicates are fine. Asset entries are ``BTC`` or ``BTC/USD``. Period ids are not
  checked against a list: an unknown period matches nothing (strict routing can flag it).
* ``subscribe_update_limit_ms_*``: a non-negative integer, or null; 0 and null mean no throttling (Go
  always sends 0). JSON booleans and floats are not integers here.
* ``apikey``: a string or null; ``""`` counts as absent. ``heartbeat``: a boolean or null.
* Unknown extra fields are ignored. Validation order is fixed (type, data types, filters, limits, apikey,
  heartbeat), so a message with several faults always reports the same one.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, TypedDict

import orjson

from coinapi_emulator.server.protocol.datatypes import UNSUPPORTED_DATA_TYPES, DataType
from coinapi_emulator.server.protocol.errors import (
    InvalidField,
    MalformedMessage,
    MissingField,
    TooManyFilterValues,
    UnknownDataType,
    UnknownMessageType,
    UnsupportedDataType,
)
from coinapi_emulator.server.protocol.filters import Filters


class Verb(enum.Enum):
    """The ``type`` of a client message."""

    HELLO = "hello"
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"


@dataclass(frozen=True, slots=True)
class UpdateLimits:
    """Per-symbol throttles from ``subscribe_update_limit_ms_*``; 0 means no throttling."""

    #: min ms between two ``quote`` messages of one symbol
    quote_ms: int = 0
    #: min ms between two ``book5/20/50`` messages of one symbol
    book_snapshot_ms: int = 0
    #: min ms between two ``exrate`` messages of one pair
    exrate_ms: int = 0

    def throttles_ms(self) -> dict[DataType, int]:
        """Min ms between two messages of one route, per data type: each limit covers the types it names."""
        return {
            DataType.QUOTE: self.quote_ms,
            DataType.BOOK5: self.book_snapshot_ms,
            DataType.BOOK20: self.book_snapshot_ms,
            DataType.BOOK50: self.book_snapshot_ms,
            DataType.EXRATE: self.exrate_ms,
        }


NO_LIMITS: Final = UpdateLimits()


@dataclass(frozen=True, slots=True)
class ClientMessage:
    """One validated client message."""

    verb: Verb
    #: the hello's key; None when absent, null or empty (the upgrade request's key then applies)
    apikey: str | None
    #: None when the field is absent or null
    heartbeat: bool | None
    #: the listed types in first-seen order, without duplicates
    data_types: tuple[DataType, ...]
    filters: Filters
    limits: UpdateLimits


class ClientMessageJson(TypedDict, total=False):
    """The wire shape of a client message (PROTOCOL.md §2.1), for code that builds messages, such as tests."""

    type: str
    apikey: str | None
    heartbeat: bool | None
    subscribe_data_type: list[str] | None
    subscribe_filter_symbol_id: list[str] | None
    subscribe_filter_exchange_id: list[str] | None
    subscribe_filter_asset_id: list[str] | None
    subscribe_filter_period_id: list[str] | None
    subscribe_update_limit_ms_quote: int | None
    subscribe_update_limit_ms_book_snapshot: int | None
    subscribe_update_limit_ms_exrate: int | None


_Json = Mapping[str, object]

_VERBS: Final = {verb.value: verb for verb in Verb}
_DATA_TYPES: Final = {data_type.value: data_type for data_type in DataType}

_DATA_TYPE_FIELD: Final = "subscribe_data_type"
_NON_EMPTY_STRINGS: Final = "a non-empty array of strings"
_STRINGS_OR_NULL: Final = "an array of strings or null"
_NON_EMPTY_STRINGS_OR_NULL: Final = "an array of non-empty strings or null"
_ASSET_ENTRIES: Final = "an array of asset ids ('BTC') or pairs ('BTC/USD'), or null"
_LIMIT: Final = "a non-negative integer or null"


def parse_client_message(raw: str | bytes, *, max_filter_values: int | None = None) -> ClientMessage:
    """Parse one text message. Raises a ``ProtocolError`` subclass naming the first fault found; more filter
    entries in all than ``max_filter_values`` (when given) is ``TooManyFilterValues``."""
    obj = _load_object(raw)
    verb = _verb(obj)
    data_types = _data_types(obj, verb)
    filters = _filters(obj)
    if max_filter_values is not None:
        count = len(filters.symbol_ids) + len(filters.exchange_ids) + len(filters.asset_ids) + len(filters.period_ids)
        if count > max_filter_values:
            raise TooManyFilterValues(count, max_filter_values)
    return ClientMessage(
        verb=verb,
        data_types=data_types,
        filters=filters,
        limits=_limits(obj),
        apikey=_apikey(obj),
        heartbeat=_heartbeat(obj),
    )


def _load_object(raw: str | bytes) -> _Json:
    try:
        value: object = orjson.loads(raw)
    except orjson.JSONDecodeError:
        # Also covers bytes that are not UTF-8 and str with lone surrogates.
        raise MalformedMessage("invalid JSON") from None
    if not isinstance(value, dict):
        raise MalformedMessage("expected a JSON object")
    return value


def _verb(obj: _Json) -> Verb:
    value = obj.get("type")
    if value is None or value == "":
        # PROTOCOL.md §9: Java may omit "type", Go sends "" when unset; both are hellos.
        if "apikey" in obj or _DATA_TYPE_FIELD in obj:
            return Verb.HELLO
        raise MissingField("type")
    if not isinstance(value, str):
        raise InvalidField("type", "a string")
    verb = _VERBS.get(value)
    if verb is None:
        raise UnknownMessageType(value)
    return verb


def _data_types(obj: _Json, verb: Verb) -> tuple[DataType, ...]:
    value = obj.get(_DATA_TYPE_FIELD)
    if verb is Verb.UNSUBSCRIBE:
        names = _string_array(value, _DATA_TYPE_FIELD, _STRINGS_OR_NULL)
    elif value is None:
        raise MissingField(_DATA_TYPE_FIELD)
    else:
        names = _string_array(value, _DATA_TYPE_FIELD, _NON_EMPTY_STRINGS)
        if not names:
            raise InvalidField(_DATA_TYPE_FIELD, _NON_EMPTY_STRINGS)
    return tuple(dict.fromkeys(_data_type(name) for name in names))


def _data_type(name: str) -> DataType:
    data_type = _DATA_TYPES.get(name)
    if data_type is not None:
        return data_type
    if name in UNSUPPORTED_DATA_TYPES:
        raise UnsupportedDataType(name)
    raise UnknownDataType(name)


def _string_array(value: object, field: str, expected: str) -> list[str]:
    """``value`` as a list of strings; None gives ``[]``. Anything else raises ``InvalidField(field, expected)``."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(entry, str) for entry in value):
        raise InvalidField(field, expected)
    return value


def _filters(obj: _Json) -> Filters:
    return Filters(
        symbol_ids=_filter_values(obj, "subscribe_filter_symbol_id"),
        exchange_ids=_filter_values(obj, "subscribe_filter_exchange_id"),
        asset_ids=_filter_values(obj, "subscribe_filter_asset_id", _is_asset_entry, _ASSET_ENTRIES),
        period_ids=_filter_values(obj, "subscribe_filter_period_id"),
    )


def _filter_values(
    obj: _Json,
    field: str,
    is_valid: Callable[[str], bool] = bool,
    expected: str = _NON_EMPTY_STRINGS_OR_NULL,
) -> frozenset[str]:
    """The entries of one filter array; an entry failing ``is_valid`` raises ``InvalidField(field, expected)``."""
    entries = _string_array(obj.get(field), field, _STRINGS_OR_NULL)
    if not all(is_valid(entry) for entry in entries):
        raise InvalidField(field, expected)
    return frozenset(entries)


def _is_asset_entry(entry: str) -> bool:
    """``BTC`` or ``BTC/USD``: one or two non-empty parts."""
    parts = entry.split("/")
    return len(parts) <= 2 and all(parts)


def _limits(obj: _Json) -> UpdateLimits:
    return UpdateLimits(
        quote_ms=_limit(obj, "subscribe_update_limit_ms_quote"),
        book_snapshot_ms=_limit(obj, "subscribe_update_limit_ms_book_snapshot"),
        exrate_ms=_limit(obj, "subscribe_update_limit_ms_exrate"),
    )


def _limit(obj: _Json, field: str) -> int:
    value = obj.get(field)
    if value is None:
        return 0
    # bool is a subclass of int in Python, but JSON true is not a number.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidField(field, _LIMIT)
    return value


def _apikey(obj: _Json) -> str | None:
    value = obj.get("apikey")
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        # Never echo the value: it may be a key.
        raise InvalidField("apikey", "a string or null")
    return value


def _heartbeat(obj: _Json) -> bool | None:
    value = obj.get("heartbeat")
    if value is None or isinstance(value, bool):
        return value
    raise InvalidField("heartbeat", "a boolean or null")
