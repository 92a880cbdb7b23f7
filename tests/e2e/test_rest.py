"""The REST metadata API (PROTOCOL.md §7) of a real ``coinapi-emulator serve`` process, through httpx."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from .processes import RunningServer
from .support import API_KEY, BAD_KEY, assert_valid, schema

pytestmark = pytest.mark.e2e

Symbols = dict[str, dict[str, Any]]

#: PROTOCOL.md §8: the real list, ordered by rank (the package's copy of it)
EXCHANGES_JSON: Final = Path(__file__).resolve().parents[2] / "simulator" / "data" / "exchanges.json"
FIRST_EXCHANGES: Final = [
    {"exchange_id": "BINANCE", "name": "Binance", "website": "https://www.binance.com/"},
    {"exchange_id": "KRAKEN", "name": "Kraken", "website": "https://www.kraken.com/"},
    {"exchange_id": "COINBASE", "name": "Coinbase Pro (GDAX)", "website": "https://pro.coinbase.com/"},
]
#: PROTOCOL.md §4.5, in its order (the same list as the period_id enum of server/protocol/schemas/common.json)
ALL_PERIOD_IDS: Final = schema("common")["$defs"]["period_id"]["enum"]
#: a number token with an exponent, outside strings (good enough for bodies whose strings hold no digits+e)
EXPONENT: Final = re.compile(r"[:\[,]\s*-?\d+(?:\.\d+)?[eE]")


@pytest.fixture(scope="module")
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.http_url, headers={"X-CoinAPI-Key": API_KEY}, timeout=30) as http:
        yield http


@pytest.fixture(scope="module")
def keyed_client(keyed_server: RunningServer) -> Iterator[httpx.Client]:
    """No key by default: each test sends its own."""
    with httpx.Client(base_url=keyed_server.http_url, timeout=30) as http:
        yield http


def get_json(client: httpx.Client, path: str, **params: str) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json")
    assert not EXPONENT.search(response.text), f"{path}: a number with an exponent"
    return response.json()


def assert_error(response: httpx.Response, status: int) -> str:
    """``response`` is CoinAPI's error shape with ``status``; returns the text."""
    assert response.status_code == status, f"{response.status_code} {response.text[:300]}"
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert_valid("rest_error", body)
    text: str = body["error"]
    return text


# -- service --------------------------------------------------------------------------------------------------


def test_health(client: httpx.Client) -> None:
    assert get_json(client, "/health") == {"status": "ok"}


def test_health_and_metrics_need_no_key(keyed_client: httpx.Client) -> None:
    assert keyed_client.get("/health").status_code == 200
    families = {family.name for family in text_string_to_metric_families(keyed_client.get("/metrics").text)}
    assert {"coinapi_emulator_sent_messages", "coinapi_emulator_connections", "process_cpu_seconds"} <= families


# -- exchanges ------------------------------------------------------------------------------------------------


def test_exchanges_list_the_real_venues_first(client: httpx.Client) -> None:
    exchanges = get_json(client, "/v1/exchanges")
    assert len(exchanges) >= 370
    for exchange in exchanges:
        assert_valid("rest_exchange", exchange)
    ids = [exchange["exchange_id"] for exchange in exchanges]
    assert len(ids) == len(set(ids)), "duplicate exchange ids"
    first = [{key: exchange[key] for key in ("exchange_id", "name", "website")} for exchange in exchanges[:3]]
    assert first == FIRST_EXCHANGES


def test_exchanges_carry_the_real_names_and_websites(client: httpx.Client) -> None:
    real = {entry["exchange_id"]: entry for entry in json.loads(EXCHANGES_JSON.read_text(encoding="utf-8"))}
    served = {exchange["exchange_id"]: exchange for exchange in get_json(client, "/v1/exchanges")}
    for exchange_id, entry in real.items():
        assert exchange_id in served, exchange_id
        assert (served[exchange_id].get("name"), served[exchange_id].get("website")) == (
            entry["name"],
            entry["website"],
        )


def test_one_exchange(client: httpx.Client) -> None:
    answer = get_json(client, "/v1/exchanges/BITSTAMP")
    assert isinstance(answer, list) and len(answer) == 1
    assert_valid("rest_exchange", answer[0])
    assert (answer[0]["exchange_id"], answer[0]["name"]) == ("BITSTAMP", "Bitstamp Ltd.")


def test_exchanges_filter(client: httpx.Client) -> None:
    answer = get_json(client, "/v1/exchanges", filter_exchange_id="KRAKEN;BITSTAMP")
    assert {exchange["exchange_id"] for exchange in answer} == {"KRAKEN", "BITSTAMP"}


# -- symbols --------------------------------------------------------------------------------------------------


def test_all_symbols_match_the_schema(client: httpx.Client) -> None:
    symbols = get_json(client, "/v1/symbols")
    assert symbols
    for symbol in symbols:
        assert_valid("rest_symbol", symbol)
    ids = [symbol["symbol_id"] for symbol in symbols]
    assert len(ids) == len(set(ids)), "duplicate symbol ids"


@pytest.mark.parametrize(
    "filter_symbol_id",
    ["BITSTAMP_", "BITSTAMP_;COINBASE_", "BITSTAMP_,COINBASE_", "BINANCE_SPOT_"],
    ids=["one-prefix", "semicolon-list", "comma-list", "type-prefix"],
)
def test_symbols_filter_by_id_prefixes(client: httpx.Client, filter_symbol_id: str) -> None:
    prefixes = tuple(filter_symbol_id.replace(";", ",").split(","))
    selected = get_json(client, "/v1/symbols", filter_symbol_id=filter_symbol_id)
    everything = get_json(client, "/v1/symbols")
    assert selected
    assert [s["symbol_id"] for s in selected] == [
        s["symbol_id"] for s in everything if s["symbol_id"].startswith(prefixes)
    ]
    for prefix in prefixes:
        assert any(symbol["symbol_id"].startswith(prefix) for symbol in selected), prefix


def test_symbols_of_one_exchange(client: httpx.Client, symbols: Symbols) -> None:
    of_exchange = get_json(client, "/v1/symbols/BINANCE")
    assert of_exchange
    assert {symbol["exchange_id"] for symbol in of_exchange} == {"BINANCE"}
    assert [s["symbol_id"] for s in of_exchange] == [i for i, s in symbols.items() if s["exchange_id"] == "BINANCE"]


def test_symbols_filter_by_exchange(client: httpx.Client, symbols: Symbols) -> None:
    filtered = get_json(client, "/v1/symbols", filter_exchange_id="BINANCE;KRAKEN")
    expected = [i for i, s in symbols.items() if s["exchange_id"] in ("BINANCE", "KRAKEN")]
    assert [s["symbol_id"] for s in filtered] == expected


def test_active_symbols_of_one_exchange_with_prefix(client: httpx.Client) -> None:
    active = get_json(client, "/v1/symbols/BINANCE/active", filter_symbol_id="BINANCE_SPOT_BTC")
    assert active
    assert all(symbol["symbol_id"].startswith("BINANCE_SPOT_BTC") for symbol in active)
    assert "BINANCE_SPOT_BTC_USDT" in {symbol["symbol_id"] for symbol in active}


def test_symbols_filter_by_asset(client: httpx.Client) -> None:
    selected = get_json(client, "/v1/symbols", filter_asset_id="ETH")
    assert selected
    assert all("ETH" in (symbol["asset_id_base"], symbol["asset_id_quote"]) for symbol in selected)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/v1/symbols/NOSUCHEXCHANGE", "Unknown exchange_id 'NOSUCHEXCHANGE'"),
        ("/v1/exchanges/NOSUCHEXCHANGE", "Unknown exchange_id 'NOSUCHEXCHANGE'"),
        ("/v1/assets/NOSUCHASSET", "Unknown asset_id 'NOSUCHASSET'"),
    ],
    ids=["symbols", "exchange", "asset"],
)
def test_an_unknown_id_is_no_data(client: httpx.Client, path: str, message: str) -> None:
    assert assert_error(client.get(path), 550) == message


def test_a_bearer_token_is_taken_as_the_key(client: httpx.Client) -> None:
    response = httpx.get(str(client.base_url) + "/v1/assets/BTC", headers={"Authorization": "Bearer any-token"})
    assert response.status_code == 200 and response.json()[0]["asset_id"] == "BTC"


# -- assets, rates, periods -----------------------------------------------------------------------------------


def test_assets(client: httpx.Client) -> None:
    assets = get_json(client, "/v1/assets")
    assert len(assets) >= 30
    for asset in assets:
        assert_valid("rest_asset", asset)
    ids = {asset["asset_id"] for asset in assets}
    assert {"BTC", "ETH", "USD", "EUR", "USDT"} <= ids


def test_one_asset(client: httpx.Client) -> None:
    answer = get_json(client, "/v1/assets/BTC")
    assert [asset["asset_id"] for asset in answer] == ["BTC"]
    assert_valid("rest_asset", answer[0])
    assert answer[0]["type_is_crypto"] == 1


def test_exchange_rate_of_a_pair(client: httpx.Client) -> None:
    rate = get_json(client, "/v1/exchangerate/BTC/USD")
    assert_valid("rest_exchangerate", rate)
    assert (rate["asset_id_base"], rate["asset_id_quote"]) == ("BTC", "USD")


def test_exchange_rates_of_a_base(client: httpx.Client) -> None:
    answer = get_json(client, "/v1/exchangerate/BTC")
    assert_valid("rest_exchangerates", answer)
    quotes = {rate["asset_id_quote"] for rate in answer["rates"]}
    assert answer["asset_id_base"] == "BTC"
    assert {"USD", "ETH", "EUR"} <= quotes and "BTC" not in quotes


def test_exchange_rates_filter_and_invert(client: httpx.Client) -> None:
    plain = get_json(client, "/v1/exchangerate/BTC", filter_asset_id="USD")
    inverted = get_json(client, "/v1/exchangerate/BTC", filter_asset_id="USD", invert="true")
    assert [rate["asset_id_quote"] for rate in plain["rates"]] == ["USD"]
    product = plain["rates"][0]["rate"] * inverted["rates"][0]["rate"]
    assert 0.95 < product < 1.05, "invert=true should give about 1/rate (the market moves between the calls)"


def test_ohlcv_periods(client: httpx.Client) -> None:
    periods = get_json(client, "/v1/ohlcv/periods")
    for period in periods:
        assert_valid("rest_ohlcv_period", period)
    by_id = {period["period_id"]: period for period in periods}
    assert list(by_id) == ALL_PERIOD_IDS
    assert (by_id["1SEC"]["length_seconds"], by_id["1MIN"]["length_seconds"], by_id["1DAY"]["length_seconds"]) == (
        1,
        60,
        86_400,
    )
    assert by_id["1MTH"]["length_months"] == 1


# -- errors ---------------------------------------------------------------------------------------------------


def test_unknown_path_is_a_json_404(client: httpx.Client) -> None:
    assert_error(client.get("/v1/no/such/path"), 404)


def test_output_format_other_than_json_is_refused(client: httpx.Client) -> None:
    assert "output_format" in assert_error(client.get("/v1/exchanges", params={"output_format": "xml"}), 400)


def test_output_format_json_is_accepted(client: httpx.Client) -> None:
    assert get_json(client, "/v1/exchanges/KRAKEN", output_format="json")


def test_a_rate_before_the_start_needs_history(client: httpx.Client) -> None:
    response = client.get("/v1/exchangerate/BTC/USD", params={"time": "2023-06-01T00:00:00.0000000Z"})
    assert "--history" in assert_error(response, 400)


@pytest.mark.parametrize(
    "path",
    ["/v1/exchangerate/NOSUCHASSET/USD", "/v1/exchangerate/BTC/NOSUCHASSET", "/v1/exchangerate/NOSUCHASSET"],
    ids=["unknown-base", "unknown-quote", "unknown-base-all-rates"],
)
def test_unknown_asset_rate_is_no_data(client: httpx.Client, path: str) -> None:
    assert "NOSUCHASSET" in assert_error(client.get(path), 550)


# -- API keys (PROTOCOL.md §1.3-1.4, §7) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "params"),
    [({}, {}), ({"X-CoinAPI-Key": BAD_KEY}, {}), ({}, {"apikey": BAD_KEY})],
    ids=["no-key", "wrong-header-key", "wrong-query-key"],
)
def test_refused_key_is_401(keyed_client: httpx.Client, headers: dict[str, str], params: dict[str, str]) -> None:
    response = keyed_client.get("/v1/exchanges/KRAKEN", headers=headers, params=params)
    assert_error(response, 401)
    assert response.json() == {"error": "Invalid API key"}


@pytest.mark.parametrize(
    ("headers", "params"),
    [({"X-CoinAPI-Key": API_KEY}, {}), ({}, {"apikey": API_KEY}), ({"Authorization": API_KEY}, {})],
    ids=["header-key", "query-key", "authorization-key"],
)
def test_accepted_key(keyed_client: httpx.Client, headers: dict[str, str], params: dict[str, str]) -> None:
    response = keyed_client.get("/v1/exchanges/KRAKEN", headers=headers, params=params)
    assert response.status_code == 200, response.text
    assert response.json()[0]["exchange_id"] == "KRAKEN"
