"""REST symbol filters through the catalogue's indexes (issue 14, item 7: 7,000 prefixes once cost 1.5 s of
event loop): the same answers as the straightforward rule below, for any filters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.http.app import create_app
from coinapi_emulator.server.protocol.rest_query import select_symbols
from coinapi_emulator.server.protocol.routes import CatalogIndex
from coinapi_emulator.simulator.catalog import CatalogConfig, Symbol, build_catalog

CATALOG = build_catalog(CatalogConfig(exchanges=30, max_symbols_per_exchange=20), seed=0)
INDEX = CatalogIndex(CATALOG)
KEY = {"X-CoinAPI-Key": "k"}


def passes(symbol: Symbol, prefixes: list[str], exchange_ids: list[str], asset_ids: list[str]) -> bool:
    """The rule of PROTOCOL.md §7: every given kind must match; prefixes are prefixes ('$' has no meaning)."""
    if prefixes and not any(symbol.symbol_id.startswith(prefix) for prefix in prefixes):
        return False
    if exchange_ids and symbol.exchange_id not in exchange_ids:
        return False
    return not asset_ids or symbol.asset_id_base in asset_ids or symbol.asset_id_quote in asset_ids


ids = st.sampled_from([s.symbol_id for s in CATALOG.symbols])
prefixes = st.lists(st.one_of(ids.map(lambda sid: sid[: len(sid) // 2]), ids, st.text(max_size=6)), max_size=4)
exchanges = st.lists(st.one_of(st.sampled_from([e.exchange_id for e in CATALOG.exchanges]), st.text(max_size=4)))
assets = st.lists(st.one_of(st.sampled_from([a.asset_id for a in CATALOG.assets]), st.just("BTC/USD")), max_size=3)


@settings(deadline=None, max_examples=300)
@given(prefixes, exchanges.map(lambda e: e[:3]), assets, st.booleans())
def test_the_indexes_select_what_the_rule_selects_in_catalogue_order(
    prefix_list: list[str], exchange_list: list[str], asset_list: list[str], one_exchange: bool
) -> None:
    within = [s for s in CATALOG.symbols if s.exchange_id == "BINANCE"] if one_exchange else None
    expected = [s for s in (within or CATALOG.symbols) if passes(s, prefix_list, exchange_list, asset_list)]
    got = select_symbols(INDEX, within=within, prefixes=prefix_list, exchange_ids=exchange_list, asset_ids=asset_list)
    assert got == expected


def test_a_filter_list_longer_than_the_limit_gets_400() -> None:
    settings_ = Settings(start_time_ns=1_704_067_200_000_000_000, exchanges=3, max_filter_values=100)
    with TestClient(create_app(settings_)) as client:
        many = ";".join(f"X{n}_" for n in range(101))
        response = client.get(f"/v1/symbols?filter_symbol_id={many}", headers=KEY)
        assert response.status_code == 400
        assert response.json() == {"error": "filter_symbol_id has 101 entries, at most 100 (--max-filter-values)"}
        assert client.get(f"/v1/symbols?filter_symbol_id={many[:300]}", headers=KEY).status_code == 200


@pytest.mark.parametrize("path", ["/v1/exchanges", "/v1/assets", "/v1/exchangerate/BTC"])
def test_every_list_filter_is_capped(path: str) -> None:
    settings_ = Settings(start_time_ns=1_704_067_200_000_000_000, exchanges=3, max_filter_values=2)
    name = "filter_exchange_id" if "exchanges" in path else "filter_asset_id"
    with TestClient(create_app(settings_)) as client:
        assert client.get(f"{path}?{name}=A;B;C", headers=KEY).status_code == 400
        assert client.get(f"{path}?{name}=A;B", headers=KEY).status_code == 200
