"""Which markets each venue lists: candidates, must-haves, expiries, strikes and price/size precisions.

Pure functions of the venue profile, the catalogue epoch and the venue's own generator; ``catalog.py`` turns the
chosen ``Listing`` values into ``Symbol`` values. Expiries are laid out from the catalogue epoch, never from
the wall clock.
"""

from __future__ import annotations

import calendar
import math
import random
from datetime import UTC, date, timedelta
from datetime import datetime as _datetime
from typing import NamedTuple

from coinapi_emulator.simulator import venues
from coinapi_emulator.simulator.assets import ASSET_ROWS, QUOTE_RANK


def epoch_date(epoch_ns: int) -> date:
    """The UTC calendar date of an instant given in ns since the Unix epoch."""
    return _datetime.fromtimestamp(epoch_ns // 1_000_000_000, tz=UTC).date()


def _last_friday(year: int, month: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - calendar.FRIDAY) % 7)


class ExpiryLayout(NamedTuple):
    """Delivery dates after the catalogue epoch, all at 08:00 UTC like Deribit and Binance."""

    #: the next two quarterly contracts (last Friday of Mar/Jun/Sep/Dec, at least a week out)
    futures: tuple[date, ...]
    #: weekly, monthly and quarterly option expiries (distinct, ascending)
    options: tuple[date, ...]

    @staticmethod
    def from_epoch(epoch_ns: int) -> ExpiryLayout:
        """The expiries that follow the catalogue epoch ``epoch_ns``."""
        epoch = epoch_date(epoch_ns)
        quarterly: list[date] = []
        monthly: date | None = None
        year, month = epoch.year, epoch.month
        while len(quarterly) < 2:
            friday = _last_friday(year, month)
            if friday > epoch + timedelta(days=7):
                monthly = monthly or friday
                if month % 3 == 0:
                    quarterly.append(friday)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        weekly = epoch + timedelta(days=(calendar.FRIDAY - epoch.weekday()) % 7 or 7)
        assert monthly is not None  # the loop sees at least one month before its second quarter
        return ExpiryLayout(tuple(quarterly), tuple(sorted({weekly, monthly, quarterly[0]})))


def expiry_ns(day: date) -> int:
    """Delivery instant of a contract expiring on ``day``: 08:00 UTC, in ns since the Unix epoch."""
    return calendar.timegm((day.year, day.month, day.day, 8, 0, 0)) * 1_000_000_000


# --- listings ---------------------------------------------------------------------------------------------------

_ROWS = {row.asset_id: row for row in ASSET_ROWS}
_FIAT = frozenset(row.asset_id for row in ASSET_ROWS if not row.type_is_crypto)
#: Markets some clients and examples rely on: always listed when their exchange is in the catalogue.
_MUST_HAVE: dict[str, tuple[tuple[str, str, str], ...]] = {
    "BINANCE": (("SPOT", "BTC", "USDT"), ("SPOT", "ETH", "USDT")),
    "COINBASE": (("SPOT", "BTC", "USD"), ("SPOT", "ETH", "USD"), ("SPOT", "BCH", "USD")),
    "KRAKEN": (("SPOT", "BTC", "USD"), ("SPOT", "BTC", "EUR")),
    "BITSTAMP": (("SPOT", "BTC", "USD"), ("SPOT", "ETH", "USD"), ("SPOT", "XRP", "USD")),
    "BITMEX": (("PERP", "BTC", "USD"),),
    "KRAKENFTS": (("PERP", "BTC", "USD"),),
    "POLONIEX": (("SPOT", "LTC", "USDC"),),
    "BITFINEX": (("SPOT", "BTC", "USD"), ("SPOT", "LTC", "BTC")),
    "BINANCEFTS": (("PERP", "BTC", "USDT"), ("PERP", "ETH", "USDT"), ("FTS", "BTC", "USDT")),
}
_FIAT_PAIRS: dict[str, tuple[tuple[str, str], ...]] = {
    "ECB": (("EUR", "USD"), ("EUR", "GBP"), ("EUR", "JPY"), ("EUR", "KRW")),
    "CENTRALBANKS": (("EUR", "USD"), ("GBP", "USD"), ("USD", "JPY"), ("USD", "KRW"), ("EUR", "GBP")),
}
_PERP_BASES = 24
_FTS_BASES = ("BTC", "ETH")
_OPTION_BASES = ("BTC", "ETH", "SOL")
_STRIKE_OFFSETS = (0, 1, -1, 2, -2, 3, -3, 4, -4)


class Listing(NamedTuple):
    """One market a venue lists, before it becomes a ``Symbol``."""

    #: SPOT, PERP, FTS, OPT or FIAT (a fiat pair, listed as SPOT)
    kind: str
    base: str
    quote: str
    #: listing priority and activity before the venue weight
    score: float
    expiry: date | None = None
    strike: int = 0
    is_call: bool = True


def _price(base: str, quote: str) -> float:
    return _ROWS[base].price_usd / _ROWS[quote].price_usd


def price_decimals(base: str, quote: str) -> int:
    """Tick decimals from the price level: ~5-7 significant digits, as the big venues quote."""
    price = _price(base, quote)
    magnitude = math.floor(math.log10(price))
    if base in _FIAT and quote in _FIAT:
        return 5 - magnitude  # FX convention: EUR/USD 1.10425, EUR/JPY 155.123
    if _ROWS[base].is_stablecoin and magnitude == 0:
        return 4  # stable-vs-dollar pairs trade in hundredths of a cent
    if magnitude >= 6:
        return 0
    if magnitude == 5:
        return 1
    return 2 if magnitude >= 1 else 3 - magnitude


def size_decimals(base: str) -> int:
    """Lot decimals from the base's USD price: BTC 8, ETH 7, XRP 3, SHIB 0."""
    return min(8, max(0, math.floor(math.log10(_ROWS[base].price_usd)) + 4))


def _candidates(profile: venues.VenueProfile, layout: ExpiryLayout) -> list[Listing]:
    out: list[Listing] = []
    if venues.SPOT in profile.kinds:
        for row in ASSET_ROWS:
            for qi, quote in enumerate(profile.quotes):
                if row.type_is_crypto and QUOTE_RANK.get(quote, 0) > QUOTE_RANK.get(row.asset_id, 0):
                    out.append(Listing(venues.SPOT, row.asset_id, quote, row.popularity / (1 + qi)))
    perp_rows = [row for row in ASSET_ROWS if row.market_correlation > 0][:_PERP_BASES]
    if venues.PERP in profile.kinds:
        for row in perp_rows:
            for qi, quote in enumerate(profile.deriv_quotes):
                out.append(Listing(venues.PERP, row.asset_id, quote, row.popularity / (1 + qi)))
    if venues.FTS in profile.kinds:
        for base in _FTS_BASES:
            for ei, day in enumerate(layout.futures):
                score = _ROWS[base].popularity / (1 + ei)
                out.append(Listing(venues.FTS, base, profile.deriv_quotes[0], score, day))
    if venues.OPT in profile.kinds:
        quote = profile.deriv_quotes[0]
        for base in _OPTION_BASES:
            step = _strike_step(_price(base, quote))
            atm = round(_price(base, quote) / step) * step
            for ei, day in enumerate(layout.options):
                for k in _STRIKE_OFFSETS:
                    score = _ROWS[base].popularity / (1 + ei) / (1 + abs(k))
                    for is_call in (True, False):
                        out.append(Listing(venues.OPT, base, quote, score, day, atm + k * step, is_call))
    return out


def _strike_step(price: float) -> int:
    """A round strike spacing near 2.5 % of the price (1, 2 or 5 times a power of ten, at least 1)."""
    raw = price * 0.025
    power = 10.0 ** math.floor(math.log10(raw))
    step = min((m * power for m in (1, 2, 5, 10)), key=lambda s: abs(math.log(s / raw)))
    return max(1, round(step))


def venue_listings(
    exchange_id: str,
    rank: int,
    profile: venues.VenueProfile,
    max_symbols: int,
    rng: random.Random,
    layout: ExpiryLayout,
) -> list[Listing]:
    """The markets one venue lists, most important first.

    Big venues (``profile.size > 0``) list their top candidates up to ``size * max_symbols``; the others a
    weighted random few (6-15 for ranks up to 60, else 3-7). Must-haves always come first, even past the limit.
    """
    if venues.FIAT in profile.kinds:
        pairs = _FIAT_PAIRS.get(exchange_id, _FIAT_PAIRS["ECB"])
        return [Listing(venues.FIAT, b, q, 0.0) for b, q in pairs][:max_symbols]
    candidates = sorted(_candidates(profile, layout), key=lambda c: -c.score)
    must_keys = set(_MUST_HAVE.get(exchange_id, ()))
    must = _first_per_key([c for c in candidates if (c.kind, c.base, c.quote) in must_keys])
    if profile.size > 0:
        count = max(1, round(max_symbols * profile.size))
        rest = [c for c in candidates if c not in must]
    else:
        count = rng.randint(6, 15) if rank <= 60 else rng.randint(3, 7)
        rest = _weighted_sample(rng, [c for c in candidates if c not in must], count)
    count = min(count, max_symbols)
    return (must + rest)[: max(count, len(must))]


def _first_per_key(candidates: list[Listing]) -> list[Listing]:
    """The first candidate of each (kind, base, quote): for futures, the nearest expiry."""
    seen: dict[tuple[str, str, str], Listing] = {}
    for c in candidates:
        seen.setdefault((c.kind, c.base, c.quote), c)
    return list(seen.values())


def _weighted_sample(rng: random.Random, candidates: list[Listing], count: int) -> list[Listing]:
    """``count`` candidates without replacement, each with probability growing with its score."""
    # Efraimidis-Spirakis: the largest keys u**(1/w) form a weighted sample without replacement
    keyed = sorted(candidates, key=lambda c: -(rng.random() ** (1.0 / max(c.score, 1e-6))))
    return sorted(keyed[:count], key=lambda c: -c.score)
