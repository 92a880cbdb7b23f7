"""The image as a user runs it: configured by environment variables on a port of their choosing, healthy by its own
HEALTHCHECK, serving a hello and REST, draining on SIGTERM, and running other subcommands without --entrypoint."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.docker.engine import docker, report, wait_for_health
from tests.e2e.processes import free_port

pytestmark = pytest.mark.docker

KEY = "docker-test-key"
HELLO = {
    "type": "hello",
    "apikey": KEY,
    "heartbeat": False,
    "subscribe_data_type": ["trade", "quote"],
    "subscribe_filter_symbol_id": ["BINANCE_SPOT_BTC_USDT$"],
}


@pytest.fixture
def container(image: str) -> Iterator[tuple[str, int]]:
    """The image run as a compose file would: env configuration, a non-default port, two accepted keys."""
    port = free_port()
    name = f"coinapi-emulator-test-{port}"
    started = time.monotonic()
    docker(
        "run", "-d", "--name", name, "--network", "host",
        # the image's interval is 5 s; a test need not wait for it (the command checked is the image's own)
        "--health-interval", "1s",
        "-e", f"COINAPI_EMULATOR_PORT={port}",
        "-e", f"COINAPI_EMULATOR_API_KEY={KEY} another-key",
        "-e", "COINAPI_EMULATOR_SHUTDOWN_GRACE=2",
        "-e", "COINAPI_EMULATOR_LOG_FORMAT=json",
        image,
    )  # fmt: skip
    try:
        _wait_ready(port)
        report(f"- `docker run` to `/ready` 200: {time.monotonic() - started:.2f} s (port {port} set by env)")
        healthy_s = wait_for_health(name)
        report(f"- to HEALTHCHECK `healthy` (checked every 1 s): {time.monotonic() - started:.2f} s")
        assert healthy_s < 30
        yield name, port
    finally:
        docker("rm", "-f", name, check=False)


def _wait_ready(port: int, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def _get(port: int, path: str, key: str | None = KEY) -> object:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"X-CoinAPI-Key": key} if key else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        return orjson.loads(response.read())


def test_the_image_runs_as_configured_and_drains_on_sigterm(container: tuple[str, int]) -> None:
    name, port = container
    info = _get(port, "/", key=None)
    assert isinstance(info, dict) and info["implementation"] == {"simulator": "c", "codec": "c", "loop": "uvloop"}
    [exchange] = _get(port, "/v1/exchanges/BINANCE")  # type: ignore[misc]
    assert exchange["exchange_id"] == "BINANCE"
    report(f"- `GET /`: version {info['version']}, implementation {info['implementation']}")

    seen, close_code = asyncio.run(_hello_then_sigterm(name, port))
    assert {"trade", "quote"} <= set(seen), seen[-10:]
    # the market goes on during the grace period: the notice is among the last messages, then the close
    assert "reconnect" in seen[20:] and close_code == 1012, (seen[-10:], close_code)  # 1012: service restart
    exit_code = int(docker("wait", name).stdout)
    during_grace = len(seen) - seen.index("reconnect") - 1
    report(f"- SIGTERM: `reconnect`, {during_grace} messages in the 2 s grace, close {close_code}, exit {exit_code}")
    assert exit_code == 0  # PID 1: the signal uvicorn re-raises is ignored, and the process ends normally
    logs = docker("logs", name)
    lines = [json.loads(line) for line in (logs.stdout + logs.stderr).splitlines()]
    messages = [line["message"] for line in lines]
    assert any(f"CoinAPI WebSocket on ws://0.0.0.0:{port}/v1/" in message for message in messages), messages
    assert any("simulator c, codec c, loop uvloop" in message for message in messages), messages
    assert not any("Traceback" in message for message in messages)


async def _hello_then_sigterm(name: str, port: int) -> tuple[list[str], int | None]:
    seen: list[str] = []
    async with connect(f"ws://127.0.0.1:{port}/v1/") as ws:
        await ws.send(orjson.dumps(HELLO).decode())
        while len(seen) < 20:
            seen.append(orjson.loads(await asyncio.wait_for(ws.recv(), 30))["type"])
        await asyncio.to_thread(docker, "kill", "--signal", "TERM", name)
        try:
            async for raw in ws:
                seen.append(orjson.loads(raw)["type"])
        except ConnectionClosed:
            pass
        return seen, ws.close_code


def test_a_wrong_key_is_refused_in_coinapi_form(container: tuple[str, int]) -> None:
    _, port = container

    async def hello_with(key: str) -> tuple[dict[str, object], int | None]:
        async with connect(f"ws://127.0.0.1:{port}/v1/") as ws:
            await ws.send(orjson.dumps({**HELLO, "apikey": key}).decode())
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            await ws.wait_closed()
            return message, ws.close_code

    message, code = asyncio.run(hello_with("not-a-key"))
    assert message["type"] == "error" and code is not None and code >= 1000


def test_the_image_is_labelled_and_runs_as_a_numeric_user(image: str) -> None:
    config = json.loads(docker("image", "inspect", "--format", "{{json .Config}}", image).stdout)
    assert config["User"] == "10001:10001"
    assert config["Healthcheck"]["Test"] == ["CMD", "coinapi-emulator", "healthcheck"]
    labels = config["Labels"]
    assert labels["org.opencontainers.image.title"] == "coinapi-emulator"
    assert labels["org.opencontainers.image.revision"] == "docker-test"
    assert {"org.opencontainers.image.version", "org.opencontainers.image.licenses"} <= set(labels)


def test_other_subcommands_run_without_entrypoint(container: tuple[str, int], image: str, tmp_path: Path) -> None:
    _, port = container
    out = tmp_path / "rec"
    out.mkdir(mode=0o777)
    out.chmod(0o777)  # the image's user (10001) writes the recording
    docker(
        "run", "--rm", "--network", "host", "-v", f"{out}:/data", image,
        "record", "--url", f"ws://127.0.0.1:{port}/v1/", "--api-key", KEY, "--duration", "2",
        "--out", "/data/btc.jsonl.gz", "--hello", orjson.dumps(HELLO).decode(),
    )  # fmt: skip
    recording = out / "btc.jsonl.gz"
    assert recording.stat().st_size > 100
    report(f"- `docker run IMAGE record ...`: {recording.stat().st_size} bytes recorded in 2 s")
    version = docker("run", "--rm", "--network", "host", image, "--version").stdout
    assert "coinapi-emulator" in version
    nobody_there = str(free_port())
    unhealthy = docker("run", "--rm", "--network", "host", image, "healthcheck", "--port", nobody_there, check=False)
    assert unhealthy.returncode == 1 and "unhealthy" in unhealthy.stderr
