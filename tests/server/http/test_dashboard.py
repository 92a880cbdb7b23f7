"""The dashboard's page, files and state in-process (tests/e2e/test_dashboard.py drives it in Chromium)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import pytest
from starlette.testclient import TestClient

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.http import dashboard
from coinapi_emulator.server.http.app import create_app

START_NS = 1_704_067_200_000_000_000
ON_THIS_MACHINE: Final[dict[str, Any]] = {"base_url": "http://127.0.0.1:8765", "client": ("127.0.0.1", 50000)}
HELLO = '{"type":"hello","apikey":"k","subscribe_data_type":["trade"],"subscribe_filter_symbol_id":["BINANCE_SPOT_"]}'


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(start_time_ns=START_NS, paused=True, exchanges=5, admin=True)
    with TestClient(create_app(settings), **ON_THIS_MACHINE) as test_client:
        yield test_client


def test_the_page_and_its_files_are_served_from_the_package(client: TestClient) -> None:
    page = client.get("/dashboard")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    for path in (
        "/dashboard/static/dashboard.js",
        "/dashboard/static/dashboard.css",
        "/dashboard/static/vendor/lightweight-charts.standalone.production.js",
    ):
        assert path in page.text
        served = client.get(path)
        assert served.status_code == 200 and len(served.content) > 1000, path
    assert "cdn" not in page.text.lower() and "https://" not in client.get("/dashboard/static/dashboard.js").text
    assert client.get("/dashboard/static/nope.js").status_code == 404


def test_the_state_shows_the_clock_connections_with_scopes_and_messages_by_type(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text(HELLO)
        client.post("/admin/clock/step", json={"seconds": 5})
        state = client.get("/dashboard/state").json()
        ws.receive_text()
    assert (state["time"], state["paused"], state["speed"]) == ("2024-01-01T00:00:05.0000000Z", True, 1.0)
    assert state["admin"] is True and state["admin_token"] is False
    (connection,) = state["connections"]
    assert state["connections_total"] == 1
    assert connection["scope"] == {"trade": {"symbol_id": ["BINANCE_SPOT_"]}} and connection["market"] == "shared"
    assert set(state["routed"]) == {"trade"} and state["routed"]["trade"] > 0
    assert state["default_symbol"] == "BINANCE_SPOT_BTC_USDT" and state["default_symbol"] in state["symbols"]
    assert client.get("/dashboard/state").headers["cache-control"] == "no-store"


def test_a_catalogue_without_the_default_symbol_offers_its_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboard, "DEFAULT_SYMBOL", "NOPE_SPOT_X_Y")
    with TestClient(create_app(Settings(start_time_ns=START_NS, paused=True, exchanges=5))) as client:
        state = client.get("/dashboard/state").json()
    assert state["admin"] is False and 0 < len(state["symbols"]) <= dashboard.CHOOSER_SYMBOLS
    assert state["default_symbol"] == state["symbols"][0]


def test_the_dashboard_can_be_turned_off() -> None:
    with TestClient(create_app(Settings(start_time_ns=START_NS, paused=True, exchanges=5, dashboard=False))) as c:
        assert c.get("/dashboard").status_code == 404 and c.get("/dashboard/state").status_code == 404


def test_a_fleet_is_counted_but_only_the_first_connections_are_listed(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dashboard, "LISTED_CONNECTIONS", 2)
    with client.websocket_connect("/v1/"), client.websocket_connect("/v1/"), client.websocket_connect("/v1/"):
        state = client.get("/dashboard/state").json()
    assert state["connections_total"] == 3 and [c["id"] for c in state["connections"]] == [1, 2]
