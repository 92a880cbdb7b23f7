"""Operations conventions on a real server: the port really bound with ``--port 0``, JSON log lines, the access
log off, TLS (``wss://`` and ``https://``, with a throwaway CA), keys from a variable, and ``healthcheck``."""

from __future__ import annotations

import asyncio
import os
import re
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import orjson
import pytest
import trustme
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidMessage

from .processes import emulator_executable, run_server, spawn, stop
from .support import collect, hello, ws_connect

pytestmark = pytest.mark.e2e

SMALL = ["--exchanges", "3", "--max-symbols-per-exchange", "3", "--start-time", "2024-01-01T00:00:00Z"]
STARTED_LINE = re.compile(r"CoinAPI WebSocket on (wss?)://127\.0\.0\.1:(\d+)/v1/")


def _wait_for_line(log_path: Path, pattern: re.Pattern[str], timeout_s: float = 20) -> re.Match[str]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = pattern.search(log_path.read_text(encoding="utf-8", errors="replace"))
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {pattern.pattern!r} in:\n{log_path.read_text()}")


def test_port_0_prints_the_port_really_bound_and_what_runs(log_dir: Path) -> None:
    running = spawn([*SMALL, "--port", "0"], log_dir, pass_port=False)
    try:
        port = int(_wait_for_line(running.log_path, STARTED_LINE).group(2))
        assert port != 0
        assert httpx.get(f"http://127.0.0.1:{port}/ready", timeout=5).status_code == 200
        assert "simulator c, codec c, loop uvloop" in running.log()
    finally:
        stop(running.process)


def test_json_logs_with_the_access_log_off_or_on(log_dir: Path) -> None:
    with (
        run_server([*SMALL, "--log-format", "json", "--no-access-log"], log_dir) as quiet,
        run_server([*SMALL, "--log-format", "json"], log_dir) as chatty,
    ):
        for running in (quiet, chatty):
            assert httpx.get(f"{running.http_url}/v1/exchanges?apikey=SECRET", timeout=5).status_code == 200

            async def one_client(url: str) -> None:
                async with ws_connect(url, hello(["trade"])) as ws:
                    await collect(ws, seconds=0.3)

            asyncio.run(one_client(running.ws_url()))
        quiet_lines = [orjson.loads(line) for line in quiet.log().splitlines()]  # every line is JSON
        chatty_lines = [orjson.loads(line) for line in chatty.log().splitlines()]
    assert not [line for line in quiet_lines if line["logger"] == "uvicorn.access"]
    assert any("connected" in line["message"] for line in quiet_lines), "the package's own lines stay"
    [rest] = [line for line in chatty_lines if line["logger"] == "uvicorn.access" and line["method"] == "GET"][-1:]
    assert (rest["path"], rest["status"]) == ("/v1/exchanges?apikey=***", 200)
    assert all({"time", "level", "logger", "message"} <= set(line) for line in quiet_lines + chatty_lines)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, ssl.SSLContext]]:
    """A certificate for 127.0.0.1 from a throwaway CA: its chain, its key and a client context trusting the CA."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    chain, key = folder / "chain.pem", folder / "key.pem"
    for blob in issued.cert_chain_pems:
        blob.write_to_path(chain, append=True)
    issued.private_key_pem.write_to_path(key)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    yield chain, key, client


def test_tls_serves_wss_and_https_and_the_healthcheck_follows_it(
    log_dir: Path, certificate: tuple[Path, Path, ssl.SSLContext]
) -> None:
    chain, key, client = certificate
    running = spawn([*SMALL, "--ssl-certfile", str(chain), "--ssl-keyfile", str(key)], log_dir)
    try:
        assert _wait_for_line(running.log_path, STARTED_LINE).group(1) == "wss"
        env = {"COINAPI_EMULATOR_PORT": str(running.port), "COINAPI_EMULATOR_SSL_CERTFILE": str(chain)}
        healthcheck = subprocess.run(
            [str(emulator_executable()), "healthcheck"], env=env, capture_output=True, text=True, timeout=30
        )
        assert healthcheck.returncode == 0, healthcheck.stderr
        assert f"https://127.0.0.1:{running.port}/ready" in healthcheck.stdout
        info = httpx.get(f"https://127.0.0.1:{running.port}/", verify=client, timeout=5).json()
        assert info["websocket"] == f"wss://127.0.0.1:{running.port}/v1/"
        assert asyncio.run(_trades_over_wss(running.port, client)) >= 1
        with pytest.raises((InvalidMessage, ConnectionClosed, OSError)):
            asyncio.run(_trades_over_plain_ws(running.port))
    finally:
        stop(running.process)


async def _trades_over_wss(port: int, client: ssl.SSLContext) -> int:
    async with connect(f"wss://127.0.0.1:{port}/v1/", ssl=client, open_timeout=10) as ws:
        await ws.send(orjson.dumps(hello(["trade", "quote"])).decode())
        messages = [orjson.loads(await asyncio.wait_for(ws.recv(), 20)) for _ in range(20)]
    return sum(message["type"] == "trade" for message in messages)


async def _trades_over_plain_ws(port: int) -> None:
    async with connect(f"ws://127.0.0.1:{port}/v1/", open_timeout=5) as ws:
        await ws.recv()


def test_keys_from_the_variable_and_the_flag_are_both_accepted(log_dir: Path) -> None:
    env = {"COINAPI_EMULATOR_API_KEY": "from-env another"}
    with run_server([*SMALL, "--api-key", "from-flag"], log_dir, env=env) as running:

        def status(key: str) -> int:
            return httpx.get(f"{running.http_url}/v1/assets", headers={"X-CoinAPI-Key": key}, timeout=5).status_code

        # the flag beats the variable, as with every option: only the flag's key is accepted
        assert (status("from-flag"), status("from-env"), status("nope")) == (200, 401, 401)
    with run_server(SMALL, log_dir, env=env) as running:
        assert (status("from-env"), status("another"), status("from-flag")) == (200, 200, 401)


@pytest.mark.parametrize(
    ("make_args", "env", "expected"),
    [
        ([], {}, "--host 127.0.0.1 --port 8765"),
        ([], {"COINAPI_EMULATOR_PORT": "9000", "COINAPI_EMULATOR_HOST": "0.0.0.0"}, "--host 0.0.0.0 --port 9000"),
        (["PORT=7000"], {"COINAPI_EMULATOR_PORT": "9000"}, "--host 127.0.0.1 --port 7000"),
    ],
    ids=["defaults", "the-emulators-variables", "make-knob-wins"],
)
def test_make_run_honours_the_emulators_variables(make_args: list[str], env: dict[str, str], expected: str) -> None:
    root = Path(__file__).resolve().parents[2]
    clean = {key: value for key, value in os.environ.items() if not key.startswith("COINAPI_EMULATOR_")}
    dry_run = subprocess.run(
        ["make", "-n", "run", *make_args],
        cwd=root,
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"coinapi-emulator serve {expected}" in dry_run.stdout
