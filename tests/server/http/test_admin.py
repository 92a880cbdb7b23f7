"""The admin API in-process: clock control, faults, scenarios, errors."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

import orjson
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.control.faults import FaultError, parse_fault
from coinapi_emulator.server.http.app import create_app

START_NS = 1_704_067_200_000_000_000
#: a client on the loopback, as the admin API asks without a token
ON_THIS_MACHINE: Final[dict[str, Any]] = {"base_url": "http://127.0.0.1:8765", "client": ("127.0.0.1", 50000)}


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(start_time_ns=START_NS, admin=True, paused=True, exchanges=12)
    with TestClient(create_app(settings), **ON_THIS_MACHINE) as test_client:
        yield test_client


def test_admin_is_off_by_default() -> None:
    with TestClient(create_app(Settings(start_time_ns=START_NS, exchanges=12))) as c:
        assert c.get("/admin/status").status_code == 404


def test_clock_control(client: TestClient) -> None:
    status = client.get("/admin/status").json()
    assert status["paused"] and status["time"] == "2024-01-01T00:00:00.0000000Z"
    assert client.post("/admin/clock/step", json={"seconds": 2}).json()["time"] == "2024-01-01T00:00:02.0000000Z"
    assert client.post("/admin/clock/step", json={"seconds": "500ms"}).json()["time_ns"] == START_NS + 2_500_000_000
    assert client.post("/admin/clock/speed", json={"speed": "max"}).json()["speed"] == "max"
    assert client.post("/admin/clock/speed", json={"speed": 10}).json()["speed"] == 10
    assert client.post("/admin/clock/resume").json()["paused"] is False
    assert client.post("/admin/clock/pause").json()["paused"] is True


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/admin/clock/speed", b'{"speed": 0}', "positive number"),
        ("/admin/clock/speed", b'{"speed": true}', "positive number"),
        ("/admin/clock/step", b"not json", "not valid JSON"),
        ("/admin/clock/step", b"[1]", "JSON object"),
        ("/admin/clock/step", b'{"seconds": "soon"}', "'seconds'"),
        ("/admin/faults", b'{"fault": "close", "code": 1006}', "not a close code"),
        ("/admin/scenario", b"[[events]]\nat = 1\ntype = 'nope'", "'type' must be one of"),
        # numbers that would stop the market (issue 14, item 3) or the loop (item 9)
        ("/admin/clock/speed", b'{"speed": 1e308}', "at most 1000000"),
        ("/admin/clock/step", b'{"seconds": 1e300}', "at most 1 day"),
        ("/admin/clock/step", ('{"seconds": "' + "9" * 400 + 's"}').encode(), "at most 1 day"),
        ("/admin/scenario", b"[[events]]\nat = 1e308\ntype = 'close'", "at most 366 days"),
        (
            "/admin/scenario",
            b"[[events]]\nat = 1\ntype = 'volatility'\nasset = 'BTC'\nmultiplier = 1e308\nduration = 1",
            "'multiplier' must be at most 100",
        ),
    ],
)
def test_bad_admin_requests_get_400(client: TestClient, path: str, body: bytes, message: str) -> None:
    response = client.post(path, content=body, headers={"content-type": _media_type(path)})
    assert response.status_code == 400 and message in response.json()["error"]


def _media_type(path: str) -> str:
    return "application/toml" if path == "/admin/scenario" else "application/json"


def test_fault_and_scenario_reach_a_client(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text('{"type":"hello","apikey":"k","subscribe_data_type":["trade"]}')
        scenario = b'[[events]]\nat = 1\ntype = "error"\nmessage = "boom"'
        client.post("/admin/scenario", content=scenario, headers={"content-type": "application/toml"})
        assert client.get("/admin/status").json()["scenario_steps_pending"] == 1
        client.post("/admin/clock/step", json={"seconds": 2})
        frames = []
        with pytest.raises(WebSocketDisconnect) as closed:
            while True:
                frames.append(orjson.loads(ws.receive_text()))
        assert frames[-1] == {"type": "error", "message": "boom"} and closed.value.code == 1011


def test_status_lists_clients_with_their_routes(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text('{"type":"hello","apikey":"k","subscribe_data_type":["exchange"]}')
        ws.receive_text()
        clients = client.get("/admin/status").json()["clients"]
        assert len(clients) == 1 and clients[0]["routes"] > 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"fault": "close", "bogus": 1}, "unknown field 'bogus'"),
        ({"fault": "close", "code": "x"}, "must be int"),
        ({"fault": "close", "connections": ["a"]}, "list of connection ids"),
        ({"fault": "latency", "ms": -1}, ">= 0"),
        ({"fault": "close", "reason": "x" * 200}, "123 bytes"),
        ({"fault": "stall"}, "needs 'ms'"),
    ],
)
def test_parse_fault_errors(raw: dict[str, object], message: str) -> None:
    with pytest.raises(FaultError, match=message):
        parse_fault(raw)


def test_parse_fault_targets_connections() -> None:
    fault = parse_fault({"fault": "drop_quotes", "fraction": 1, "connections": [3, 4]})
    assert fault.connections == frozenset({3, 4}) and fault.fraction == 1.0
