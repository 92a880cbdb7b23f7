"""docker/compose.scale.yml through its host-network override: NATS, a simulator, two gateways and HAProxy, all
built here; clients connect to the load balancer's one address and are spread over the gateways."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import httpx2 as httpx
import pytest
import websocket

from tests.docker.engine import docker, report
from tests.e2e.processes import free_port

pytestmark = pytest.mark.docker

PROJECT = "coinapi-emulator-docker-test-scale"
FILES = ("-f", "docker/compose.scale.yml", "-f", "docker/compose.scale.host-network.yml")
PORTS = (
    "COINAPI_LB_PORT",
    "COINAPI_SIMULATOR_PORT",
    "COINAPI_GATEWAY_PORT_1",
    "COINAPI_GATEWAY_PORT_2",
    "COINAPI_NATS_PORT",
    "COINAPI_NATS_MONITOR_PORT",
)
HELLO = {"type": "hello", "apikey": "k", "subscribe_data_type": ["trade"], "subscribe_filter_asset_id": ["BTC"]}


@pytest.fixture(scope="module")
def scaled(image: str) -> Iterator[dict[str, str]]:
    """The scale-out stack up and healthy on free ports; taken down afterwards."""
    # the admin API on (loopback callers need no token): the clock is paused through the load balancer
    env = {**os.environ, **{name: str(free_port()) for name in PORTS}, "COINAPI_EMULATOR_ADMIN": "true"}
    started = time.monotonic()
    _compose(env, "build", "-q")
    report(f"- compose.scale build (emulator, nats, haproxy): {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    try:
        _compose(env, "up", "-d", "--wait")
        report(f"- `compose.scale up -d --wait`: every service healthy after {time.monotonic() - started:.1f} s")
        yield env
    finally:
        _compose(env, "down", "-t", "5", check=False)


def _compose(env: dict[str, str], *args: str, check: bool = True) -> str:
    done = docker("compose", "-p", PROJECT, *FILES, *args, env=env, check=check)
    return done.stdout + done.stderr


def _wait_listening(url: str, timeout_s: float = 20.0) -> None:
    """HAProxy has no healthcheck of its own: `up --wait` returns once it runs, before it may listen."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            websocket.create_connection(url, timeout=5).close()
            return
        except OSError:
            assert time.monotonic() < deadline, f"nothing listens on {url}"
            time.sleep(0.2)


def _connections(port: str) -> int:
    state = httpx.get(f"http://127.0.0.1:{port}/dashboard/state", timeout=5).json()
    total: int = state["connections_total"]
    return total


def test_clients_of_the_load_balancer_are_served_by_both_gateways(scaled: dict[str, str]) -> None:
    url = f"ws://127.0.0.1:{scaled['COINAPI_LB_PORT']}/v1/"
    _wait_listening(url)
    clients = [websocket.create_connection(url, timeout=10) for _ in range(4)]
    try:
        for ws in clients:
            ws.send(json.dumps(HELLO))
        firsts = [json.loads(ws.recv()) for ws in clients]
        assert {message["type"] for message in firsts} == {"trade"}
        per_gateway = [_connections(scaled[name]) for name in ("COINAPI_GATEWAY_PORT_1", "COINAPI_GATEWAY_PORT_2")]
        report(f"- compose.scale: 4 clients through HAProxy, connections per gateway {per_gateway}")
        assert sum(per_gateway) == 4 and min(per_gateway) >= 1
    finally:
        for ws in clients:
            ws.close()


def test_rest_market_data_and_the_clock_through_the_load_balancer(scaled: dict[str, str]) -> None:
    """The admin API through HAProxy pauses the simulator's clock (a gateway forwards it over the bus); then every
    gateway's answer to a REST market read is the simulator's, byte for byte."""
    lb = f"http://127.0.0.1:{scaled['COINAPI_LB_PORT']}"
    _wait_listening(f"ws://127.0.0.1:{scaled['COINAPI_LB_PORT']}/v1/")
    paused = httpx.post(f"{lb}/admin/clock/pause", json={}, timeout=10)
    assert paused.status_code == 200 and paused.json()["paused"] is True, paused.text
    key = {"X-CoinAPI-Key": "k"}
    read = "/v1/trades/BINANCE_SPOT_BTC_USDT/latest?limit=3"
    direct = httpx.get(f"http://127.0.0.1:{scaled['COINAPI_SIMULATOR_PORT']}{read}", headers=key, timeout=10)
    assert direct.status_code == 200 and len(direct.json()) == 3, direct.text
    for name in ("COINAPI_LB_PORT", "COINAPI_GATEWAY_PORT_1", "COINAPI_GATEWAY_PORT_2"):
        through = httpx.get(f"http://127.0.0.1:{scaled[name]}{read}", headers=key, timeout=10)
        assert (through.status_code, through.content) == (200, direct.content), name
    assert httpx.post(f"{lb}/admin/clock/resume", json={}, timeout=10).json()["paused"] is False
