"""``?seed=N`` connections in-process: a private market is built only once a hello is accepted (its key checked),
and no more of them than ``--max-private-markets`` (issue 14, item 2)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse
from starlette.websockets import WebSocketDisconnect

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.app import create_app

START_NS = 1_704_067_200_000_000_000
BTC = "BINANCE_SPOT_BTC_USDT"
HELLO = {"type": "hello", "subscribe_data_type": ["trade"], "subscribe_filter_symbol_id": [BTC + "$"]}


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[Emulator]:
    keys = tmp_path / "keys"
    keys.write_text("good\n")
    settings = Settings(start_time_ns=START_NS, exchanges=3, api_keys_file=keys, max_private_markets=1)
    yield Emulator(settings)


def hello(key: str) -> str:
    return orjson.dumps({**HELLO, "apikey": key}).decode()


def test_no_private_market_before_an_accepted_hello(emulator: Emulator) -> None:
    with TestClient(create_app(emulator=emulator)) as client:
        with client.websocket_connect("/v1/?seed=7") as ws:
            assert len(emulator.private) == 0, "built before any key was checked"
            ws.send_text(hello("wrong"))
            assert orjson.loads(ws.receive_text()) == {"type": "error", "message": "Invalid API key"}
            with pytest.raises(WebSocketDisconnect) as closed:
                ws.receive_text()
            assert closed.value.code == 1008
        assert len(emulator.private) == 0
        with client.websocket_connect("/v1/?seed=7") as ws:
            ws.send_text(hello("good"))
            assert orjson.loads(ws.receive_text())["type"] == "trade"
            assert len(emulator.private) == 1
            [plane] = emulator.private
            assert plane.spec.seed == 7 and len(plane.hub.subscribers) == 1 and not emulator.shared.hub.subscribers
        assert len(emulator.private) == 0


def test_beyond_the_limit_a_private_hello_is_told_to_try_later(emulator: Emulator) -> None:
    with TestClient(create_app(emulator=emulator)) as client, client.websocket_connect("/v1/?seed=1") as first:
        first.send_text(hello("good"))
        assert orjson.loads(first.receive_text())["type"] == "trade"
        with client.websocket_connect("/v1/?seed=2") as second:
            second.send_text(hello("good"))
            error = orjson.loads(second.receive_text())
            assert error == {
                "type": "error",
                "message": "Too many private markets open (1, --max-private-markets): try again later",
            }
            with pytest.raises(WebSocketDisconnect) as closed:
                second.receive_text()
            assert closed.value.code == 1013
        assert len(emulator.private) == 1
        # the hello the protocol accepted is journalled as refused, with what the client was told
        newest = max(emulator.journal, key=lambda journal: journal.id).as_json()
        assert [(entry["type"], entry["error"]) for entry in newest["entries"]] == [("rejected", error["message"])]


def test_messages_sent_while_the_market_is_built_are_applied_after_it(emulator: Emulator) -> None:
    subscribe = {"type": "subscribe", "apikey": "good", "subscribe_data_type": ["quote"]}
    subscribe["subscribe_filter_symbol_id"] = [BTC + "$"]
    # at speed 50 the 200 messages take a fraction of a second (at 1, ~9 s): how fast does not matter here
    with TestClient(create_app(emulator=emulator)) as client, client.websocket_connect("/v1/?seed=5&speed=50") as ws:
        ws.send_text(hello("good"))
        ws.send_text(orjson.dumps(subscribe).decode())  # most likely while the market is still being built
        seen = {orjson.loads(ws.receive_text())["type"] for _ in range(200)}
    assert seen == {"trade", "quote"}


def test_a_connection_that_leaves_while_its_market_is_built_frees_it(emulator: Emulator) -> None:
    with TestClient(create_app(emulator=emulator)) as client:
        with client.websocket_connect("/v1/?seed=6") as ws:
            ws.send_text(hello("good"))
        # the build runs on a worker thread after the hello: it may start only after the client is gone, so the
        # one allowed market is free again once no market is open or being built, and stays free
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if not (len(emulator.private) or emulator.private.building):
                break
        with client.websocket_connect("/v1/?seed=7") as ws:
            ws.send_text(hello("good"))
            assert orjson.loads(ws.receive_text())["type"] == "trade"


def _first_trades(emulator: Emulator, path: str, count: int = 15) -> list[str]:
    with TestClient(create_app(emulator=emulator)) as client, client.websocket_connect(path) as ws:
        ws.send_text(hello("any"))
        return [ws.receive_text() for _ in range(count)]


def test_a_seed_alone_gives_the_same_bytes_whenever_the_server_started() -> None:
    """Issue 18: private markets started at the server's start, so the same URL changed with the day."""
    runs = [
        _first_trades(Emulator(Settings(exchanges=3), epoch_ns=lambda at=at: at), "/v1/?seed=42&speed=200")
        for at in (START_NS + 3 * 86_400 * 10**9 + 123, START_NS + 40 * 86_400 * 10**9 + 77)
    ]
    assert runs[0] == runs[1]
    assert orjson.loads(runs[0][0])["time_exchange"].startswith("2024-01-01T00:00:")


def test_the_url_chooses_a_private_markets_start_and_speed() -> None:
    emulator = Emulator(Settings(start_time_ns=START_NS, exchanges=3))
    later = _first_trades(emulator, "/v1/?seed=42&start_time=2024-03-05T10:00:00Z&speed=max", 5)
    assert all(orjson.loads(text)["time_exchange"].startswith("2024-03-05T10:0") for text in later)
    assert later != _first_trades(emulator, "/v1/?seed=42&speed=max", 5)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?start_time=2024-01-01", "give seed=N with them"),
        ("?seed=1&speed=0", "speed must be a positive number"),
        ("?seed=1&speed=fast", "speed must be a positive number"),
        ("?seed=1&start_time=soon", "start_time 'soon' is not an ISO 8601 time"),
        ("?seed=one", "seed must be an integer"),
    ],
)
def test_a_bad_private_market_url_is_refused_at_the_upgrade(query: str, message: str) -> None:
    with TestClient(create_app(Settings(start_time_ns=START_NS, exchanges=3))) as client:
        with pytest.raises(WebSocketDenialResponse) as refused:
            client.websocket_connect("/v1/" + query).__enter__()
        assert refused.value.status_code == 400 and message in refused.value.json()["error"]
