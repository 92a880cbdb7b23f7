"""The request journal and frame injection through the admin API, in-process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any, Final

import orjson
import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.app import create_app
from coinapi_emulator.server.http.websocket import WebSocketEndpoint
from coinapi_emulator.server.plane.private import PrivateRequest
from tests.server.fakes import FakeSink

START_NS = 1_704_067_200_000_000_000
ON_THIS_MACHINE: Final[dict[str, Any]] = {"base_url": "http://127.0.0.1:8765", "client": ("127.0.0.1", 50000)}
BTC = "BINANCE_SPOT_BTC_USDT"
HELLO = '{"type":"hello","apikey":"secret-key","subscribe_data_type":["trade"],"subscribe_filter_symbol_id":["%s$"]}'
SUBSCRIBE_QUOTES = orjson.dumps(
    {"type": "subscribe", "subscribe_data_type": ["quote"], "subscribe_filter_symbol_id": [f"{BTC}$"]}
).decode()
OHLCV_HELLO = orjson.dumps(
    {
        "type": "hello",
        "apikey": "k",
        "subscribe_data_type": ["ohlcv"],
        "subscribe_filter_symbol_id": [f"{BTC}$"],
        "subscribe_filter_period_id": ["1MIN"],
    }
).decode()


@pytest.fixture
def client() -> Iterator[TestClient]:
    settings = Settings(start_time_ns=START_NS, admin=True, paused=True, exchanges=12, strict_filters=True)
    with TestClient(create_app(settings), **ON_THIS_MACHINE) as test_client:
        yield test_client


def _only_connection(client: TestClient) -> int:
    (connection,) = client.get("/admin/status").json()["clients"]
    return int(connection["id"])


def test_the_journal_shows_what_a_client_sent_and_what_came_of_it(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text(HELLO % BTC)
        ws.send_text(SUBSCRIBE_QUOTES)
        ws.send_text('{"type":"unsubscribe","subscribe_data_type":["trade"],"subscribe_filter_symbol_id":["X"]}')
        connection = _only_connection(client)
        ws.send_text("{not json")
        with pytest.raises(WebSocketDisconnect):
            while True:
                ws.receive_text()
    journal = client.get(f"/admin/journal/{connection}").json()
    types = [entry["type"] for entry in journal["entries"]]
    assert types == ["hello", "subscribe", "unsubscribe", "rejected"]
    hello, subscribe, _, rejected = journal["entries"]
    assert hello["scope"] == {"trade": {"symbol_id": [f"{BTC}$"]}}
    assert subscribe["scope"] == {"trade": {"symbol_id": [f"{BTC}$"]}, "quote": {"symbol_id": [f"{BTC}$"]}}
    assert "secret-key" not in hello["message"] and '"apikey":"***"' in hello["message"]
    assert rejected["message"] == "{not json" and rejected["scope"] is None and "JSON" in rejected["error"]
    assert journal["scope"] == subscribe["scope"] and journal["closed"] is not None
    assert journal["market"] == "shared" and journal["peer"] == "127.0.0.1:50000"


def test_a_refusal_after_the_protocol_accepted_the_message_is_journalled(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text(HELLO % "NOPE_SPOT_X_Y")
        error = orjson.loads(ws.receive_text())
    assert error["type"] == "error" and "NOPE_SPOT_X_Y" in error["message"]
    (journal,) = client.get("/admin/journal").json()["connections"]
    (entry,) = journal["entries"]
    assert entry["type"] == "rejected" and entry["error"] == error["message"] and journal["scope"] == {}


def test_journals_can_be_selected_by_what_connections_receive(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws, client.websocket_connect("/v1/") as other:
        ws.send_text(HELLO % BTC)
        other.send_text('{"type":"hello","apikey":"k","subscribe_data_type":["exchange"]}')
        other.receive_text()
        ids = [c["id"] for c in client.get("/admin/status").json()["clients"]]

        def selected(query: str) -> list[int]:
            return [c["id"] for c in client.get(f"/admin/journal?{query}").json()["connections"]]

        assert selected("data_type=trade") == selected(f"data_type=trade&symbol_id={BTC}") == [ids[0]]
        assert selected("data_type=trade&symbol_id=BINANCE_SPOT_ETH_USDT") == []
        assert selected("data_type=exchange&symbol_id=BINANCE") == [ids[1]]
        assert selected("") == ids


def test_ohlcv_subscriptions_are_found_by_their_symbol(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_text(OHLCV_HELLO)
        found = client.get(f"/admin/journal?data_type=ohlcv&symbol_id={BTC}").json()["connections"]
        assert len(found) == 1


@pytest.mark.parametrize(
    ("path", "status", "says"),
    [
        ("/admin/journal?data_type=volume", 400, "unknown data_type"),
        ("/admin/journal?symbol_id=X", 400, "give data_type"),
        ("/admin/journal/999", 404, "no journal of connection 999"),
    ],
)
def test_bad_journal_requests(client: TestClient, path: str, status: int, says: str) -> None:
    response = client.get(path)
    assert response.status_code == status and says in response.json()["error"]


def test_injected_frames_join_the_stream_in_order(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws, client.websocket_connect("/v1/") as other:
        ws.send_text(HELLO % BTC)
        other.send_text(HELLO % BTC)
        first, second = (c["id"] for c in client.get("/admin/status").json()["clients"])
        client.post("/admin/clock/step", json={"seconds": 5})
        stepped = client.get("/admin/status").json()["messages_sent"]
        assert stepped > 0, "the step must have published trades to put the injected frame after"
        injected = client.post("/admin/inject", json={"text": "hand-written", "connections": [first]}).json()
        built = {"type": "trade", "symbol_id": BTC, "price": 1, "size": 2, "taker_side": "BUY", "sequence": 0}
        assert injected == {"connections": 1}
        assert client.post("/admin/inject", json={"message": built}).json() == {"connections": 2}
        frames = [ws.receive_text() for _ in range(stepped // 2 + 2)]
        assert frames[-2] == "hand-written"
        last = orjson.loads(frames[-1])
        assert last["price"] == 1 and last["time_exchange"] == "2024-01-01T00:00:05.0000000Z"
        other_frames = [other.receive_text() for _ in range(stepped // 2 + 1)]
        assert "hand-written" not in other_frames and orjson.loads(other_frames[-1])["uuid"] == last["uuid"]
        response = client.post("/admin/inject", json={"text": "x", "connections": [first, 999]})
        assert response.status_code == 400 and response.json()["error"] == "no open connection 999"
        assert second != first


def test_a_private_market_connection_is_journalled_with_its_seed(client: TestClient) -> None:
    with client.websocket_connect("/v1/?seed=7") as ws:
        ws.send_text(HELLO % BTC)
        deadline = time.monotonic() + 10
        while not client.get(f"/admin/journal?data_type=trade&symbol_id={BTC}").json()["connections"]:
            assert time.monotonic() < deadline, "the private market was not built in 10 s"
            time.sleep(0.01)  # it is built on a worker thread
        (journal,) = client.get("/admin/journal").json()["connections"]
        assert (journal["market"], journal["seed"]) == ("private", 7)
        assert [entry["type"] for entry in journal["entries"]] == ["hello"]


def test_a_binary_frame_is_journalled_by_its_size(client: TestClient) -> None:
    with client.websocket_connect("/v1/") as ws:
        ws.send_bytes(b"\x01\x02")
        error = orjson.loads(ws.receive_text())
    (journal,) = client.get("/admin/journal").json()["connections"]
    (entry,) = journal["entries"]
    assert entry["message"] == "<binary message, 2 bytes>" and entry["error"] == error["message"]


def test_a_flood_while_a_private_market_is_built_is_journalled() -> None:
    emulator = Emulator(Settings(start_time_ns=START_NS, paused=True, exchanges=5, max_messages_per_second=3))
    endpoint, sink = WebSocketEndpoint(emulator), FakeSink()

    async def flood() -> None:
        connection = endpoint.connect(sink, "p", None, private=PrivateRequest(1, None))
        endpoint.handle_message(connection, HELLO % BTC)  # the build starts on a worker thread
        for _ in range(4):  # held until it is built, as many as a second's worth: one too many
            endpoint.handle_message(connection, '{"type":"unsubscribe","subscribe_data_type":["quote"]}')
        assert connection.moving is not None
        await connection.moving

    asyncio.run(flood())
    (journal,) = emulator.journal
    error = orjson.loads(sink.payloads()[-1])
    assert "More than 3 messages" in error["message"] and sink.closed_with is not None
    assert [entry.type for entry in journal.entries] == ["hello", "rejected"]
    assert journal.entries[-1].error == error["message"] and not list(emulator.private)
