"""GET /metrics in-process: Prometheus text that follows the hub, the private markets and the market clock."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.app import create_app
from tests.server.fakes import FakeSink, open_connection
from tests.server.replay.factories import make_trade, write_recording

START_NS = 1_704_067_200_000_000_000
SECOND_NS = 1_000_000_000
BTC = "BINANCE_SPOT_BTC_USDT"
TRADES_AND_QUOTES = {"subscribe_data_type": ["trade", "quote"], "subscribe_filter_symbol_id": [BTC + "$"]}

Samples = dict[tuple[str, str], float]


def scrape(client: TestClient) -> Samples:
    """``(sample name, market label or "")`` -> value, from a parsed scrape."""
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, sample.labels.get("market", "")): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def metric(samples: Samples, name: str, market: str = "") -> float:
    return samples[(f"coinapi_emulator_{name}", market)]


def paused_emulator(**settings: Any) -> Emulator:
    """A small market on a frozen wall clock: only ``step`` moves it."""
    return Emulator(
        Settings(start_time_ns=START_NS, exchanges=5, paused=True, **settings),
        monotonic_ns=lambda: 0,
        epoch_ns=lambda: START_NS,
    )


def connect(emulator: Emulator, **hello: Any) -> FakeSink:
    sink = FakeSink()
    open_connection(emulator, sink, {"type": "hello", "apikey": "k", **hello})
    return sink


def hello_text(**fields: Any) -> str:
    return orjson.dumps({"type": "hello", "apikey": "k", **fields}).decode()


def test_counters_follow_delivery_conflation_and_a_slow_consumer_close() -> None:
    emulator = paused_emulator(max_buffered_messages=50)
    # No lifespan (no `with`): the feed never ticks on its own, so this test alone moves the market and the hub.
    client = TestClient(create_app(emulator=emulator))
    idle = scrape(client)
    assert metric(idle, "connections", "shared") == 0 and metric(idle, "sent_messages_total", "shared") == 0
    assert (
        metric(idle, "market_pass_errors_total", "shared") == 0 == metric(idle, "market_pass_errors_total", "private")
    )

    sink = connect(emulator, **TRADES_AND_QUOTES)
    emulator.shared.step(5 * SECOND_NS)
    served = scrape(client)
    stats = emulator.shared.hub.stats
    assert metric(served, "connections", "shared") == 1 and metric(served, "routes", "shared") == 2
    assert metric(served, "sent_messages_total", "shared") == stats.messages_sent > 0
    assert metric(served, "sent_bytes_total", "shared") == stats.bytes_sent > 0
    assert metric(served, "market_trades_total") > 0
    assert metric(served, "market_time_seconds") == (START_NS + 5 * SECOND_NS) / 1e9

    sink.is_writable = False
    while sink.closed_with is None:
        # ticks of 10 ms, as the server's are short: a backlog conflates from the tick after the one that made it,
        # and a busy second in one tick may pass the 50-message limit before any quote could be conflated
        emulator.shared.step(SECOND_NS // 100)
    closed = scrape(client)
    assert metric(closed, "slow_consumer_closes_total", "shared") == 1
    assert metric(closed, "conflated_messages_total", "shared") == stats.conflated > 0
    assert metric(closed, "connections", "shared") == 0 and metric(closed, "routes", "shared") == 0


def test_private_markets_are_summed_and_keep_their_counts_after_closing() -> None:
    with TestClient(create_app(Settings(start_time_ns=START_NS, exchanges=5))) as client:
        with client.websocket_connect("/v1/") as shared, client.websocket_connect("/v1/?seed=3") as private:
            for ws in (shared, private):
                ws.send_text(hello_text(heartbeat=True, **TRADES_AND_QUOTES))
                ws.receive_text()
            during = scrape(client)
        after = scrape(client)
    for market in ("shared", "private"):
        assert metric(during, "connections", market) == 1 and metric(during, "routes", market) == 2
        assert metric(during, "sent_messages_total", market) > 0
        assert metric(after, "connections", market) == 0
        assert metric(after, "sent_messages_total", market) >= metric(during, "sent_messages_total", market)


def test_metrics_need_no_key_and_show_the_clock(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text("good\n")
    paused = TestClient(create_app(emulator=paused_emulator(api_keys_file=keys, speed=None)))
    assert paused.get("/v1/assets").status_code == 401
    samples = scrape(paused)
    assert metric(samples, "market_paused") == 1 and math.isinf(metric(samples, "market_speed"))
    assert samples[("process_cpu_seconds_total", "")] > 0
    # A second app in the same process has a registry of its own (no duplicate-metric clash).
    running = scrape(TestClient(create_app(Settings(start_time_ns=START_NS, exchanges=5, speed=10))))
    assert metric(running, "market_paused") == 0 and metric(running, "market_speed") == 10


def test_a_replay_counts_replayed_messages_instead_of_simulated_trades(tmp_path: Path) -> None:
    recording = write_recording(tmp_path / "r.jsonl.gz", [(0, make_trade(sequence=1)), (1, make_trade(sequence=2))])
    emulator = paused_emulator(replay_file=recording)
    try:
        client = TestClient(create_app(emulator=emulator))
        connect(emulator, subscribe_data_type=["trade"])
        emulator.shared.step(SECOND_NS)
        samples = scrape(client)
    finally:
        emulator.stop()
    assert metric(samples, "replayed_messages_total") == 2
    assert ("coinapi_emulator_market_trades_total", "") not in samples


def test_failed_market_passes_are_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = paused_emulator()
    client = TestClient(create_app(emulator=emulator))
    monkeypatch.setattr(emulator.shared.driver, "errors", 3)
    assert metric(scrape(client), "market_pass_errors_total", "shared") == 3


def test_build_info_names_the_version_and_what_runs() -> None:
    client = TestClient(create_app(emulator=paused_emulator()))
    families = {family.name: family for family in text_string_to_metric_families(client.get("/metrics").text)}
    [sample] = families["coinapi_emulator_build_info"].samples
    assert sample.name == "coinapi_emulator_build_info" and sample.value == 1
    # the TestClient runs the app on asyncio's own loop
    assert {key: sample.labels[key] for key in ("simulator", "codec", "loop")} == {
        "simulator": "c",
        "codec": "c",
        "loop": "asyncio",
    }
    assert sample.labels["version"]


def test_routed_messages_are_counted_by_type_once_however_many_clients_get_them() -> None:
    emulator = paused_emulator()
    client = TestClient(create_app(emulator=emulator))
    connect(emulator, **TRADES_AND_QUOTES)
    connect(emulator, **TRADES_AND_QUOTES)
    emulator.shared.step(5 * SECOND_NS)
    routed = {
        (sample.labels["market"], sample.labels["type"]): sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
        if sample.name == "coinapi_emulator_routed_messages_total"
    }
    stats = emulator.shared.hub.stats
    assert routed[("shared", "trade")] > 0 and routed[("shared", "quote")] > 0
    assert routed[("shared", "trade")] + routed[("shared", "quote")] == stats.messages_sent / 2
    assert routed[("shared", "book")] == 0 == routed[("private", "trade")]
