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
* ``asset`` / ``exchange`` / ``symbol``: the latest recorded message of each entity, verbatim.
* Nothing for the other types, as in live mode (every ``book5/20/50`` message is complete on its own).

Rebuilding a book parses each recorded ``book`` message once more (the standard library parser, because it can
keep number tokens as text): about 15 µs per message, paid only for ``book`` messages.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.routes import RouteKey
from coinapi_emulator.server.transport.frames import text_frame

logger = logging.getLogger(__name__)


class _Number(str):
    """A JSON number token exactly as recorded."""

    __slots__ = ()


@dataclass(slots=True)
class _Book:
    """One symbol's recorded book: price -> (price token, size token) per side, plus the last message's header."""

    symbol_id: str
    asks: dict[Decimal, tuple[str, str]] = field(default_factory=dict)
    bids: dict[Decimal, tuple[str, str]] = field(default_factory=dict)
    #: raw tokens / strings of the last message applied (None when the message lacked the field)
    sequence: str | None = None
    time_exchange: str | None = None
    time_coinapi: str | None = None

    def snapshot(self) -> bytes:
        """A ``book`` snapshot payload of the current state (PROTOCOL.md §3.3 field order, as the emulator writes)."""
        parts = [f'{{"type":"book","symbol_id":{_string(self.symbol_id)}']
        if self.sequence is not None:
            parts.append(f',"sequence":{self.sequence}')
        if self.time_exchange is not None:
            parts.append(f',"time_exchange":{_string(self.time_exchange)}')
        if self.time_coinapi is not None:
            parts.append(f',"time_coinapi":{_string(self.time_coinapi)}')
        asks = (self.asks[price] for price in sorted(self.asks))
        bids = (self.bids[price] for price in sorted(self.bids, reverse=True))
        parts.append(f',"is_snapshot":true,"asks":[{_levels(asks)}],"bids":[{_levels(bids)}]}}')
        return "".join(parts).encode()


def _string(text: str) -> str:
    return orjson.dumps(text).decode()


def _levels(levels: Iterable[tuple[str, str]]) -> str:
    return ",".join(f'{{"price":{price},"size":{size}}}' for price, size in levels)


class LateJoinState:
    """Books and latest metadata messages of a replay so far; ``apply`` each replayed message, in order."""

    def __init__(self) -> None:
        self._books: dict[str, _Book] = {}
        self._metadata: dict[RouteKey, bytes] = {}

    def apply(self, key: RouteKey, payload: bytes) -> None:
        """Take one replayed message of route ``key`` into account (only ``book`` and metadata messages change
        anything)."""
        data_type = key[0]
        if data_type is DataType.BOOK:
            self._apply_book(key[1], payload)
        elif data_type.is_metadata:
            self._metadata[key] = payload

    def initial_frames(self, keys: Iterable[RouteKey]) -> list[bytes]:
        """Framed messages for a subscriber adding ``keys``; sorted, so the bytes never depend on set order."""
        frames = []
        for key in sorted(keys, key=lambda key: (key[0].value, key[1])):
            if key[0] is DataType.BOOK:
                book = self._books.get(key[1])
                if book is not None:
                    frames.append(text_frame(book.snapshot()))
            elif key[0].is_metadata:
                payload = self._metadata.get(key)
                if payload is not None:
                    frames.append(text_frame(payload))
        return frames

    def _apply_book(self, symbol_id: str, payload: bytes) -> None:
        try:
            message = json.loads(payload, parse_float=_Number, parse_int=_Number)
            book = self._books.get(symbol_id)
            if message.get("is_snapshot") is True:
                book = self._books[symbol_id] = _Book(symbol_id)
            elif book is None:
                return  # a delta before any snapshot: nothing to apply it to
            _apply_levels(book.asks, message.get("asks"))
            _apply_levels(book.bids, message.get("bids"))
        except (TypeError, ValueError, InvalidOperation):
            # A message this module cannot read leaves the book unknown: better no snapshot than a wrong one.
            logger.warning("replay: unreadable book message for %s; no snapshot for it until the next one", symbol_id)
            self._books.pop(symbol_id, None)
            return
        sequence = message.get("sequence")
        book.sequence = sequence if isinstance(sequence, _Number) else None
        book.time_exchange = _optional_string(message.get("time_exchange"))
        book.time_coinapi = _optional_string(message.get("time_coinapi"))


def _apply_levels(side: dict[Decimal, tuple[str, str]], levels: Any) -> None:
    """Set each level's size; size 0 removes the level. Raises ``TypeError``/``ValueError`` for a malformed side."""
    if levels is None:
        return
    if not isinstance(levels, list):
        raise TypeError("a book side is not a list")
    for level in levels:
        price = level.get("price") if isinstance(level, dict) else None
        size = level.get("size") if isinstance(level, dict) else None
        if not isinstance(price, _Number) or not isinstance(size, _Number):
            raise TypeError("a level is not {price: number, size: number}")
        key = Decimal(price)
        if Decimal(size) == 0:
            side.pop(key, None)
        else:
            side[key] = (str(price), str(size))


def _optional_string(value: object) -> str | None:
    return value if isinstance(value, str) and not isinstance(value, _Number) else None
