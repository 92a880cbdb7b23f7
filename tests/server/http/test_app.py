"""The ASGI app in-process (starlette TestClient): the ASGI fallback sink, routes, REST, error paths."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.app import create_app

START_NS = 1_704_067_200_000_000_000
BTC = "BINANCE_SPOT_BTC_USDT"
KEY = {"X-CoinAPI-Key": "test-key"}


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(Settings(start_time_ns=START_NS, rate_scale=0.5))) as test_client:
        yield test_client


def hello(**fields: Any) -> str:
    return orjson.dumps({"type": "hello", "apikey": "test-key", **fields}).decode()


def receive(ws: Any) -> dict[str, Any]:
    message: dict[str, Any] = orjson.loads(ws.receive_text())
    return message


@pytest.mark.parametrize("path", ["/", "/v1", "/v1/", "/v1/APIKEY-abc", "/APIKEY-abc"])
def test_websocket_answers_on_every_documented_path(client: TestClient, path: str) -> None:
    with client.websocket_connect(path) as ws:
        ws.send_text(hello(subscribe_data_type=["trade"], subscribe_filter_symbol_id=[BTC + "$"]))
        assert receive(ws)["type"] == "trade"


def test_book_starts_with_a_snapshot_then_deltas_in_sequence(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text(hello(subscribe_data_type=["book"], subscribe_filter_symbol_id=[BTC + "$"]))
        first = receive(ws)
        assert first["is_snapshot"] is True and first["asks"] and first["bids"]
        deltas = [receive(ws) for _ in range(5)]
        assert all(delta["is_snapshot"] is False for delta in deltas)
        sequences = [first["sequence"]] + [delta["sequence"] for delta in deltas]
        assert sequences == list(range(sequences[0], sequences[0] + 6))


def test_key_from_upgrade_header_only(client: TestClient) -> None:
    with client.websocket_connect("/v1/", headers=KEY) as ws:
        ws.send_text(
            orjson.dumps(
                {"type": "hello", "subscribe_data_type": ["quote"], "subscribe_filter_symbol_id": [BTC + "$"]}
            ).decode()
        )
        assert receive(ws)["type"] == "quote"


def test_missing_key_gets_invalid_api_key_and_1008(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text(orjson.dumps({"type": "hello", "subscribe_data_type": ["trade"]}).decode())
        assert receive(ws) == {"type": "error", "message": "Invalid API key"}
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_text()
        assert closed.value.code == 1008


@pytest.mark.parametrize(
    "frame",
    [
        "{not json",
        "[]",
        '{"type":"bogus"}',
        '{"type":"hello","apikey":"k","subscribe_data_type":"trade"}',
        '{"type":"hello","apikey":"k","subscribe_data_type":["nope"]}',
        '{"type":"hello","apikey":"k","subscribe_data_type":["book"]}',
    ],
    ids=["malformed", "array", "unknown-type", "wrong-field-type", "unknown-data-type", "book-without-filter"],
)
def test_bad_input_gets_one_error_then_close_and_the_server_keeps_serving(client: TestClient, frame: str) -> None:
    with client.websocket_connect("/v1/") as bystander:
        bystander.send_text(hello(subscribe_data_type=["trade"], subscribe_filter_symbol_id=[BTC + "$"]))
        with client.websocket_connect("/v1/") as ws:
            ws.send_text(frame)
            error = receive(ws)
            assert error["type"] == "error" and error["message"]
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code in (1003, 1008)
        assert receive(bystander)["type"] == "trade"


def test_subscribe_adds_and_hello_replaces(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text(hello(subscribe_data_type=["exchange"], subscribe_filter_exchange_id=["BITSTAMP"]))
        assert receive(ws)["exchange_id"] == "BITSTAMP"
        ws.send_text(
            '{"type":"subscribe","subscribe_data_type":["exchange"],"subscribe_filter_exchange_id":["KRAKEN"]}'
        )
        assert receive(ws)["exchange_id"] == "KRAKEN"
        ws.send_text(hello(subscribe_data_type=["asset"], subscribe_filter_asset_id=["BTC"]))
        assert receive(ws)["asset_id"] == "BTC"


def test_unsubscribe_stops_a_stream(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text(hello(heartbeat=True, subscribe_data_type=["trade"], subscribe_filter_symbol_id=[BTC + "$"]))
        # a loaded machine may run a second of the market without a BTC trade: a heartbeat may come first
        assert "trade" in [receive(ws)["type"] for _ in range(5)]
        ws.send_text(
            f'{{"type":"unsubscribe","subscribe_data_type":["trade"],"subscribe_filter_symbol_id":["{BTC}$"]}}'
        )
        # trades already queued may still arrive; once the stream is silent, only heartbeats (1 s apart) follow
        types = [receive(ws)["type"]]
        while types[-1] != "hearbeat" and len(types) < 200:
            types.append(receive(ws)["type"])
        assert types[-1] == "hearbeat"
        assert [receive(ws)["type"] for _ in range(2)] == ["hearbeat", "hearbeat"]


def test_metadata_snapshot_frames(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text(hello(subscribe_data_type=["symbol"], subscribe_filter_symbol_id=["COINBASE_SPOT_BTC_USD$"]))
        symbol = receive(ws)
        assert symbol["type"] == "symbol" and symbol["symbol_id"] == "COINBASE_SPOT_BTC_USD"
        assert symbol["price_precision"] > 0


def test_heartbeat_on_a_silent_scope(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text(
            hello(
                heartbeat=True,
                subscribe_data_type=["trade"],
                subscribe_filter_exchange_id=["EXCHANGETHATDOESNOTEXISTS"],
            )
        )
        assert receive(ws) == {"type": "hearbeat"}


def test_rest_requires_a_key_when_a_key_file_is_given(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("good\n")
    with TestClient(create_app(Settings(start_time_ns=START_NS, api_keys_file=keys))) as c:
        assert c.get("/v1/assets").json() == {"error": "Invalid API key"}
        assert c.get("/v1/assets", headers={"X-CoinAPI-Key": "bad"}).status_code == 401
        assert c.get("/v1/assets?apikey=good").status_code == 200
        assert c.get("/health").json() == {"status": "ok"}


def test_rest_metadata_and_errors(client: TestClient) -> None:
    exchanges = client.get("/v1/exchanges", headers=KEY).json()
    assert [e["exchange_id"] for e in exchanges[:3]] == ["BINANCE", "KRAKEN", "COINBASE"]
    assert client.get("/v1/exchanges/BITSTAMP", headers=KEY).json()[0]["name"] == "Bitstamp Ltd."
    active = client.get(f"/v1/symbols/BINANCE/active?filter_symbol_id={BTC}", headers=KEY).json()
    assert {s["symbol_id"] for s in active} >= {BTC}
    assert client.get("/v1/symbols/NOPE", headers=KEY).status_code == 550
    rate = client.get("/v1/exchangerate/BTC/USD", headers=KEY).json()
    assert rate["asset_id_base"] == "BTC" and rate["rate"] > 0
    assert client.get("/v1/exchangerate/BTC?time=2020-01-01", headers=KEY).status_code == 400
    assert client.get("/v1/exchangerate/XXX/USD", headers=KEY).status_code == 550
    assert client.get("/v1/assets?output_format=csv", headers=KEY).status_code == 400
    missing = client.get("/v2/nothing", headers=KEY)
    assert missing.status_code == 404 and "error" in missing.json()
    periods = client.get("/v1/ohlcv/periods", headers=KEY).json()
    assert {"period_id": "1MIN", "length_seconds": 60}.items() <= periods[10].items()
    assert client.get("/ready").json()["status"] == "ready"


def test_connections_sending_the_same_hello_share_one_resolved_route_set() -> None:
    emulator = Emulator(Settings(start_time_ns=START_NS, rate_scale=0.5))
    with (
        TestClient(create_app(emulator=emulator)) as client,
        client.websocket_connect("/v1/") as first,
        client.websocket_connect("/v1/") as second,
    ):
        for ws in (first, second):
            ws.send_text(hello(subscribe_data_type=["trade"], subscribe_filter_exchange_id=["BINANCE"]))
            assert receive(ws)["type"] == "trade"
        one, other = emulator.shared.hub.subscribers
        assert one.routes is other.routes and len(one.routes) > 10


def test_ready_answers_503_while_draining_and_for_good_once_the_market_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emulator = Emulator(Settings(start_time_ns=START_NS, exchanges=3, max_symbols_per_exchange=3))
    with TestClient(create_app(emulator=emulator)) as client:
        assert client.get("/ready").status_code == 200
        emulator.draining = True
        assert (client.get("/ready").status_code, client.get("/ready").json()) == (503, {"status": "draining"})
        monkeypatch.setattr(emulator.shared.driver, "failed", True)
        assert (client.get("/ready").status_code, client.get("/ready").json()) == (503, {"status": "failed"})


def test_a_connection_that_sends_no_hello_in_time_is_told_and_closed() -> None:
    settings = Settings(start_time_ns=START_NS, exchanges=3, max_symbols_per_exchange=3, hello_timeout_s=0.2)
    with TestClient(create_app(settings)) as client:
        with client.websocket_connect("/v1/") as ws:
            assert receive(ws) == {"type": "error", "message": "No hello or subscribe within 0.2 s"}
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == 1008
        with client.websocket_connect("/v1/") as ws:  # a hello in time: nothing happens at the deadline
            ws.send_text(hello(subscribe_data_type=["trade"], subscribe_filter_symbol_id=[BTC + "$"]))
            time.sleep(0.4)
            assert receive(ws)["type"] == "trade"


@pytest.mark.parametrize(
    ("limits", "text"),
    [
        ({"max_connections": 2}, "Too many connections (2, --max-connections), try again later"),
        (
            {"max_connections_per_ip": 2},
            "Too many connections from testclient (2, --max-connections-per-ip), try again later",
        ),
    ],
    ids=["in-all", "per-ip"],
)
def test_past_the_connection_limits_the_upgrade_gets_429(limits: dict[str, int], text: str) -> None:
    settings = Settings(start_time_ns=START_NS, exchanges=3, max_symbols_per_exchange=3, **limits)
    with TestClient(create_app(settings)) as client:
        with client.websocket_connect("/v1/"), client.websocket_connect("/v1/"):
            with pytest.raises(WebSocketDenialResponse) as refused, client.websocket_connect("/v1/"):
                pass
            assert refused.value.status_code == 429 and refused.value.json() == {"error": text}
        with client.websocket_connect("/v1/") as ws:  # both closed: a place again
            ws.send_text(hello(subscribe_data_type=["trade"]))
            assert receive(ws)["type"] == "trade"


def test_the_root_says_what_runs_and_where_to_connect(client: TestClient) -> None:
    info = client.get("/", headers={"Host": "coinapi:8765"}).json()
    assert (info["websocket"], info["rest"]) == ("ws://coinapi:8765/v1/", "http://coinapi:8765/v1/")
    assert info["implementation"] == {"simulator": "c", "codec": "c", "loop": "asyncio"} and info["version"]
    tls = TestClient(client.app, base_url="https://coinapi:8443").get("/").json()
    assert (tls["websocket"], tls["rest"]) == ("wss://coinapi:8443/v1/", "https://coinapi:8443/v1/")


def test_at_speed_max_the_shared_market_waits_for_its_first_subscriber() -> None:
    """Issue 18: --speed max with nobody connected burned a core and ran the clock ahead of any client."""
    emulator = Emulator(Settings(start_time_ns=START_NS, speed=None, exchanges=3, max_symbols_per_exchange=3))
    with TestClient(create_app(emulator=emulator)) as client:
        assert emulator.shared.clock.paused and emulator.shared.now_ns == START_NS
        with client.websocket_connect("/v1/") as ws:
            ws.send_text(hello(subscribe_data_type=["trade"]))
            assert receive(ws)["type"] == "trade"
            assert not emulator.shared.clock.paused
