"""The instrument catalogue: exchanges, assets and symbols, with their precisions and activity.

Built deterministically from (seed, CatalogConfig) and the bundled real exchange list ``data/exchanges.json``.
Nothing here reads the wall clock: futures and option expiries are laid out from ``CatalogConfig.epoch_ns``
(default 2024-01-01T00:00:00Z), so the same config and seed always give the same catalogue.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources

from coinapi_emulator.simulator import venues
from coinapi_emulator.simulator.assets import ASSET_ROWS, AssetRow
from coinapi_emulator.simulator.listings import (
    ExpiryLayout,
    Listing,
    epoch_date,
    expiry_ns,
    price_decimals,
    size_decimals,
    venue_listings,
)
from coinapi_emulator.simulator.rng import catalog_rng


class SymbolType(enum.Enum):
    """CoinAPI ``symbol_type`` values the emulator streams; the id part is ``SymbolType.id_part``."""

    SPOT = "SPOT"
    PERPETUAL = "PERPETUAL"
    FUTURES = "FUTURES"
    OPTION = "OPTION"

    @property
    def id_part(self) -> str:
        """The type's part of a ``symbol_id``: ``SPOT``, ``PERP``, ``FTS`` or ``OPT``."""
        return _ID_PARTS[self]


_ID_PARTS = {
    SymbolType.SPOT: "SPOT",
    SymbolType.PERPETUAL: "PERP",
    SymbolType.FUTURES: "FTS",
    SymbolType.OPTION: "OPT",
}
_TYPE_BY_KIND = {
    venues.SPOT: SymbolType.SPOT,
    venues.FIAT: SymbolType.SPOT,
    venues.PERP: SymbolType.PERPETUAL,
    venues.FTS: SymbolType.FUTURES,
    venues.OPT: SymbolType.OPTION,
}

#: Default catalogue epoch, 2024-01-01T00:00:00Z: expiries are the first ones after it.
CATALOG_EPOCH_NS = 1_704_067_200_000_000_000


@dataclass(frozen=True, slots=True)
class Exchange:
    """A venue. Real ones come from the bundled list, in rank order; generated ones follow."""

    exchange_id: str
    name: str | None
    website: str | None
    #: 1-based position in the catalogue (real ranking first)
    rank: int
    #: ``YYYY-MM-DD`` of the venue's first data
    data_start: str
    #: whether the id comes from the real list (False for generated venues)
    is_real: bool


@dataclass(frozen=True, slots=True)
class Asset:
    """A currency or token."""

    asset_id: str
    name: str
    type_is_crypto: bool
    #: price in USD at the start of the simulation
    initial_price_usd: float
    #: annualised volatility of the asset's USD price, e.g. 0.6 for 60 %
    volatility: float
    #: a stablecoin: its USD price mean-reverts to ``initial_price_usd``
    is_stablecoin: bool = False
    #: correlation of the asset's price shocks with the common crypto-market shock, 0..1
    market_correlation: float = 0.0


@dataclass(frozen=True, slots=True)
class Symbol:
    """A tradable market on one exchange.

    ``price_decimals`` / ``size_decimals``: tick = 10**-price_decimals, lot = 10**-size_decimals (may be
    negative for coarse ticks, e.g. -1 means a tick of 10). Every price and size on the wire is a multiple.
    """

    symbol_id: str
    exchange_id: str
    symbol_type: SymbolType
    asset_id_base: str
    asset_id_quote: str
    #: the exchange's own ticker, e.g. ``btcusdt``
    symbol_id_exchange: str
    price_decimals: int
    size_decimals: int
    #: relative activity: expected trades per virtual second at the default rate scale
    trade_rate: float
    #: expected L2 book changes (besides trades) per virtual second at the default rate scale
    book_rate: float
    #: FUTURES / OPTION: delivery or expiry time, ns since the epoch (None otherwise)
    expiry_ns: int | None = None
    #: OPTION: strike in quote currency, and call (True) or put (False)
    option_strike: float | None = None
    option_is_call: bool | None = None
    #: PERPETUAL / FUTURES / OPTION: contract unit (in ``contract_unit_asset``)
    contract_unit: float | None = None
    contract_unit_asset: str | None = None


@dataclass(frozen=True, slots=True)
class CatalogConfig:
    """Size of the generated catalogue."""

    #: number of exchanges (>= 1). The real list has 400; more than that adds generated venues.
    exchanges: int = 400
    #: upper bound on symbols per exchange (the big venues reach it, small ones have fewer)
    max_symbols_per_exchange: int = 60
    #: catalogue epoch, ns since the Unix epoch: futures/option expiries are the first ones after it and
    #: ``Exchange.data_start`` lies before it. Set it near the simulation start for current-looking expiries.
    epoch_ns: int = CATALOG_EPOCH_NS


@dataclass(frozen=True, slots=True)
class Catalog:
    """All instruments, in a stable order, with lookup by id."""

    exchanges: tuple[Exchange, ...]
    assets: tuple[Asset, ...]
    symbols: tuple[Symbol, ...]
    _exchange_by_id: dict[str, Exchange] = field(init=False, repr=False, compare=False)
    _asset_by_id: dict[str, Asset] = field(init=False, repr=False, compare=False)
    _symbol_by_id: dict[str, Symbol] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # frozen: the lookup tables are filled once here, with object.__setattr__ as dataclasses document
        object.__setattr__(self, "_exchange_by_id", {e.exchange_id: e for e in self.exchanges})
        object.__setattr__(self, "_asset_by_id", {a.asset_id: a for a in self.assets})
        object.__setattr__(self, "_symbol_by_id", {s.symbol_id: s for s in self.symbols})
        if len(self._symbol_by_id) != len(self.symbols) or len(self._exchange_by_id) != len(self.exchanges):
            raise ValueError("duplicate exchange or symbol id in catalogue")

    def exchange(self, exchange_id: str) -> Exchange | None:
        """The exchange with that id, or None."""
        return self._exchange_by_id.get(exchange_id)

    def asset(self, asset_id: str) -> Asset | None:
        """The asset with that id, or None."""
        return self._asset_by_id.get(asset_id)

    def symbol(self, symbol_id: str) -> Symbol | None:
        """The symbol with that id, or None."""
        return self._symbol_by_id.get(symbol_id)


def catalog_for_start(start_ns: int, *, exchanges: int, max_symbols_per_exchange: int, seed: int) -> Catalog:
    """The catalogue of a market that starts at ``start_ns``: its epoch is that day, so that a market started
    today lists live futures and options. ``serve`` and ``symbols`` build it the same way."""
    day_ns = 86_400 * 1_000_000_000
    config = CatalogConfig(
        exchanges=exchanges, max_symbols_per_exchange=max_symbols_per_exchange, epoch_ns=start_ns - start_ns % day_ns
    )
    return build_catalog(config, seed=seed)


def shard_catalog(catalog: Catalog, shard: int, shards: int) -> Catalog:
    """The part of ``catalog`` that shard ``shard`` of ``shards`` simulates: the exchanges at index ``shard``,
    ``shard + shards``, ... and their symbols, with every asset (each shard computes every asset factor)."""
    if not 0 <= shard < shards:
        raise ValueError(f"shard {shard} of {shards}: it must be from 0 to {shards - 1}")
    exchanges = catalog.exchanges[shard::shards]
    ids = {exchange.exchange_id for exchange in exchanges}
    return Catalog(exchanges, catalog.assets, tuple(s for s in catalog.symbols if s.exchange_id in ids))


def build_catalog(config: CatalogConfig = CatalogConfig(), seed: int = 0) -> Catalog:
    """Build the catalogue; the same (config, seed) always gives the same catalogue.

    Exchanges: the real list in rank order (truncated to ``config.exchanges``), then generated venues. Each
    venue lists symbols according to its profile (``venues.py``); the must-have markets of the big venues
    (``BINANCE_SPOT_BTC_USDT``, ``BITMEX_PERP_BTC_USD``, …) are always present when their exchange is.
    """
    if config.exchanges < 1 or config.max_symbols_per_exchange < 1:
        raise ValueError("CatalogConfig needs at least one exchange and one symbol per exchange")
    assets = tuple(_asset(row) for row in ASSET_ROWS)
    exchanges = _exchanges(config, seed)
    layout = ExpiryLayout.from_epoch(config.epoch_ns)
    symbols: list[Symbol] = []
    for exchange in exchanges:
        rng = catalog_rng(seed, "venue", exchange.exchange_id)
        profile = venues.venue_profile(exchange.exchange_id, exchange.rank, rng)
        listings = venue_listings(
            exchange.exchange_id, exchange.rank, profile, config.max_symbols_per_exchange, rng, layout
        )
        symbols += [_symbol(exchange, profile, listing) for listing in listings]
    return Catalog(exchanges, assets, tuple(symbols))


def _asset(row: AssetRow) -> Asset:
    return Asset(
        row.asset_id,
        row.name,
        row.type_is_crypto,
        row.price_usd,
        row.volatility,
        row.is_stablecoin,
        row.market_correlation,
    )


# --- exchanges --------------------------------------------------------------------------------------------------

#: First-data dates of a few famous venues; the others get a plausible date drawn from their generator.
_KNOWN_DATA_START = {
    "BITSTAMP": "2011-09-13",
    "KRAKEN": "2013-10-06",
    "BITFINEX": "2013-04-01",
    "COINBASE": "2015-01-26",
    "BINANCE": "2017-07-14",
    "BITMEX": "2014-11-24",
}


def _real_exchanges() -> list[dict[str, str | None]]:
    raw = resources.files("coinapi_emulator.simulator").joinpath("data", "exchanges.json").read_text(encoding="utf-8")
    rows: list[dict[str, str | None]] = json.loads(raw)
    return rows


def _exchanges(config: CatalogConfig, seed: int) -> tuple[Exchange, ...]:
    epoch = epoch_date(config.epoch_ns)
    real = _real_exchanges()[: config.exchanges]
    out: list[Exchange] = []
    for rank, row in enumerate(real, start=1):
        exchange_id = str(row["exchange_id"])
        start = _KNOWN_DATA_START.get(exchange_id)
        if start is None:
            days_before = catalog_rng(seed, "data_start", exchange_id).randint(200, 4000)
            start = (epoch - timedelta(days=days_before)).isoformat()
        out.append(Exchange(exchange_id, row["name"], row["website"], rank, start, is_real=True))
    taken = {e.exchange_id for e in out}
    rng = catalog_rng(seed, "generated-venues")
    for rank in range(len(out) + 1, config.exchanges + 1):
        venue = venues.generate_venue(rng, taken)
        start = (epoch - timedelta(days=rng.randint(30, 1500))).isoformat()
        out.append(Exchange(venue.exchange_id, venue.name, venue.website, rank, start, is_real=False))
    return tuple(out)


# --- symbols ----------------------------------------------------------------------------------------------------

#: Trades per second of a symbol whose activity score is 1 (BINANCE BTC/USDT); activity falls off with the
#: square of the score, so a few dozen markets are busy, a few hundred moderate and the rest a long tail.
TOP_TRADE_RATE = 10.0
_MIN_TRADE_RATE = 0.02
_KIND_ACTIVITY = {venues.SPOT: 1.0, venues.PERP: 1.0, venues.FTS: 0.25, venues.OPT: 0.1, venues.FIAT: 1.0}


def _symbol(exchange: Exchange, profile: venues.VenueProfile, c: Listing) -> Symbol:
    symbol_type = _TYPE_BY_KIND[c.kind]
    parts = [exchange.exchange_id, symbol_type.id_part, c.base, c.quote]
    if c.expiry is not None:
        parts.append(f"{c.expiry:%y%m%d}")
    if c.kind == venues.OPT:
        parts += [str(c.strike), "C" if c.is_call else "P"]
    symbol_id = "_".join(parts)
    ticker = venues.exchange_symbol_id(
        profile.style,
        c.kind,
        c.base,
        c.quote,
        expiry=c.expiry,
        strike=str(c.strike),
        is_call=c.is_call,
        symbol_id=symbol_id,
    )
    activity = profile.activity * c.score * _KIND_ACTIVITY[c.kind]
    trade_rate = max(_MIN_TRADE_RATE, TOP_TRADE_RATE * activity**2)
    if c.kind == venues.OPT:
        trade_rate = min(trade_rate, 0.05)  # options: a quiet corner of the feed
    size_decimals_ = size_decimals(c.base)
    contract_unit: float | None = None
    contract_asset: str | None = None
    if c.kind in (venues.PERP, venues.FTS, venues.OPT):
        contract_unit, contract_asset = 1.0, c.base
        if c.quote == "USD" and profile.inverse_contract_usd > 0 and c.kind != venues.OPT:
            # inverse contract (BitMEX XBTUSD): size counts contracts of a fixed USD amount
            contract_unit, contract_asset, size_decimals_ = profile.inverse_contract_usd, "USD", 0
        elif c.kind == venues.OPT:
            size_decimals_ = 1
    return Symbol(
        symbol_id=symbol_id,
        exchange_id=exchange.exchange_id,
        symbol_type=symbol_type,
        asset_id_base=c.base,
        asset_id_quote=c.quote,
        symbol_id_exchange=ticker,
        price_decimals=price_decimals(c.base, c.quote),
        size_decimals=size_decimals_,
        trade_rate=round(trade_rate, 4),
        book_rate=round(min(40.0, 2.5 * trade_rate + 0.02), 4),
        expiry_ns=expiry_ns(c.expiry) if c.expiry is not None else None,
        option_strike=float(c.strike) if c.kind == venues.OPT else None,
        option_is_call=c.is_call if c.kind == venues.OPT else None,
        contract_unit=contract_unit,
        contract_unit_asset=contract_asset,
    )
