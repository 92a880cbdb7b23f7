from __future__ import annotations

import math

import pytest

from coinapi_emulator.simulator.catalog import CatalogConfig, build_catalog
from coinapi_emulator.simulator.events import Trade
from coinapi_emulator.simulator.market import Market
from coinapi_emulator.simulator.scenario import Halt, PriceJump, SpreadWidening, VolatilityBurst

START = 1_704_067_200_000_000_000
S = 1_000_000_000
CATALOG = build_catalog(CatalogConfig(exchanges=12))
BTC = "BINANCE_SPOT_BTC_USDT"


def market() -> Market:
    return Market(CATALOG, seed=3, start_ns=START)


def test_price_jump_moves_the_reference_rate_once() -> None:
    m = market()
    before = m.rate_usd("BTC")
    jump = PriceJump("BTC", -10.0)
    jump.start(m)
    jump.end(m)  # a gap is permanent: ending it changes nothing
    assert m.rate_usd("BTC") == pytest.approx(before * 0.9, rel=1e-9)
    with pytest.raises(ValueError, match="cannot fall"):
        m.jump_price("BTC", -100.0)


def test_volatility_burst_sets_and_resets_the_multiplier() -> None:
    m = market()
    burst = VolatilityBurst("ETH", 4.0)
    burst.start(m)
    factor = m.asset_factor("ETH")
    assert factor is not None and factor.volatility_multiplier == 4.0
    burst.end(m)
    assert factor.volatility_multiplier == 1.0
    with pytest.raises(ValueError, match="no price factor"):
        VolatilityBurst("USD", 2.0).start(m)


def test_halt_stops_a_symbol_and_end_restarts_it() -> None:
    m = market()
    halt = Halt((BTC,))
    halt.start(m)
    assert not [e for e in m.advance(START + 5 * S) if getattr(e, "symbol_id", None) == BTC]
    halt.end(m)
    assert any(isinstance(e, Trade) and e.symbol_id == BTC for e in m.advance(START + 10 * S))


def test_spread_widening_sets_and_resets() -> None:
    m = market()
    widening = SpreadWidening((BTC,), 25.0)
    widening.start(m)
    assert m.symbol_state(BTC).spread_multiplier == 25.0
    widening.end(m)
    assert m.symbol_state(BTC).spread_multiplier == 1.0


def test_jump_is_deterministic() -> None:
    a, b = market(), market()
    for m in (a, b):
        list(m.advance(START + 2 * S))
        m.jump_price("SOL", 5.0)
    assert math.isclose(a.rate_usd("SOL"), b.rate_usd("SOL"))
