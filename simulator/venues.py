"""Exchange profiles: what each venue lists, how busy it is, and how it spells its own tickers.

The big, well-known venues have hand-written profiles; every other id gets one from simple rules (derivative
suffixes, DEX-style ids, rank). Also generates plausible extra venues when the catalogue asks for more than the
real list holds. Pure data and string formatting: no randomness except through the ``random.Random`` passed in.
"""

from __future__ import annotations

import hashlib
import random
from datetime import date
from typing import NamedTuple

SPOT, PERP, FTS, OPT, FIAT = "SPOT", "PERP", "FTS", "OPT", "FIAT"


class VenueProfile(NamedTuple):
    """How a venue's symbol list is built."""

    #: listed kinds among SPOT, PERP, FTS, OPT (FIAT: a handful of fiat pairs only)
    kinds: tuple[str, ...]
    #: quote assets of spot pairs, most important first
    quotes: tuple[str, ...]
    #: quote assets of derivatives (PERP/FTS/OPT), most important first
    deriv_quotes: tuple[str, ...]
    #: venue activity weight, BINANCE = 1.0
    activity: float
    #: share of ``max_symbols_per_exchange`` the venue lists; 0 means "long tail: a few symbols"
    size: float
    #: ticker spelling, a key of ``_STYLES``
    style: str
    #: > 0: USD-quoted derivatives are inverse contracts of this many USD (BitMEX ``XBTUSD`` = 1 USD)
    inverse_contract_usd: float = 0.0


_P = VenueProfile
_BIG: dict[str, VenueProfile] = {
    "BINANCE": _P((SPOT,), ("USDT", "BTC", "USDC", "ETH", "EUR", "BNB"), (), 1.0, 1.0, "binance"),
    "KRAKEN": _P((SPOT,), ("USD", "EUR", "USDT", "GBP", "BTC", "ETH", "JPY", "USDC"), (), 0.75, 0.9, "kraken"),
    "COINBASE": _P((SPOT,), ("USD", "USDT", "EUR", "GBP", "BTC", "USDC"), (), 0.6, 0.9, "dash"),
    "BITSTAMP": _P((SPOT,), ("USD", "EUR", "USDT", "GBP", "BTC", "USDC"), (), 0.5, 0.7, "lower"),
    "GEMINI": _P((SPOT,), ("USD", "BTC", "ETH", "EUR", "GBP"), (), 0.35, 0.6, "lower"),
    "CENTRALBANKS": _P((FIAT,), (), (), 0.0, 0.0, "fiat"),
    "ECB": _P((FIAT,), (), (), 0.0, 0.0, "fiat"),
    "LMAXDIGITAL": _P((SPOT,), ("USD", "EUR", "GBP", "USDT"), (), 0.25, 0.3, "slash"),
    "DERIBIT": _P((PERP, FTS, OPT), (), ("USD", "USDC"), 0.5, 1.0, "deribit", 10.0),
    "OKEX": _P((SPOT, PERP, FTS), ("USDT", "USDC", "BTC", "ETH", "EUR"), ("USDT", "USD"), 0.7, 1.0, "dash", 100.0),
    "HITBTC": _P((SPOT,), ("USDT", "BTC", "ETH"), (), 0.15, 0.6, "binance"),
    "KUCOIN": _P((SPOT,), ("USDT", "BTC", "ETH", "USDC"), (), 0.4, 0.9, "dash"),
    "HUOBIPRO": _P((SPOT,), ("USDT", "BTC", "ETH", "USDC"), (), 0.3, 0.8, "lower"),
    "BITTREX": _P((SPOT,), ("USDT", "USD", "BTC", "ETH", "EUR"), (), 0.1, 0.5, "dash"),
    "POLONIEX": _P((SPOT,), ("USDT", "USDC", "BTC"), (), 0.15, 0.5, "under"),
    "BITFINEX": _P((SPOT,), ("USD", "USDT", "EUR", "GBP", "JPY", "BTC", "ETH"), (), 0.4, 0.9, "bitfinex"),
    "UPBIT": _P((SPOT,), ("KRW", "BTC", "USDT"), (), 0.5, 0.8, "upbit"),
    "HUOBI": _P((SPOT,), ("USDT", "BTC", "ETH"), (), 0.3, 0.6, "lower"),
    "BITMEX": _P((PERP, FTS), (), ("USD", "USDT"), 0.5, 0.5, "bitmex", 1.0),
    "BINANCEUS": _P((SPOT,), ("USD", "USDT", "BTC", "USDC"), (), 0.2, 0.6, "binance"),
    "BITHUMB": _P((SPOT,), ("KRW", "BTC"), (), 0.3, 0.6, "under"),
    "KUCOINFTS": _P((PERP,), (), ("USDT", "USD"), 0.3, 0.5, "binance", 1.0),
    "BINANCEFTS": _P((PERP, FTS), (), ("USDT", "USDC"), 1.0, 1.0, "binance"),
    "BINANCEFTSC": _P((PERP, FTS), (), ("USD",), 0.4, 0.4, "binance_coin", 10.0),
    "BINANCEOPT": _P((OPT,), (), ("USDT",), 0.1, 0.5, "binance"),
    "BINANCEOPTV": _P((OPT,), (), ("USDT",), 0.03, 0.3, "binance"),
    "KRAKENFTS": _P((PERP, FTS), (), ("USD",), 0.3, 0.5, "krakenfts", 1.0),
    "BYBIT": _P((PERP, FTS), (), ("USDT", "USD", "USDC"), 0.6, 1.0, "binance", 1.0),
    "BYBITSPOT": _P((SPOT,), ("USDT", "USDC", "BTC", "EUR"), (), 0.4, 0.8, "binance"),
    "BYBITOPT": _P((OPT,), (), ("USDC",), 0.05, 0.4, "deribit"),
    "BITMEXOPT": _P((OPT,), (), ("USD",), 0.02, 0.2, "binance"),
    "GATEIOOPT": _P((OPT,), (), ("USDT",), 0.03, 0.3, "dash"),
    "COINCALLOPT": _P((OPT,), (), ("USD",), 0.02, 0.2, "deribit"),
    "GATEIO": _P((SPOT,), ("USDT", "BTC", "ETH", "USDC"), (), 0.3, 0.8, "under"),
    "GATEIOFTS": _P((PERP, FTS), (), ("USDT", "USD"), 0.2, 0.4, "under", 1.0),
    "GATEIOPERP": _P((PERP,), (), ("USDT",), 0.2, 0.3, "under"),
    "HUOBIFTS": _P((PERP, FTS), (), ("USDT", "USD"), 0.2, 0.4, "dash", 100.0),
    "BITGET": _P((SPOT,), ("USDT", "USDC", "BTC"), (), 0.3, 0.6, "binance"),
    "BITGETFTS": _P((PERP,), (), ("USDT", "USDC"), 0.4, 0.5, "binance"),
    "MEXC": _P((SPOT,), ("USDT", "USDC", "BTC"), (), 0.3, 0.6, "under"),
    "MEXCFTS": _P((PERP,), (), ("USDT",), 0.3, 0.5, "under"),
    "CRYPTOCOM": _P((SPOT,), ("USDT", "USD", "BTC"), (), 0.3, 0.6, "under"),
}

#: Ids with no telltale suffix that list perpetuals (and sometimes futures) rather than spot pairs.
_DERIVATIVE_IDS = frozenset(
    {
        "HBDM",
        "DELTAEXCHANGE",
        "HYPERLIQUID",
        "DYDX",
        "DRIFT",
        "PARADEX",
        "VERTEX",
        "LIGHTER",
        "GRVT",
        "ORDERLYNETWORK",
        "ASTERFINANCE",
        "EXTENDED",
        "BYBITINVERSE",
        "BYBITUSDC",
        "POWERTRADE",
        "DUEDEX",
        "BASEFEX",
        "SIMEX",
        "1BROKER",
        "XENA",
        "SHORTEX",
    }
)

#: Quote sets a generic spot venue may have (picked per venue by the catalogue's generator).
_SPOT_QUOTE_SETS: tuple[tuple[str, ...], ...] = (
    ("USDT", "BTC", "ETH"),
    ("USDT", "USDC", "BTC"),
    ("USD", "BTC", "EUR"),
    ("USDT", "BTC"),
    ("EUR", "BTC", "USDT"),
    ("USD", "USDT", "BTC"),
    ("KRW", "BTC"),
    ("JPY", "BTC"),
    ("GBP", "EUR", "BTC"),
)
_GENERIC_STYLES = ("binance", "dash", "lower", "under", "slash")


def rank_activity(rank: int) -> float:
    """Activity weight of a venue without a hand-written profile: decays with its rank (rank 21 ~ 0.24)."""
    return 0.25 / (1.0 + max(0, rank - 20) / 15.0)


def venue_activity(exchange_id: str, rank: int) -> float:
    """The venue's activity weight (BINANCE = 1.0): its profile's for the big ones, else its rank's."""
    known = _BIG.get(exchange_id)
    return known.activity if known is not None else rank_activity(rank)


def venue_profile(exchange_id: str, rank: int, rng: random.Random) -> VenueProfile:
    """The profile of one venue: hand-written for the big ones, else derived from the id and rank.

    ``rng`` is the venue's own catalogue generator; only the generic fallback draws from it.
    """
    known = _BIG.get(exchange_id)
    if known is not None:
        return known
    activity = rank_activity(rank)
    size = 0.0
    if exchange_id.endswith(("OPT", "OPTV")):
        return VenueProfile((OPT,), (), (rng.choice(("USDT", "USD")),), activity * 0.3, size, "binance")
    if exchange_id.endswith(("FTS", "FTSC")):
        return VenueProfile((PERP, FTS), (), ("USDT", "USD"), activity, size, rng.choice(("binance", "dash")), 1.0)
    if exchange_id.endswith("PERP") or exchange_id in _DERIVATIVE_IDS:
        return VenueProfile((PERP,), (), ("USDT", "USD"), activity, size, "dash", 0.0)
    if is_dex_id(exchange_id):
        return VenueProfile((SPOT,), ("USDC", "USDT", "ETH", "DAI"), (), activity * 0.5, size, "dex")
    quotes = rng.choice(_SPOT_QUOTE_SETS)
    return VenueProfile((SPOT,), quotes, (), activity, size, rng.choice(_GENERIC_STYLES))


def is_dex_id(exchange_id: str) -> bool:
    """Whether the id looks like an on-chain venue, e.g. ``UNISWAP-V3-ARBITRUM``."""
    return "-V" in exchange_id or exchange_id.endswith(("-ETHEREUM", "-ARBITRUM", "-BASE", "-POLYGON"))


# --- the venue's own ticker (``symbol_id_exchange``) ------------------------------------------------------------

_MONTH_CODES = "FGHJKMNQUVXZ"
_KRAKEN_ALT = {"BTC": "XBT", "DOGE": "XDG"}
_KRAKEN_LEGACY = frozenset({"XBT", "ETH", "XRP", "LTC", "XLM", "ETC", "XMR"})
_KRAKEN_FIAT = frozenset({"USD", "EUR", "GBP", "JPY"})


def _kraken_asset(alt: str) -> str:
    return ("X" if alt in _KRAKEN_LEGACY else "Z") + alt


def _kraken_spot(base: str, quote: str) -> str:
    b, q = _KRAKEN_ALT.get(base, base), _KRAKEN_ALT.get(quote, quote)
    if b in _KRAKEN_LEGACY and (q in _KRAKEN_FIAT or q in _KRAKEN_LEGACY):
        return _kraken_asset(b) + _kraken_asset(q)  # Kraken's old-style pair name, e.g. XXBTZUSD
    return b + q


def exchange_symbol_id(
    style: str,
    kind: str,
    base: str,
    quote: str,
    *,
    expiry: date | None = None,
    strike: str = "",
    is_call: bool = True,
    symbol_id: str = "",
) -> str:
    """The venue's own spelling of a market (``symbol_id_exchange``), e.g. ``btcusdt``, ``XBTUSD``, ``BTC-PERPETUAL``.

    ``expiry`` is required for FTS/OPT, ``strike`` (as it appears in the CoinAPI id) for OPT; ``symbol_id`` seeds
    the pool address of DEX markets.
    """
    # expiry spellings: 240329 (most venues), 29MAR24 (Deribit), H24 (BitMEX month code + year)
    ymd = dmy = month_code = ""
    if expiry is not None:
        ymd = f"{expiry:%y%m%d}"
        dmy = f"{expiry.day}{expiry.strftime('%b').upper()}{expiry:%y}"
        month_code = f"{_MONTH_CODES[expiry.month - 1]}{expiry:%y}"
    cp = "C" if is_call else "P"
    if kind == OPT:
        if style == "deribit":
            return f"{base}-{dmy}-{strike}-{cp}"
        if style == "dash":
            return f"{base}-{quote}-{ymd}-{strike}-{cp}"
        return f"{base}-{ymd}-{strike}-{cp}"
    if style == "deribit":
        suffix = "PERPETUAL" if kind == PERP else dmy
        return f"{base}-{suffix}" if quote == "USD" else f"{base}_{quote}-{suffix}"
    if style == "bitmex":
        root = "XBT" if base == "BTC" else base
        return f"{root}{month_code}" if kind == FTS else f"{root}{quote}"
    if style == "krakenfts":
        pair = _KRAKEN_ALT.get(base, base) + quote
        return f"PI_{pair}" if kind == PERP else f"FI_{pair}_{ymd}"
    if style == "binance_coin":
        return f"{base}{quote}_PERP" if kind == PERP else f"{base}{quote}_{ymd}"
    if kind == FTS:
        if style == "dash":
            return f"{base}-{quote}-{ymd}"
        return f"{base}_{quote}_{ymd}" if style == "under" else f"{base}{quote}_{ymd}"
    if kind == PERP:
        if style == "dash":
            return f"{base}-{quote}-SWAP"
        if style == "under":
            return f"{base}_{quote}"
        return f"{base}{quote}" if style == "binance" else f"{base}{quote}-PERP"
    return _spot_ticker(style, base, quote, symbol_id)


def _spot_ticker(style: str, base: str, quote: str, symbol_id: str) -> str:
    if style == "kraken":
        return _kraken_spot(base, quote)
    if style == "dash":
        return f"{base}-{quote}"
    if style == "lower":
        return f"{base}{quote}".lower()
    if style == "under":
        return f"{base}_{quote}"
    if style == "slash":
        return f"{base}/{quote}"
    if style == "upbit":
        return f"{quote}-{base}"
    if style == "bitfinex":
        return f"t{base}:{quote}" if len(base) > 3 or len(quote) > 3 else f"t{base}{quote}"
    if style == "dex":  # on-chain venues name a market by its pool contract
        return "0x" + hashlib.blake2b(symbol_id.encode(), digest_size=20).hexdigest()
    return f"{base}{quote}"  # binance, fiat


# --- generated venues -------------------------------------------------------------------------------------------

_ONSETS = ("b", "br", "c", "cr", "d", "f", "fl", "g", "k", "kr", "l", "m", "n", "p", "pr", "q", "r", "s", "st", "t")
_ONSETS2 = ("tr", "v", "w", "x", "z", "zy", "h", "j", "bl", "gr")
_VOWELS = ("a", "e", "i", "o", "u", "y", "ai", "eo", "ia")
_ENDINGS = ("ex", "bit", "coin", "trade", "x", "ium", "ora", "ix", "on", "ar", "fi", "swap")
_CHAINS = ("ETHEREUM", "ARBITRUM", "BASE", "POLYGON", "OPTIMISM", "BSC", "AVALANCHE", "SOLANA")
_TLDS = (".com", ".io", ".exchange", ".net", ".co")


class GeneratedVenue(NamedTuple):
    """An invented venue: upper-case id, display name and website."""

    exchange_id: str
    name: str
    website: str


def generate_venue(rng: random.Random, taken: set[str]) -> GeneratedVenue:
    """Invent a venue whose id is not in ``taken``: a CEX-like ``ZORBEX`` or a DEX-like ``KRYLIX-V3-BASE``."""
    while True:
        onsets = _ONSETS + _ONSETS2
        stem = "".join(rng.choice(onsets) + rng.choice(_VOWELS) for _ in range(rng.randint(1, 2)))
        word = stem + rng.choice(_ENDINGS)
        if rng.random() < 0.25:
            version, chain = rng.choice(("2", "3")), rng.choice(_CHAINS)
            exchange_id = f"{word.upper()}-V{version}-{chain}"
            name = f"{word.capitalize()} V{version} ({chain.capitalize()})"
            website = f"https://app.{word}.io/"
        else:
            exchange_id = word.upper()
            name = word.capitalize()
            website = f"https://www.{word}{rng.choice(_TLDS)}/"
        if exchange_id not in taken:
            taken.add(exchange_id)
            return GeneratedVenue(exchange_id, name, website)
