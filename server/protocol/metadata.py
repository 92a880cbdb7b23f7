"""Metadata objects (exchange, asset, symbol) as REST returns them and as ``exchange``/``asset``/``symbol`` messages.

One place builds them (PROTOCOL.md §7.1-7.3); REST serializes lists of them and a market plane wraps one with its
``type`` for a WebSocket message (§3.8). Decimal fields go through ``orjson.Fragment`` so precisions and prices are
plain tokens (``0.00000001``, never ``1e-08``). Volumes are estimates from each symbol's configured activity,
not from the live market (documented in README "How it differs from the real feed").
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

import orjson

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.encode import format_fixed, format_significant, format_time
from coinapi_emulator.simulator.catalog import Asset, Catalog, Exchange, Symbol, SymbolType

JsonObject = dict[str, Any]

#: assumed average trade notional, USD, to turn a symbol's trade rate into volume estimates
_AVERAGE_TRADE_USD = 1_500.0
_SECONDS_PER_DAY = 86_400
_NS_PER_S = 1_000_000_000


def _decimal(text: str) -> orjson.Fragment:
    return orjson.Fragment(text.encode())


def _date(ns: int) -> str:
    return dt.datetime.fromtimestamp(ns // _NS_PER_S, tz=dt.UTC).strftime("%Y-%m-%d")


class MarketView(Protocol):
    """What the objects read of a market now (``simulator.market.Market`` has it)."""

    @property
    def now_ns(self) -> int:
        """Virtual time of the market."""

    def rate_usd(self, asset_id: str) -> float:
        """The asset's rate to USD now."""

    def last_price_ticks(self, symbol_id: str) -> int:
        """The symbol's last price in ticks."""


class Metadata:
    """Builds metadata objects from the catalogue and the market's current state."""

    def __init__(self, catalog: Catalog, market: MarketView) -> None:
        self._catalog = catalog
        self._market = market
        self._symbols_by_exchange: dict[str, list[Symbol]] = {}
        self._symbols_by_asset: dict[str, list[Symbol]] = {}
        for symbol in catalog.symbols:
            self._symbols_by_exchange.setdefault(symbol.exchange_id, []).append(symbol)
            self._symbols_by_asset.setdefault(symbol.asset_id_base, []).append(symbol)
            self._symbols_by_asset.setdefault(symbol.asset_id_quote, []).append(symbol)

    def symbols_of_exchange(self, exchange_id: str) -> list[Symbol]:
        """The exchange's symbols in catalogue order."""
        return self._symbols_by_exchange.get(exchange_id, [])

    def payload(self, data_type: DataType, entity_id: str) -> bytes:
        """The WebSocket message of one metadata entity: the REST object plus ``type`` (PROTOCOL.md §3.8)."""
        builders = {DataType.EXCHANGE: self._exchange_by_id, DataType.ASSET: self._asset_by_id}
        build = builders.get(data_type, self._symbol_by_id)
        return orjson.dumps({"type": data_type.value, **build(entity_id)})

    def _exchange_by_id(self, exchange_id: str) -> JsonObject:
        exchange = self._catalog.exchange(exchange_id)
        assert exchange is not None, exchange_id
        return self.exchange(exchange)

    def _asset_by_id(self, asset_id: str) -> JsonObject:
        asset = self._catalog.asset(asset_id)
        assert asset is not None, asset_id
        return self.asset(asset)

    def _symbol_by_id(self, symbol_id: str) -> JsonObject:
        symbol = self._catalog.symbol(symbol_id)
        assert symbol is not None, symbol_id
        return self.symbol(symbol)

    # -- objects ----------------------------------------------------------------------------------------------

    def _data_range(self, data_start: str) -> JsonObject:
        start_time = f"{data_start}T00:00:00.0000000Z"
        end_time = format_time(self._market.now_ns)
        fields: JsonObject = {"data_start": data_start, "data_end": _date(self._market.now_ns)}
        for kind in ("quote", "orderbook", "trade"):
            fields[f"data_{kind}_start"] = start_time
            fields[f"data_{kind}_end"] = end_time
        return fields

    def _volume_usd_per_day(self, symbols: list[Symbol]) -> float:
        return sum(symbol.trade_rate for symbol in symbols) * _SECONDS_PER_DAY * _AVERAGE_TRADE_USD

    def _usd_volumes(self, per_day: float) -> JsonObject:
        return {
            "volume_1hrs_usd": _decimal(format_fixed(round(per_day / 24 * 100), 2)),
            "volume_1day_usd": _decimal(format_fixed(round(per_day * 100), 2)),
            "volume_1mth_usd": _decimal(format_fixed(round(per_day * 30 * 100), 2)),
        }

    def exchange(self, exchange: Exchange) -> JsonObject:
        """PROTOCOL.md §7.1."""
        symbols = self.symbols_of_exchange(exchange.exchange_id)
        return {
            "exchange_id": exchange.exchange_id,
            "website": exchange.website,
            "name": exchange.name,
            **self._data_range(exchange.data_start),
            "data_symbols_count": len(symbols),
            **self._usd_volumes(self._volume_usd_per_day(symbols)),
            "rank": exchange.rank,
            "integration_status": "INTEGRATED",
        }

    def asset(self, asset: Asset) -> JsonObject:
        """PROTOCOL.md §7.3."""
        symbols = self._symbols_by_asset.get(asset.asset_id, [])
        data_start = min((self._exchange_start(symbol) for symbol in symbols), default="2010-07-17")
        return {
            "asset_id": asset.asset_id,
            "name": asset.name,
            "type_is_crypto": int(asset.type_is_crypto),
            **self._data_range(data_start),
            "data_symbols_count": len(symbols),
            **self._usd_volumes(self._volume_usd_per_day(symbols)),
            "price_usd": _decimal(format_significant(self._market.rate_usd(asset.asset_id))),
        }

    def _exchange_start(self, symbol: Symbol) -> str:
        exchange = self._catalog.exchange(symbol.exchange_id)
        return exchange.data_start if exchange is not None else "2010-07-17"

    def symbol(self, symbol: Symbol) -> JsonObject:
        """PROTOCOL.md §7.2, with the per-type extras of §4.4."""
        per_day_usd = self._volume_usd_per_day([symbol])
        base_usd = self._market.rate_usd(symbol.asset_id_base) or 1.0
        per_day_base = per_day_usd / base_usd
        price_ticks = self._market.last_price_ticks(symbol.symbol_id)
        fields: JsonObject = {
            "symbol_id": symbol.symbol_id,
            "exchange_id": symbol.exchange_id,
            "symbol_type": symbol.symbol_type.value,
            "asset_id_base": symbol.asset_id_base,
            "asset_id_quote": symbol.asset_id_quote,
            "asset_id_unit": symbol.contract_unit_asset or symbol.asset_id_base,
            **self._data_range(self._exchange_start(symbol)),
            "volume_1hrs": _decimal(format_significant(per_day_base / 24)),
            "volume_1hrs_usd": _decimal(format_fixed(round(per_day_usd / 24 * 100), 2)),
            "volume_1day": _decimal(format_significant(per_day_base)),
            "volume_1day_usd": _decimal(format_fixed(round(per_day_usd * 100), 2)),
            "volume_1mth": _decimal(format_significant(per_day_base * 30)),
            "volume_1mth_usd": _decimal(format_fixed(round(per_day_usd * 30 * 100), 2)),
            "price": _decimal(format_fixed(price_ticks, symbol.price_decimals)),
            "symbol_id_exchange": symbol.symbol_id_exchange,
            "asset_id_base_exchange": symbol.asset_id_base,
            "asset_id_quote_exchange": symbol.asset_id_quote,
            "price_precision": _decimal(format_fixed(1, symbol.price_decimals)),
            "size_precision": _decimal(format_fixed(1, symbol.size_decimals)),
        }
        fields.update(_derivative_fields(symbol))
        return fields


def _derivative_fields(symbol: Symbol) -> JsonObject:
    fields: JsonObject = {}
    if symbol.symbol_type in (SymbolType.PERPETUAL, SymbolType.FUTURES) and symbol.contract_unit is not None:
        fields["future_contract_unit"] = _decimal(format_significant(symbol.contract_unit))
        fields["future_contract_unit_asset"] = symbol.contract_unit_asset
    if symbol.symbol_type is SymbolType.FUTURES and symbol.expiry_ns is not None:
        fields["future_delivery_time"] = format_time(symbol.expiry_ns)
    if symbol.symbol_type is SymbolType.OPTION:
        fields["option_type_is_call"] = symbol.option_is_call
        fields["option_strike_price"] = _decimal(format_significant(symbol.option_strike or 0.0))
        fields["option_contract_unit"] = _decimal(format_significant(symbol.contract_unit or 1.0))
        fields["option_exercise_style"] = "EUROPEAN"
        if symbol.expiry_ns is not None:
            fields["option_expiration_time"] = format_time(symbol.expiry_ns)
    return fields
