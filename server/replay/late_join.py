"""What a subscriber that joins a replay midway gets first, kept up to date from the messages replayed so far.

The live feed answers a new ``book`` route with a snapshot of the simulated book, and a new metadata route
with the catalogue's object. During a replay the simulated market is not the stream, so both come from the
recording instead:

* ``book``: the book of each recorded symbol is rebuilt from its latest recorded snapshot and the deltas after
  it (a level of size 0 deletes, PROTOCOL.md §3.3; UNVERIFIED for the real feed, as noted there). A late
  subscriber gets one snapshot made from that state: ``is_snapshot: true``, the recorded number tokens of
  every level (``0.10`` stays ``0.10``), and the ``sequence`` and times of the last book message applied, so
  the recorded deltas that follow go on at ``sequence + 1``, as after the emulator's own snapshots. Fields
  other than the standard ones (§3.3) are not carried over. Until a symbol's first recorded snapshot has
  been replayed there is no state and nothing is sent: the subscriber gets that snapshot when it comes.
* ``book_l3``: the same, order by order (PROTOCOL.md §3.5): ``ADD`` places an order, ``UPDATE`` sets its size,
  ``SUBTRACT`` and ``MATCH`` take their size off it (it leaves at 0), ``DELETE`` removes it. The snapshot lists
  every order, best price first and in arrival order within a price, with its recorded price token (a size
  after a subtraction is the exact difference). An entry without an ``id`` (the real feed's L2 fallback) stands
  for its price level. An update that names an order the book does not hold is read as unreadable (below).
* ``asset`` / ``exchange`` / ``symbol``: the latest recorded message of each entity, verbatim.
* Nothing for the other types, as in live mode (every ``book5/20/50`` message is complete on its own).

Rebuilding a book parses each recorded ``book`` and ``book_l3`` message once more (the standard library parser,
because it can keep number tokens as text): about 15 µs per ``book`` message, paid only for the two book types.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

import orjson

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.routes import RouteKey
from coinapi_emulator.server.transport.frames import text_frame

logger = logging.getLogger(__name__)


class _Number(str):
    """A JSON number token exactly as recorded."""

    __slots__ = ()


class _Unreadable(ValueError):
    """A recorded book message that cannot be applied to the state kept so far."""


@dataclass(slots=True)
class _RecordedBook(ABC):
    """One symbol's recorded book of one type, and the header fields of the last message applied."""

    #: the wire ``type`` this state rebuilds
    type_name: ClassVar[str]
    symbol_id: str
    #: raw tokens / strings of the last message applied (None when the message lacked the field)
    sequence: str | None = None
    time_exchange: str | None = None
    time_coinapi: str | None = None

    def apply(self, message: dict[str, Any]) -> None:
        """Apply a message's sides (a side it lacks is unchanged), then remember its header; ``_Unreadable`` if
        malformed."""
        for name in ("asks", "bids"):
            entries = message.get(name)
            if entries is None:
                continue
            if not isinstance(entries, list) or not all(isinstance(entry, dict) for entry in entries):
                raise _Unreadable(f"{name} is not a list of objects")
            self.apply_side(name, entries)
        sequence = message.get("sequence")
        self.sequence = sequence if isinstance(sequence, _Number) else None
        self.time_exchange = _optional_string(message.get("time_exchange"))
        self.time_coinapi = _optional_string(message.get("time_coinapi"))

    @abstractmethod
    def apply_side(self, name: str, entries: list[dict[str, Any]]) -> None:
        """Apply one side's entries (``name``: ``asks`` or ``bids``)."""

    @abstractmethod
    def entries(self, name: str) -> str:
        """One side of the snapshot, as JSON objects joined by commas."""

    def snapshot(self) -> bytes:
        """A snapshot payload of the current state (PROTOCOL.md §3.3 field order, as the emulator writes)."""
        parts = [f'{{"type":"{self.type_name}","symbol_id":{_string(self.symbol_id)}']
        if self.sequence is not None:
            parts.append(f',"sequence":{self.sequence}')
        if self.time_exchange is not None:
            parts.append(f',"time_exchange":{_string(self.time_exchange)}')
        if self.time_coinapi is not None:
            parts.append(f',"time_coinapi":{_string(self.time_coinapi)}')
        parts.append(f',"is_snapshot":true,"asks":[{self.entries("asks")}],"bids":[{self.entries("bids")}]}}')
        return "".join(parts).encode()


@dataclass(slots=True)
class _Book(_RecordedBook):
    """A recorded L2 book: price -> (price token, size token) per side."""

    type_name: ClassVar[str] = "book"
    sides: dict[str, dict[Decimal, tuple[str, str]]] = field(default_factory=lambda: {"asks": {}, "bids": {}})

    def apply_side(self, name: str, entries: list[dict[str, Any]]) -> None:
        """Set each level's size; size 0 removes the level."""
        side = self.sides[name]
        for entry in entries:
            price, size = _number(entry, "price"), _number(entry, "size")
            if Decimal(size) == 0:
                side.pop(Decimal(price), None)
            else:
                side[Decimal(price)] = (price, size)

    def entries(self, name: str) -> str:
        """The side's levels, best first."""
        side = self.sides[name]
        prices = sorted(side, reverse=name == "bids")
        return ",".join(f'{{"price":{side[p][0]},"size":{side[p][1]}}}' for p in prices)


#: an order's key: its id, or ``(None, price)`` for an entry without one (a price level)
_OrderKey = str | tuple[None, Decimal]


@dataclass(slots=True)
class _OrderBook(_RecordedBook):
    """A recorded L3 book: order key -> (price, price token, size token) per side, in arrival order."""

    type_name: ClassVar[str] = "book_l3"
    sides: dict[str, dict[_OrderKey, tuple[Decimal, str, str]]] = field(
        default_factory=lambda: {"asks": {}, "bids": {}}
    )

    def apply_side(self, name: str, entries: list[dict[str, Any]]) -> None:
        """Apply each entry by its ``update_type`` (a snapshot's entries have none: they add)."""
        side = self.sides[name]
        for entry in entries:
            price, size = _number(entry, "price"), _number(entry, "size")
            order_id = entry.get("id")
            key: _OrderKey = order_id if isinstance(order_id, str) else (None, Decimal(price))
            kind = entry.get("update_type")
            if kind in (None, "ADD") or (kind == "UPDATE" and key in side):
                side[key] = (Decimal(price), price, size)
                continue
            if key not in side:
                raise _Unreadable(f"{kind} of an order the book does not hold")
            if kind == "DELETE":
                del side[key]
            elif kind in ("SUBTRACT", "MATCH"):
                left = Decimal(side[key][2]) - Decimal(size)
                if left > 0:
                    side[key] = (side[key][0], side[key][1], format(left, "f"))
                else:
                    del side[key]
            else:
                raise _Unreadable(f"unknown update_type {kind!r}")

    def entries(self, name: str) -> str:
        """The side's orders, best price first; ``sorted`` is stable, so a price keeps its arrival order."""
        ordered = sorted(self.sides[name].items(), key=lambda item: item[1][0], reverse=name == "bids")
        return ",".join(
            f'{{"price":{token},"size":{size}}}'
            if isinstance(key, tuple)
            else f'{{"id":{_string(key)},"price":{token},"size":{size}}}'
            for key, (_, token, size) in ordered
        )


_BOOK_TYPES: dict[DataType, type[_RecordedBook]] = {DataType.BOOK: _Book, DataType.BOOK_L3: _OrderBook}


def _string(text: str) -> str:
    return orjson.dumps(text).decode()


def _number(entry: dict[str, Any], name: str) -> str:
    value = entry.get(name)
    if not isinstance(value, _Number):
        raise _Unreadable(f"{name} is not a number")
    return str(value)


def _optional_string(value: object) -> str | None:
    return value if isinstance(value, str) and not isinstance(value, _Number) else None


class LateJoinState:
    """Books and latest metadata messages of a replay so far; ``apply`` each replayed message, in order."""

    def __init__(self) -> None:
        self._books: dict[RouteKey, _RecordedBook] = {}
        self._metadata: dict[RouteKey, bytes] = {}

    def apply(self, key: RouteKey, payload: bytes) -> None:
        """Take one replayed message of route ``key`` into account (only ``book``, ``book_l3`` and metadata
        messages change anything)."""
        data_type = key[0]
        if data_type.is_incremental_book:
            self._apply_book(key, payload)
        elif data_type.is_metadata:
            self._metadata[key] = payload

    def initial_frames(self, keys: Iterable[RouteKey]) -> list[bytes]:
        """Framed messages for a subscriber adding ``keys``; sorted, so the bytes never depend on set order."""
        frames = []
        for key in sorted(keys, key=lambda key: (key[0].value, key[1])):
            if key[0].is_incremental_book:
                book = self._books.get(key)
                if book is not None:
                    frames.append(text_frame(book.snapshot()))
            elif key[0].is_metadata:
                payload = self._metadata.get(key)
                if payload is not None:
                    frames.append(text_frame(payload))
        return frames

    def _apply_book(self, key: RouteKey, payload: bytes) -> None:
        data_type, symbol_id = key
        try:
            message = json.loads(payload, parse_float=_Number, parse_int=_Number)
            book = self._books.get(key)
            if message.get("is_snapshot") is True:
                book = self._books[key] = _BOOK_TYPES[data_type](symbol_id)
            elif book is None:
                return  # a delta before any snapshot: nothing to apply it to
            book.apply(message)
        except ValueError:  # _Unreadable, or text that is not JSON
            # A message this module cannot read leaves the book unknown: better no snapshot than a wrong one.
            logger.warning(
                "replay: unreadable %s message for %s; no snapshot for it until the next one", data_type.value, key[1]
            )
            self._books.pop(key, None)
