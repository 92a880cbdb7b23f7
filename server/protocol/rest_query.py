"""REST query parameters as CoinAPI takes them: times, ``limit``, ``limit_levels``, ``period_id``, lists, and the
symbols that ``filter_*`` parameters select.

Sans-I/O: plain strings in, values or ``QueryError`` (answered 400 with its message) out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Final

from coinapi_emulator.server.protocol.routes import CatalogIndex
from coinapi_emulator.simulator.catalog import Symbol
from coinapi_emulator.simulator.ohlcv import OHLCV_PERIODS, OhlcvPeriod

#: CoinAPI's documented defaults and bounds for ``limit`` (e.g. OHLCV history: "mininum is 1, maximum is 100000,
#: default value is 100")
DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 100_000
_PERIODS: Final = {period.period_id: period for period in OHLCV_PERIODS}
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
#: a date, or a date and time with up to 9 fractional digits and an optional Z or offset
_TIME: Final = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[T ](?P<clock>\d{2}:\d{2}(?::\d{2})?)(?:\.(?P<fraction>\d{1,9}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:?\d{2})?"
)


class QueryError(ValueError):
    """A parameter CoinAPI would refuse; the message names it."""


def split_list(value: str | None) -> list[str]:
    """``a,b;c`` -> ``["a", "b", "c"]`` (PROTOCOL.md §7: lists are comma or semicolon separated)."""
    if not value:
        return []
    return [part.strip() for part in value.replace(";", ",").split(",") if part.strip()]


def parse_time(name: str, text: str) -> int:
    """An ISO 8601 time as CoinAPI accepts it (``2024-01-01``, ``2024-01-01T10:00:00``, ``...00.1234567Z``,
    an offset) to ns since the epoch; without an offset it is UTC."""
    found = _TIME.fullmatch(text.strip())
    if found is None:
        raise QueryError(f"{name} '{text}' is not an ISO 8601 time such as 2024-01-01T00:00:00.0000000Z")
    clock = found["clock"] or "00:00"
    zone = found["zone"] or "Z"
    try:
        parsed = dt.datetime.fromisoformat(f"{found['date']}T{clock}{'+00:00' if zone == 'Z' else zone}")
    except ValueError as error:
        raise QueryError(f"{name} '{text}': {error}") from None
    delta = parsed - _EPOCH
    whole_ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000
    return whole_ns + int((found["fraction"] or "0").ljust(9, "0"))


def parse_limit(text: str | None, *, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> int:
    """``limit``: an integer from 1 to ``maximum``; ``default`` when absent."""
    return _bounded_int("limit", text, default=default, maximum=maximum)


def parse_limit_levels(text: str | None) -> int | None:
    """``limit_levels``: levels per side, at least 1; None (the whole book) when absent."""
    return None if text is None else _bounded_int("limit_levels", text, default=0, maximum=MAX_LIMIT)


def parse_period(text: str | None) -> OhlcvPeriod:
    """``period_id``: one of ``/v1/ohlcv/periods``; required."""
    if not text:
        raise QueryError("period_id is required, e.g. period_id=1MIN (see /v1/ohlcv/periods)")
    period = _PERIODS.get(text.upper())
    if period is None:
        raise QueryError(f"period_id '{text}' is not one of /v1/ohlcv/periods, e.g. 1MIN, 1HRS, 1DAY")
    return period


def _bounded_int(name: str, text: str | None, *, default: int, maximum: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise QueryError(f"{name} must be an integer, got '{text}'") from None
    if not 1 <= value <= maximum:
        raise QueryError(f"{name} must be from 1 to {maximum}, got {value}")
    return value


def select_symbols(
    index: CatalogIndex,
    *,
    within: Iterable[Symbol] | None,
    prefixes: list[str],
    exchange_ids: list[str],
    asset_ids: list[str],
) -> list[Symbol]:
    """The symbols (of ``within``, else of the whole catalogue) that pass every filter given, in catalogue order
    (PROTOCOL.md §7): a ``filter_symbol_id`` entry is a plain prefix, ``filter_asset_id`` names a base or quote.

    Each kind is looked up in the index and the candidate sets intersected, so a request costs what it finds, not
    symbols x entries (7,000 prefixes once took 1.5 s of the event loop).
    """
    candidates: list[set[str]] = []
    if within is not None:
        candidates.append({symbol.symbol_id for symbol in within})
    if prefixes:
        candidates.append({sid for prefix in prefixes for sid in index.symbols_with_prefix(prefix)})
    if exchange_ids:
        candidates.append({sid for exchange_id in exchange_ids for sid in index.symbols_for_exchange(exchange_id)})
    if asset_ids:
        candidates.append({sid for asset_id in asset_ids for sid in index.symbols_for_asset(asset_id)})
    if not candidates:
        return list(index.catalog.symbols)
    candidates.sort(key=len)
    selected = candidates[0].intersection(*candidates[1:])
    return [index.symbol(sid) for sid in sorted(selected, key=index.position.__getitem__)]
