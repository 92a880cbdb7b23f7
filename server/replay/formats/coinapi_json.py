"""CoinAPI's own JSON, as people save it: WebSocket messages one a line (``.jsonl``), or a REST answer (a JSON
array of ``/v1/trades/.../history``, ``/v1/quotes/.../history`` or ``/v1/orderbooks/.../history`` objects).

* **Lines of WebSocket messages** are written as they are, sequences and tokens included, like a recording's:
  ``trade``, ``quote``, the books, ``ohlcv``, ``exrate`` and metadata. ``hearbeat``, ``error`` and ``reconnect``
  belong to the session that logged them and are skipped. The pacing is ``time_coinapi`` (``time`` for an
  ``exrate``); a message without one (metadata) goes at the time of the message before it.
* **A REST array** is one kind of object: trades (they have ``taker_side``), quotes (``ask_price``) or order books
  (``asks``), each made the WebSocket message of its type (an order book a ``book`` snapshot), numbered from 1 per
  symbol, paced by ``time_coinapi``, with the number tokens as written. Fields the WebSocket message lacks
  (``id_trade``, ``last_trade``, ...) are left out.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Mapping
from itertools import chain
from typing import Any, Final

import orjson

from coinapi_emulator.server.replay.formats.rows import Imported, ImportFailed, iso_time

#: the WebSocket types a line may have; the session notices are skipped
_STREAMED: Final = frozenset(
    {"trade", "quote", "book", "book5", "book20", "book50", "book_l3", "ohlcv", "exrate", "asset", "exchange", "symbol"}
)
_NOTICES: Final = frozenset({"hearbeat", "error", "reconnect"})
#: REST object kind -> (its WebSocket type, the fields it keeps after ``symbol_id``, in the WebSocket's order)
_REST_KINDS: Final = {
    "taker_side": ("trade", ("time_exchange", "time_coinapi", "uuid", "price", "size", "taker_side")),
    "ask_price": ("quote", ("time_exchange", "time_coinapi", "ask_price", "ask_size", "bid_price", "bid_size")),
    "asks": ("book", ("time_exchange", "time_coinapi", "asks", "bids")),
}


def matches(first_line: str) -> bool:
    """Whether a file's first line starts CoinAPI JSON (an object a line, or an array)."""
    return first_line.lstrip().startswith(("{", "["))


def read(first_line: str, lines: Iterator[str], name: str, skipped: Counter[str]) -> Iterator[Imported]:
    """The messages of a file whose first line is ``first_line`` and the rest ``lines``."""
    if first_line.lstrip().startswith("["):
        return _rest_array(first_line + "".join(lines), name)
    return _message_lines(chain([first_line], lines), name, skipped)


def _message_lines(lines: Iterator[str], name: str, skipped: Counter[str]) -> Iterator[Imported]:
    received_ns: int | None = None
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text:
            continue
        where = f"{name} line {number}"
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise ImportFailed(f"{where}: not JSON ({error})") from None
        data_type = message.get("type") if isinstance(message, dict) else None
        if data_type in _NOTICES:
            skipped[f"{data_type} messages"] += 1
            continue
        if data_type not in _STREAMED:
            raise ImportFailed(f"{where}: not a CoinAPI message of a type the emulator streams: {text[:80]!r}")
        stamp = message.get("time_coinapi") or message.get("time")
        if stamp is not None:
            received_ns = iso_time("time_coinapi", stamp, where)
        elif received_ns is None:
            raise ImportFailed(f"{where}: a {data_type} message before any message with a time_coinapi")
        symbol_id = message.get("symbol_id")
        yield Imported(received_ns, data_type, symbol_id if isinstance(symbol_id, str) else "", {}, verbatim=text)


def _rest_array(text: str, name: str) -> Iterator[Imported]:
    try:
        objects = json.loads(text, parse_float=_token, parse_int=_token)
    except json.JSONDecodeError as error:
        raise ImportFailed(f"{name}: not a JSON array ({error})") from None
    if not isinstance(objects, list) or not all(isinstance(item, dict) for item in objects):
        raise ImportFailed(f"{name}: a REST answer is an array of objects")
    for index, item in enumerate(objects):
        where = f"{name} item {index}"
        kind = next((_REST_KINDS[key] for key in _REST_KINDS if key in item), None)
        symbol_id = item.get("symbol_id")
        if kind is None or not isinstance(symbol_id, str):
            raise ImportFailed(f"{where}: not a trade, quote or order book object with a symbol_id")
        data_type, names = kind
        fields = _fields(item, names, where)
        if data_type == "book":  # an order book object is the whole book: a snapshot
            fields = {"time_exchange": fields["time_exchange"], "time_coinapi": fields["time_coinapi"]} | {
                "is_snapshot": True,
                "asks": fields["asks"],
                "bids": fields["bids"],
            }
        yield Imported(iso_time("time_coinapi", fields["time_coinapi"], where), data_type, symbol_id, fields)


def _fields(item: Mapping[str, Any], names: tuple[str, ...], where: str) -> dict[str, Any]:
    missing = [field for field in names if field not in item]
    if missing:
        raise ImportFailed(f"{where}: no {', '.join(missing)}")
    return {field: item[field] for field in names}


def _token(text: str) -> orjson.Fragment:
    return orjson.Fragment(text.encode())
