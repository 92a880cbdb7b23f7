from __future__ import annotations

import random
import re
from datetime import date

import pytest

from coinapi_emulator.simulator.venues import (
    FIAT,
    FTS,
    OPT,
    PERP,
    SPOT,
    exchange_symbol_id,
    generate_venue,
    is_dex_id,
    venue_profile,
)

MAR29 = date(2024, 3, 29)


@pytest.mark.parametrize(
    ("style", "kind", "base", "quote", "expected"),
    [
        ("binance", SPOT, "BTC", "USDT", "BTCUSDT"),
        ("binance", PERP, "BTC", "USDT", "BTCUSDT"),
        ("binance", FTS, "BTC", "USDT", "BTCUSDT_240329"),
        ("binance", OPT, "BTC", "USDT", "BTC-240329-45000-C"),
        ("binance_coin", PERP, "BTC", "USD", "BTCUSD_PERP"),
        ("binance_coin", FTS, "BTC", "USD", "BTCUSD_240329"),
        ("kraken", SPOT, "BTC", "USD", "XXBTZUSD"),
        ("kraken", SPOT, "ETH", "BTC", "XETHXXBT"),
        ("kraken", SPOT, "BTC", "USDT", "XBTUSDT"),
        ("kraken", SPOT, "SOL", "EUR", "SOLEUR"),
        ("kraken", SPOT, "DOGE", "USD", "XDGUSD"),
        ("krakenfts", PERP, "BTC", "USD", "PI_XBTUSD"),
        ("krakenfts", FTS, "BTC", "USD", "FI_XBTUSD_240329"),
        ("dash", SPOT, "BTC", "USD", "BTC-USD"),
        ("dash", PERP, "BTC", "USDT", "BTC-USDT-SWAP"),
        ("dash", FTS, "BTC", "USD", "BTC-USD-240329"),
        ("dash", OPT, "BTC", "USD", "BTC-USD-240329-45000-C"),
        ("lower", SPOT, "BTC", "USD", "btcusd"),
        ("lower", PERP, "BTC", "USD", "BTCUSD-PERP"),
        ("lower", FTS, "BTC", "USD", "BTCUSD_240329"),
        ("under", SPOT, "LTC", "USDC", "LTC_USDC"),
        ("under", PERP, "BTC", "USDT", "BTC_USDT"),
        ("under", FTS, "BTC", "USDT", "BTC_USDT_240329"),
        ("slash", SPOT, "BTC", "USD", "BTC/USD"),
        ("upbit", SPOT, "BTC", "KRW", "KRW-BTC"),
        ("bitfinex", SPOT, "BTC", "USD", "tBTCUSD"),
        ("bitfinex", SPOT, "DOGE", "USD", "tDOGE:USD"),
        ("bitmex", PERP, "BTC", "USD", "XBTUSD"),
        ("bitmex", PERP, "ETH", "USDT", "ETHUSDT"),
        ("bitmex", FTS, "BTC", "USD", "XBTH24"),
        ("deribit", PERP, "BTC", "USD", "BTC-PERPETUAL"),
        ("deribit", PERP, "SOL", "USDC", "SOL_USDC-PERPETUAL"),
        ("deribit", FTS, "ETH", "USD", "ETH-29MAR24"),
        ("deribit", OPT, "BTC", "USD", "BTC-29MAR24-45000-C"),
        ("fiat", SPOT, "EUR", "USD", "EURUSD"),
    ],
)
def test_exchange_symbol_id_styles(style: str, kind: str, base: str, quote: str, expected: str) -> None:
    assert exchange_symbol_id(style, kind, base, quote, expiry=MAR29, strike="45000") == expected


def test_put_and_dex_tickers() -> None:
    assert exchange_symbol_id("deribit", OPT, "ETH", "USD", expiry=MAR29, strike="2300", is_call=False) == (
        "ETH-29MAR24-2300-P"
    )
    pool = exchange_symbol_id("dex", SPOT, "ETH", "USDC", symbol_id="UNISWAP-V3-ETHEREUM_SPOT_ETH_USDC")
    assert re.fullmatch(r"0x[0-9a-f]{40}", pool)
    assert pool == exchange_symbol_id("dex", SPOT, "ETH", "USDC", symbol_id="UNISWAP-V3-ETHEREUM_SPOT_ETH_USDC")


@pytest.mark.parametrize(
    ("exchange_id", "kinds"),
    [
        ("BINANCE", (SPOT,)),
        ("ECB", (FIAT,)),
        ("DERIBIT", (PERP, FTS, OPT)),
        ("SOMEOPT", (OPT,)),
        ("SOMEOPTV", (OPT,)),
        ("SOMEFTS", (PERP, FTS)),
        ("SOMEFTSC", (PERP, FTS)),
        ("SOMEPERP", (PERP,)),
        ("HYPERLIQUID", (PERP,)),
        ("UNISWAP-V3-ARBITRUM", (SPOT,)),
        ("SOMEEXCHANGE", (SPOT,)),
    ],
)
def test_venue_profiles(exchange_id: str, kinds: tuple[str, ...]) -> None:
    profile = venue_profile(exchange_id, 200, random.Random(0))
    assert profile.kinds == kinds
    assert profile.activity >= 0
    if SPOT in kinds:
        assert profile.quotes
    if {PERP, FTS, OPT} & set(kinds):
        assert profile.deriv_quotes


def test_dex_ids() -> None:
    assert is_dex_id("UNISWAP-V3-ETHEREUM")
    assert is_dex_id("CURVE-FINANCE-ETHEREUM")
    assert not is_dex_id("BINANCE")


def test_generated_venues_are_unique_and_plausible() -> None:
    rng = random.Random(1)
    taken = {"BINANCE"}
    venues = [generate_venue(rng, taken) for _ in range(300)]
    ids = [v.exchange_id for v in venues]
    assert len(set(ids)) == 300 and "BINANCE" not in ids
    assert taken == set(ids) | {"BINANCE"}
    assert any("-V" in i for i in ids) and any("-" not in i for i in ids)
    for v in venues:
        assert re.fullmatch(r"[A-Z]+(-V[23]-[A-Z]+)?", v.exchange_id)
        assert v.website.startswith("https://") and v.name[0].isupper()
