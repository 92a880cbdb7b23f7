"""The ``coinapi-emulator serve`` command line, run as a real process (uvicorn's CLI tests, done end to end).

Every flag is also ``COINAPI_EMULATOR_<FLAG>``; a flag beats its environment variable; bad values exit with
code 2 and a message naming the option (STYLE.md "Config flows one way").
"""

from __future__ import annotations

import asyncio
import os
import subprocess
from pathlib import Path
from typing import Final

import click
import httpx2 as httpx
import pytest
from websockets.asyncio.client import connect

from .processes import free_port, run_server, serve_argv

pytestmark = pytest.mark.e2e

#: the documented flags and their environment variables
FLAGS: Final = [
    ("--host", "COINAPI_EMULATOR_HOST"),
    ("--port", "COINAPI_EMULATOR_PORT"),
    ("--seed", "COINAPI_EMULATOR_SEED"),
    ("--speed", "COINAPI_EMULATOR_SPEED"),
    ("--start-time", "COINAPI_EMULATOR_START_TIME"),
    ("--log-level", "COINAPI_EMULATOR_LOG_LEVEL"),
    ("--api-keys", "COINAPI_EMULATOR_API_KEYS"),
    ("--api-key", "COINAPI_EMULATOR_API_KEY"),
    ("--log-format", "COINAPI_EMULATOR_LOG_FORMAT"),
    ("--access-log", "COINAPI_EMULATOR_ACCESS_LOG"),
    ("--ssl-certfile", "COINAPI_EMULATOR_SSL_CERTFILE"),
    ("--ssl-keyfile", "COINAPI_EMULATOR_SSL_KEYFILE"),
    ("--retain", "COINAPI_EMULATOR_RETAIN"),
    ("--retain-bars", "COINAPI_EMULATOR_RETAIN_BARS"),
    ("--history", "COINAPI_EMULATOR_HISTORY"),
    ("--rest-rate-limit", "COINAPI_EMULATOR_REST_RATE_LIMIT"),
    ("--exchanges", "COINAPI_EMULATOR_EXCHANGES"),
    ("--max-symbols-per-exchange", "COINAPI_EMULATOR_MAX_SYMBOLS_PER_EXCHANGE"),
    ("--rate-scale", "COINAPI_EMULATOR_RATE_SCALE"),
    ("--max-buffered-messages", "COINAPI_EMULATOR_MAX_BUFFERED_MESSAGES"),
    ("--max-buffered-bytes", "COINAPI_EMULATOR_MAX_BUFFERED_BYTES"),
    ("--max-buffered-bytes-total", "COINAPI_EMULATOR_MAX_BUFFERED_BYTES_TOTAL"),
    ("--filter-combine", "COINAPI_EMULATOR_FILTER_COMBINE"),
    ("--strict-filters", "COINAPI_EMULATOR_STRICT_FILTERS"),
    ("--allow-unfiltered-books", "COINAPI_EMULATOR_ALLOW_UNFILTERED_BOOKS"),
    ("--compression", "COINAPI_EMULATOR_COMPRESSION"),
    ("--ws-ping-interval", "COINAPI_EMULATOR_WS_PING_INTERVAL"),
    ("--shutdown-grace", "COINAPI_EMULATOR_SHUTDOWN_GRACE"),
    ("--max-private-markets", "COINAPI_EMULATOR_MAX_PRIVATE_MARKETS"),
    ("--max-connections", "COINAPI_EMULATOR_MAX_CONNECTIONS"),
    ("--max-connections-per-ip", "COINAPI_EMULATOR_MAX_CONNECTIONS_PER_IP"),
    ("--forwarded-allow-ips", "COINAPI_EMULATOR_FORWARDED_ALLOW_IPS"),
    ("--hello-timeout", "COINAPI_EMULATOR_HELLO_TIMEOUT"),
    ("--max-header-size", "COINAPI_EMULATOR_MAX_HEADER_SIZE"),
    ("--max-header-count", "COINAPI_EMULATOR_MAX_HEADER_COUNT"),
    ("--header-timeout", "COINAPI_EMULATOR_HEADER_TIMEOUT"),
    ("--max-message-size", "COINAPI_EMULATOR_MAX_MESSAGE_SIZE"),
    ("--max-filter-values", "COINAPI_EMULATOR_MAX_FILTER_VALUES"),
    ("--max-messages-per-second", "COINAPI_EMULATOR_MAX_MESSAGES_PER_SECOND"),
    ("--replay", "COINAPI_EMULATOR_REPLAY"),
    ("--admin", "COINAPI_EMULATOR_ADMIN"),
    ("--dashboard", "COINAPI_EMULATOR_DASHBOARD"),
    ("--admin-token", "COINAPI_EMULATOR_ADMIN_TOKEN"),
    ("--admin-token-file", "COINAPI_EMULATOR_ADMIN_TOKEN_FILE"),
    ("--paused", "COINAPI_EMULATOR_PAUSED"),
    ("--scenario", "COINAPI_EMULATOR_SCENARIO"),
]
#: a small market, so that servers started only to test flags come up quickly
SMALL: Final = ["--exchanges", "3", "--max-symbols-per-exchange", "3", "--start-time", "2024-01-01T00:00:00Z"]
CLI_TIMEOUT_S: Final = 30


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``coinapi-emulator serve <args>`` to completion (for commands that must exit by themselves)."""
    clean = {key: value for key, value in os.environ.items() if not key.startswith("COINAPI_EMULATOR_")}
    return subprocess.run(
        serve_argv(*args),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        env={**clean, "COLUMNS": "200", **(env or {})},
        stdin=subprocess.DEVNULL,
        check=False,
    )


@pytest.fixture(scope="module")
def help_text() -> str:
    result = cli("--help")
    assert result.returncode == 0, result.stderr
    return " ".join(result.stdout.split())


@pytest.mark.parametrize(("flag", "envvar"), FLAGS, ids=[flag for flag, _ in FLAGS])
def test_help_lists_flag_and_env_var(help_text: str, flag: str, envvar: str) -> None:
    assert flag in help_text
    assert f"env var: {envvar}" in help_text


def test_help_documents_every_declared_option(help_text: str) -> None:
    """No option of the ``serve`` command is missing from FLAGS (so the list above stays complete)."""
    from coinapi_emulator.server.cli.main import serve

    declared = {
        max(option.opts, key=len)
        for option in serve.params
        if isinstance(option, click.Option) and option.name != "help"
    }
    assert declared == {flag for flag, _ in FLAGS}


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--speed", "fast"], "--speed"),
        (["--speed", "0"], "--speed"),
        (["--port", "70000"], "--port"),
        (["--start-time", "yesterday"], "--start-time"),
        (["--log-level", "loud"], "--log-level"),
        (["--api-keys", "/nonexistent/keys.txt"], "--api-keys"),
        (["--bogus"], "--bogus"),
        (["--compression", "gzip"], "--compression"),
    ],
    ids=[
        "speed-word",
        "speed-zero",
        "port-too-big",
        "start-time-word",
        "log-level",
        "api-keys-missing-file",
        "unknown-option",
        "compression-word",
    ],
)
def test_bad_flag_exits_2_naming_the_problem(args: list[str], named: str) -> None:
    result = cli(*args)
    assert result.returncode == 2, (result.returncode, result.stdout[-500:], result.stderr[-500:])
    assert named in result.stderr, result.stderr
    assert "Error" in result.stderr


def test_bad_env_var_exits_2_naming_the_option() -> None:
    result = cli(env={"COINAPI_EMULATOR_PORT": "70000"})
    assert result.returncode == 2, result.stderr
    assert "--port" in result.stderr and "70000" in result.stderr


def test_empty_api_keys_file_exits_2(tmp_path: Path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# nobody\n\n", encoding="utf-8")
    result = cli("--api-keys", str(keys), *SMALL)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "no API key" in result.stderr


def test_port_env_var_is_honoured(log_dir: Path) -> None:
    port = free_port()
    with run_server(SMALL, log_dir, port=port, env={"COINAPI_EMULATOR_PORT": str(port)}, pass_port=False) as running:
        assert httpx.get(f"{running.http_url}/health", timeout=5).json() == {"status": "ok"}


def test_port_flag_beats_env_var(log_dir: Path) -> None:
    env_port, flag_port = free_port(), free_port()
    assert env_port != flag_port
    with run_server(SMALL, log_dir, port=flag_port, env={"COINAPI_EMULATOR_PORT": str(env_port)}):
        assert httpx.get(f"http://127.0.0.1:{flag_port}/health", timeout=5).status_code == 200
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{env_port}/health", timeout=5)


def test_api_keys_env_var_is_honoured(log_dir: Path, api_keys_file: Path) -> None:
    with run_server(SMALL, log_dir, env={"COINAPI_EMULATOR_API_KEYS": str(api_keys_file)}) as running:
        assert httpx.get(f"{running.http_url}/v1/exchanges", timeout=5).status_code == 401


async def _negotiated_extensions(url: str) -> list[str]:
    async with connect(url, compression="deflate") as ws:
        return [extension.name for extension in ws.protocol.extensions]


@pytest.mark.parametrize(("value", "expected"), [("auto", ["permessage-deflate"]), ("off", [])])
def test_compression_env_var_decides_whether_deflate_is_negotiated(
    log_dir: Path, value: str, expected: list[str]
) -> None:
    with run_server(SMALL, log_dir, env={"COINAPI_EMULATOR_COMPRESSION": value}) as running:
        assert asyncio.run(_negotiated_extensions(running.ws_url())) == expected
