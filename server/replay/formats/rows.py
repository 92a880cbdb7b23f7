"""What every source reader shares: the messages they yield, number tokens, times, trade ids and symbol ids.

A reader turns rows into ``Imported`` messages: a CoinAPI message without its ``type``, ``symbol_id`` and
``sequence`` (the importer numbers each stream in the order it writes them). Prices and sizes stay the source's
decimal tokens, character for character, when they are JSON numbers already (``0.00010000`` stays so); other
spellings are refused with the file and line (``ImportFailed``), never guessed at.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from coinapi_emulator.server.protocol.encode import format_time
from coinapi_emulator.server.protocol.rest_query import QueryError, parse_time

#: a JSON number as CoinAPI writes prices and sizes (no sign on sizes is checked here: the sources have none)
_NUMBER: Final = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
#: the namespace of the uuids given to trades whose source has an id but no uuid (uuid5: the same id, the same uuid)
_TRADE_NAMESPACE: Final = uuid.UUID("6f1d4c1e-5b53-4f0c-9a7e-2f9d8f0b6c11")
#: the quote assets a glued exchange symbol may end with (BTCUSDT), longest first where one ends another
_QUOTES: Final = (
    "FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USDP", "USDE", "DAI", "USD", "EUR", "GBP", "JPY", "TRY", "BRL", "AUD",
    "BTC", "ETH", "BNB",
)  # fmt: skip
#: exchanges' own names of assets, as CoinAPI calls them
_ASSET_ALIASES: Final = {"XBT": "BTC", "XDG": "DOGE"}


class ImportFailed(ValueError):
    """A file that cannot be imported; the text names the file and, where it helps, the line."""


@dataclass(frozen=True, slots=True)
class Imported:
    """One CoinAPI message read from a source, short of its numbering."""

    #: when the source received it (ns since the epoch): the recording's pacing
    received_ns: int
    #: the message's ``type``: trade, quote, book, book5, book20 or book50
    data_type: str
    #: "" for a message of no symbol (``exrate``, ``asset``, ``exchange``)
    symbol_id: str
    #: the fields after ``sequence``, in CoinAPI's order; numbers as ``orjson.Fragment``
    fields: Mapping[str, Any]
    #: a whole CoinAPI message as its source wrote it, written as it is (``fields`` is then empty)
    verbatim: str | None = None


def number(token: str, where: str) -> orjson.Fragment:
    """A price or size token kept as written; ``ImportFailed`` unless it is a JSON number."""
    if _NUMBER.fullmatch(token) is None:
        raise ImportFailed(f"{where}: {token!r} is not a decimal number")
    return orjson.Fragment(token.encode())


def level(price: str, size: str, where: str) -> dict[str, orjson.Fragment]:
    """One ``{price, size}`` entry of a book message."""
    return {"price": number(price, where), "size": number(size, where)}


def stamps(time_exchange_ns: int, time_coinapi_ns: int) -> dict[str, str]:
    """``time_exchange`` and ``time_coinapi``, as every market message has them."""
    return {"time_exchange": format_time(time_exchange_ns), "time_coinapi": format_time(time_coinapi_ns)}


def iso_time(name: str, value: object, where: str) -> int:
    """A field's ISO 8601 time (UTC without an offset) as ns since the epoch; ``ImportFailed`` if it is not one."""
    if not isinstance(value, str):
        raise ImportFailed(f"{where}: {name} {value!r} is not an ISO 8601 time")
    try:
        return parse_time(name, value)
    except QueryError as error:
        raise ImportFailed(f"{where}: {error}") from None


def trade_uuid(source: str, trade_id: str) -> str:
    """A trade's ``uuid`` from its source's own id: the same id always gives the same uuid."""
    return str(uuid.uuid5(_TRADE_NAMESPACE, f"{source}:{trade_id}"))


class SymbolNames:
    """CoinAPI ids of the sources' symbols: the ones given (``--symbol-id``), else derived from the exchange's
    own name of the symbol (``BTCUSDT``, ``BTC-USD``, ``XBT/USD``); ``ImportFailed`` when neither says."""

    def __init__(self, given: Mapping[str, str], only: str | None = None) -> None:
        """``given``: exchange symbol -> CoinAPI id; ``only``: the id of every symbol (a one-symbol import)."""
        self._given = given
        self._only = only

    def symbol_id(self, exchange_id: str | None, kind: str, exchange_symbol: str, where: str) -> str:
        """The id of ``exchange_symbol`` on CoinAPI's ``exchange_id`` as a ``kind`` (``SPOT``, ``PERP``) symbol;
        ``exchange_id`` None: a source this module cannot name."""
        found = self._given.get(exchange_symbol) or self._only
        if found is None and exchange_id is not None:
            found = derived_symbol_id(exchange_id, kind, exchange_symbol)
        if found is None:
            raise ImportFailed(
                f"{where}: no CoinAPI id for the symbol {exchange_symbol!r}; "
                f"give one with --symbol-id {exchange_symbol}=EXCHANGE_SPOT_BASE_QUOTE"
            )
        return found


def derived_symbol_id(exchange_id: str, kind: str, exchange_symbol: str) -> str | None:
    """``EXCHANGE_KIND_BASE_QUOTE`` from the exchange's own name of a symbol, or None when the name does not say
    which assets it pairs (a dated future, an option, an unknown quote)."""
    pair = _split(exchange_symbol.upper())
    if pair is None:
        return None
    base, quote = (_ASSET_ALIASES.get(asset, asset) for asset in pair)
    return f"{exchange_id}_{kind}_{base}_{quote}"


def _split(symbol: str) -> tuple[str, str] | None:
    for separator in "-/":
        base, found, quote = symbol.partition(separator)
        if found:
            return (base, quote) if base.isalnum() and quote.isalnum() else None
    for quote in _QUOTES:
        if symbol.endswith(quote) and len(symbol) > len(quote) and symbol.isalnum():
            return symbol[: -len(quote)], quote
    return None
