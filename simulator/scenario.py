"""Scripted market conditions: what a scenario event does to the market, as pure state changes.

The server decides *when* (its timeline runs on the virtual clock); this module decides *what*. Each action
is undone by its ``end()`` after the event's duration, except a price jump, which is permanent like a real gap.
"""

from __future__ import annotations

from dataclasses import dataclass

from coinapi_emulator.simulator.market import Market


@dataclass(frozen=True, slots=True)
class PriceJump:
    """The asset's price moves by ``percent`` (e.g. -8.0) on every exchange."""

    asset_id: str
    percent: float

    def start(self, market: Market) -> None:
        """Apply the jump."""
        market.jump_price(self.asset_id, self.percent)

    def end(self, market: Market) -> None:
        """Nothing to undo: a gap is permanent (scenarios schedule no end step for it)."""


@dataclass(frozen=True, slots=True)
class VolatilityBurst:
    """The asset's price shocks are ``multiplier`` times larger until ``end``."""

    asset_id: str
    multiplier: float

    def start(self, market: Market) -> None:
        """Scale the asset's shocks."""
        self._set(market, self.multiplier)

    def end(self, market: Market) -> None:
        """Back to the asset's own volatility."""
        self._set(market, 1.0)

    def _set(self, market: Market, multiplier: float) -> None:
        factor = market.asset_factor(self.asset_id)
        if factor is None:
            raise ValueError(f"asset '{self.asset_id}' has no price factor (the reference currency)")
        factor.volatility_multiplier = multiplier


@dataclass(frozen=True, slots=True)
class Halt:
    """No trades and no book changes on these symbols until ``end``: a trading halt, or an exchange outage."""

    symbol_ids: tuple[str, ...]

    def start(self, market: Market) -> None:
        """Stop the symbols."""
        for symbol_id in self.symbol_ids:
            market.symbol_state(symbol_id).halted = True

    def end(self, market: Market) -> None:
        """Let them trade again."""
        for symbol_id in self.symbol_ids:
            market.symbol_state(symbol_id).halted = False


@dataclass(frozen=True, slots=True)
class SpreadWidening:
    """New touch levels quote ``multiplier`` times wider on these symbols until ``end`` (thin, drained books)."""

    symbol_ids: tuple[str, ...]
    multiplier: float

    def start(self, market: Market) -> None:
        """Widen the spreads."""
        for symbol_id in self.symbol_ids:
            market.symbol_state(symbol_id).spread_multiplier = self.multiplier

    def end(self, market: Market) -> None:
        """Normal spreads."""
        for symbol_id in self.symbol_ids:
            market.symbol_state(symbol_id).spread_multiplier = 1.0


MarketAction = PriceJump | VolatilityBurst | Halt | SpreadWidening
