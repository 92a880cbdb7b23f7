from __future__ import annotations

import collections
import json
import re
from datetime import UTC, datetime
from importlib import resources

import pytest

from coinapi_emulator.simulator.catalog import (
    CATALOG_EPOCH_NS,
    Asset,
    Catalog,
    CatalogConfig,
    Exchange,
    Symbol,
    SymbolType,
    build_catalog,
)
from coinapi_emulator.simulator.listings import expiry_ns

# PROTOCOL.md §4.4; exchange ids may contain digits and dashes
_EXCHANGE = r"[A-Z0-9][A-Z0-9-]*"
_ASSET = r"[A-Z0-9]+"
ID_PATTERNS = {
    SymbolType.SPOT: re.compile(rf"^{_EXCHANGE}_SPOT_{_ASSET}_{_ASSET}$"),
    SymbolType.PERPETUAL: re.compile(rf"^{_EXCHANGE}_PERP_{_ASSET}_{_ASSET}$"),
    SymbolType.FUTURES: re.compile(rf"^{_EXCHANGE}_FTS_{_ASSET}_{_ASSET}_\d{{6}}$"),
    SymbolType.OPTION: re.compile(rf"^{_EXCHANGE}_OPT_{_ASSET}_{_ASSET}_\d{{6}}_\d+(\.\d+)?_[CP]$"),
}

MUST_HAVE = (
    "BINANCE_SPOT_BTC_USDT",
    "BINANCE_SPOT_ETH_USDT",
    "COINBASE_SPOT_BTC_USD",
    "COINBASE_SPOT_ETH_USD",
    "KRAKEN_SPOT_BTC_USD",
    "KRAKEN_SPOT_BTC_EUR",
    "BITSTAMP_SPOT_BTC_USD",
    "BITSTAMP_SPOT_ETH_USD",
    "BITSTAMP_SPOT_XRP_USD",
    "BITMEX_PERP_BTC_USD",
    "KRAKENFTS_PERP_BTC_USD",
    "POLONIEX_SPOT_LTC_USDC",
    "COINBASE_SPOT_BCH_USD",
    "BITFINEX_SPOT_BTC_USD",
    "BINANCEFTS_PERP_BTC_USDT",
)


def _real_rows() -> list[dict[str, str | None]]:
    rows: list[dict[str, str | None]] = json.loads(
        resources.files("coinapi_emulator.simulator").joinpath("data", "exchanges.json").read_text(encoding="utf-8")
    )
    return rows


def test_real_exchanges_come_first_in_rank_order(catalog: Catalog) -> None:
    rows = _real_rows()
    assert len(catalog.exchanges) >= 370
    for rank, (row, exchange) in enumerate(zip(rows, catalog.exchanges, strict=False), start=1):
        assert (exchange.exchange_id, exchange.name, exchange.website) == (
            row["exchange_id"],
            row["name"],
            row["website"],
        )
        assert exchange.rank == rank
        assert exchange.is_real
    assert catalog.exchanges[0].exchange_id == "BINANCE"
    assert catalog.exchange("BITSTAMP") == Exchange(
        "BITSTAMP", "Bitstamp Ltd.", "https://www.bitstamp.net/", 4, "2011-09-13", True
    )


def test_data_start_is_a_date_before_the_epoch(catalog: Catalog) -> None:
    epoch = datetime.fromtimestamp(CATALOG_EPOCH_NS // 10**9, tz=UTC).date().isoformat()
    for exchange in catalog.exchanges:
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", exchange.data_start)
        assert exchange.data_start < epoch


def test_more_exchanges_than_the_real_list_adds_generated_venues() -> None:
    config = CatalogConfig(exchanges=460, max_symbols_per_exchange=4)
    catalog = build_catalog(config, seed=5)
    generated = catalog.exchanges[400:]
    assert len(generated) == 60
    assert [e.rank for e in generated] == list(range(401, 461))
    ids = [e.exchange_id for e in catalog.exchanges]
    assert len(set(ids)) == len(ids)
    for exchange in generated:
        assert not exchange.is_real
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(-V[23]-[A-Z]+)?", exchange.exchange_id)
        assert exchange.name and exchange.website and exchange.website.startswith("https://")
        assert 3 <= sum(s.exchange_id == exchange.exchange_id for s in catalog.symbols) <= 7
    assert build_catalog(config, seed=5) == catalog
    assert build_catalog(config, seed=6).exchanges[400:] != generated


def test_fewer_exchanges_truncates_the_real_list() -> None:
    catalog = build_catalog(CatalogConfig(exchanges=3, max_symbols_per_exchange=2))
    assert [e.exchange_id for e in catalog.exchanges] == ["BINANCE", "KRAKEN", "COINBASE"]
    assert {s.exchange_id for s in catalog.symbols} == {"BINANCE", "KRAKEN", "COINBASE"}
    # must-haves are kept even beyond the per-exchange limit (Coinbase has three)
    coinbase = [s.symbol_id for s in catalog.symbols if s.exchange_id == "COINBASE"]
    assert coinbase == ["COINBASE_SPOT_BTC_USD", "COINBASE_SPOT_ETH_USD", "COINBASE_SPOT_BCH_USD"]


@pytest.mark.parametrize("config", [CatalogConfig(exchanges=0), CatalogConfig(max_symbols_per_exchange=0)])
def test_invalid_config_is_rejected(config: CatalogConfig) -> None:
    with pytest.raises(ValueError, match="at least one"):
        build_catalog(config)


def test_assets(catalog: Catalog) -> None:
    assert len(catalog.assets) >= 30
    ids = [a.asset_id for a in catalog.assets]
    for asset_id in ("BTC", "ETH", "USDT", "USDC", "SOL", "XRP", "BNB", "ADA", "DOGE", "LTC", "BCH", "DOT", "LINK"):
        assert asset_id in ids
    for asset_id in ("AVAX", "TRX", "MATIC", "ATOM", "XLM", "ETC", "FIL", "UNI", "AAVE", "NEAR", "APT", "ARB", "OP"):
        assert asset_id in ids
    for fiat in ("USD", "EUR", "GBP", "JPY"):
        asset = catalog.asset(fiat)
        assert asset is not None and not asset.type_is_crypto
    for stable in ("USDT", "USDC"):
        asset = catalog.asset(stable)
        assert asset is not None and asset.is_stablecoin
        assert asset.initial_price_usd == pytest.approx(1.0) and asset.volatility < 0.01
    shib = catalog.asset("SHIB")
    assert shib is not None and shib.initial_price_usd < 1e-4
    btc = catalog.asset("BTC")
    assert btc == Asset("BTC", "Bitcoin", True, 42280.0, 0.55, False, 0.9)
    assert catalog.asset("NOPE") is None


def test_must_have_symbols(catalog: Catalog) -> None:
    for symbol_id in MUST_HAVE:
        assert catalog.symbol(symbol_id) is not None, symbol_id
    by_exchange = collections.defaultdict(list)
    for s in catalog.symbols:
        by_exchange[s.exchange_id].append(s)
    assert {s.symbol_type for s in by_exchange["BINANCEFTS"]} == {SymbolType.PERPETUAL, SymbolType.FUTURES}
    deribit_options = {s.asset_id_base for s in by_exchange["DERIBIT"] if s.symbol_type is SymbolType.OPTION}
    assert {"BTC", "ETH"} <= deribit_options
    assert catalog.symbol("NOPE") is None


def test_symbol_ids_follow_the_protocol_and_are_unique(catalog: Catalog) -> None:
    ids = [s.symbol_id for s in catalog.symbols]
    assert len(set(ids)) == len(ids)
    asset_ids = {a.asset_id for a in catalog.assets}
    exchange_ids = {e.exchange_id for e in catalog.exchanges}
    for s in catalog.symbols:
        assert ID_PATTERNS[s.symbol_type].match(s.symbol_id), s.symbol_id
        assert s.exchange_id in exchange_ids
        assert s.symbol_id.startswith(f"{s.exchange_id}_{s.symbol_type.id_part}_{s.asset_id_base}_{s.asset_id_quote}")
        assert {s.asset_id_base, s.asset_id_quote} <= asset_ids
        assert s.symbol_id_exchange
        assert s.trade_rate > 0 and s.book_rate > 0


def test_catalogue_size_and_activity_tiers(catalog: Catalog) -> None:
    assert 3000 <= len(catalog.symbols) <= 5000
    counts = collections.Counter(s.exchange_id for s in catalog.symbols)
    assert counts["BINANCE"] == 60
    assert max(counts.values()) <= 60
    # the long tail lists a few symbols each (a handful of well-known derivative venues list more)
    tail = [counts[e.exchange_id] for e in catalog.exchanges if e.rank > 60]
    assert sum(3 <= n <= 10 for n in tail) >= 0.9 * len(tail)
    btc = catalog.symbol("BINANCE_SPOT_BTC_USDT")
    assert btc is not None and btc.trade_rate >= 3 and btc.book_rate > 10
    rates = sorted(s.trade_rate for s in catalog.symbols)
    assert min(rates) >= 0.01
    assert sum(r >= 1 for r in rates) >= 20
    assert sum(0.3 <= r < 1 for r in rates) >= 50
    ranks = {e.exchange_id: e.rank for e in catalog.exchanges}
    famous = {"BINANCEFTSC", "MEXC"}  # hand-profiled venues ranked low in the real list
    long_tail = [s.trade_rate for s in catalog.symbols if ranks[s.exchange_id] > 150 and s.exchange_id not in famous]
    assert min(long_tail) >= 0.02 and max(long_tail) <= 0.1
    # the whole default market stays a few thousand trades and book changes per virtual second
    assert 200 < sum(s.trade_rate for s in catalog.symbols) < 600
    assert sum(s.book_rate for s in catalog.symbols) < 1500


@pytest.mark.parametrize(
    ("symbol_id", "price_decimals", "size_decimals", "ticker"),
    [
        ("BINANCE_SPOT_BTC_USDT", 2, 8, "BTCUSDT"),
        ("COINBASE_SPOT_BTC_USD", 2, 8, "BTC-USD"),
        ("BITSTAMP_SPOT_XRP_USD", 4, 3, "xrpusd"),
        ("BINANCE_SPOT_SHIB_USDT", 8, 0, "SHIBUSDT"),
        ("KRAKEN_SPOT_BTC_EUR", 2, 8, "XXBTZEUR"),
        ("BITMEX_PERP_BTC_USD", 2, 0, "XBTUSD"),
        ("KRAKENFTS_PERP_BTC_USD", 2, 0, "PI_XBTUSD"),
        ("POLONIEX_SPOT_LTC_USDC", 2, 5, "LTC_USDC"),
        ("ECB_SPOT_EUR_USD", 5, 4, "EURUSD"),
        ("UPBIT_SPOT_BTC_KRW", 0, 8, "KRW-BTC"),
    ],
)
def test_precisions_and_tickers(
    catalog: Catalog, symbol_id: str, price_decimals: int, size_decimals: int, ticker: str
) -> None:
    symbol = catalog.symbol(symbol_id)
    assert symbol is not None
    assert (symbol.price_decimals, symbol.size_decimals, symbol.symbol_id_exchange) == (
        price_decimals,
        size_decimals,
        ticker,
    )


def test_derivative_fields(catalog: Catalog) -> None:
    for s in catalog.symbols:
        if s.symbol_type is SymbolType.SPOT:
            assert (s.expiry_ns, s.option_strike, s.contract_unit) == (None, None, None)
            continue
        assert s.contract_unit is not None and s.contract_unit > 0
        assert s.contract_unit_asset in (s.asset_id_base, s.asset_id_quote)
        if s.symbol_type is SymbolType.PERPETUAL:
            assert s.expiry_ns is None
            continue
        assert s.expiry_ns is not None and s.expiry_ns > CATALOG_EPOCH_NS
        day = datetime.fromtimestamp(s.expiry_ns / 1e9, tz=UTC)
        assert (day.hour, day.weekday()) == (8, 4)  # Friday 08:00 UTC
        assert f"_{day:%y%m%d}" in s.symbol_id
        if s.symbol_type is SymbolType.OPTION:
            assert s.option_strike is not None and s.option_is_call is not None
            assert s.symbol_id.endswith(f"_{int(s.option_strike)}_{'C' if s.option_is_call else 'P'}")
    bitmex = catalog.symbol("BITMEX_PERP_BTC_USD")
    assert bitmex is not None and (bitmex.contract_unit, bitmex.contract_unit_asset) == (1.0, "USD")


def test_expiries_follow_the_epoch() -> None:
    config = CatalogConfig(exchanges=9, max_symbols_per_exchange=60, epoch_ns=expiry_ns(datetime(2025, 8, 1).date()))
    catalog = build_catalog(config)
    deribit = [s for s in catalog.symbols if s.exchange_id == "DERIBIT" and s.expiry_ns is not None]
    assert deribit
    assert {s.symbol_id.split("_")[4] for s in deribit if s.symbol_type is SymbolType.FUTURES} == {"250926", "251226"}
    assert min(s.expiry_ns or 0 for s in deribit) > config.epoch_ns
    # an epoch just after a month's last Friday rolls over to the next month
    late = build_catalog(CatalogConfig(exchanges=9, epoch_ns=expiry_ns(datetime(2024, 3, 30).date())))
    assert {s.symbol_id.split("_")[4] for s in late.symbols if s.symbol_type is SymbolType.OPTION} == {
        "240405",
        "240426",
        "240628",
    }


def test_fiat_venues_list_a_handful_of_fiat_pairs(catalog: Catalog) -> None:
    for exchange_id in ("CENTRALBANKS", "ECB"):
        symbols = [s for s in catalog.symbols if s.exchange_id == exchange_id]
        assert 3 <= len(symbols) <= 6
        for s in symbols:
            base, quote = catalog.asset(s.asset_id_base), catalog.asset(s.asset_id_quote)
            assert base is not None and quote is not None
            assert not base.type_is_crypto and not quote.type_is_crypto


def test_deterministic_and_seed_dependent(catalog: Catalog) -> None:
    assert build_catalog(CatalogConfig(), seed=0) == catalog
    other = build_catalog(CatalogConfig(), seed=1)
    assert [s.symbol_id for s in other.symbols] != [s.symbol_id for s in catalog.symbols]
    # the big venues' lists do not depend on the seed
    big = [s.symbol_id for s in catalog.symbols if s.exchange_id == "BINANCE"]
    assert big == [s.symbol_id for s in other.symbols if s.exchange_id == "BINANCE"]


def test_catalog_rejects_duplicate_ids(catalog: Catalog) -> None:
    symbol: Symbol = catalog.symbols[0]
    with pytest.raises(ValueError, match="duplicate"):
        Catalog(catalog.exchanges, catalog.assets, (symbol, symbol))


def test_symbol_type_id_parts() -> None:
    assert [t.id_part for t in SymbolType] == ["SPOT", "PERP", "FTS", "OPT"]
