"""The pytest plugin's shared server, its asyncio controls and its external mode, as a user's test run sees them.

One user test file runs twice: with servers the plugin starts (one shared for the session, private markets per
seed), then against an emulator started beforehand (``COINAPI_EMULATOR_URL``), where the tests that need a server
of their own skip and the rest pass unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest

from coinapi_emulator.server.testing.admin_client import AdminError
from coinapi_emulator.server.testing.handle import EmulatorHandle
from coinapi_emulator.server.testing.launch import emulator_command, start_emulator
from coinapi_emulator.server.testing.options import EmulatorOptions

from .processes import free_port

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("plugin_env")]

EXAMPLE: Final = Path(__file__).resolve().parents[2] / "examples" / "pytest-project"
TOKEN: Final = "s3cret"
#: the shared server's flags in the user's ini file; the external server is started with the same
SHARED_ARGS: Final = ("--speed", "20", "--exchanges", "5")

#: A user's test file: the shared server's private markets, asyncio controls on the shared and on an own server,
#: the per-test fixture with and without options, the factory, and a failure.
USER_TESTS: Final = textwrap.dedent(
    """
    import asyncio
    import json

    import pytest
    from websockets.asyncio.client import connect as connect_async
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    START_NS = 1_704_067_200_000_000_000  # the default start time, 2024-01-01T00:00:00Z
    HELLO = json.dumps({"type": "hello", "apikey": "k", "heartbeat": False, "subscribe_data_type": ["trade"],
                        "subscribe_filter_exchange_id": ["BINANCE"]})
    LATER = 'name = "later"\\n[[events]]\\nat = "1h"\\ntype = "price_jump"\\nasset = "BTC"\\npercent = 5\\n'


    def record(name, *values):
        with open(name, "a") as out:
            out.write(" ".join(map(str, values)) + "\\n")


    @pytest.mark.parametrize("run, seed", [(1, 3), (2, 3), (3, 4)])
    def test_private_markets_on_the_shared_server(coinapi_emulator_shared, run, seed):
        shared = coinapi_emulator_shared
        record("shared.txt", shared.port, shared.process and shared.process.pid)
        assert shared.url_for(seed=seed) == shared.url + f"?seed={seed}"
        with connect(shared.url_for(seed=seed)) as ws:
            ws.send(HELLO)
            frames = [ws.recv(timeout=10) for _ in range(30)]
        with open(f"frames-{run}.json", "w") as out:
            json.dump(frames, out)
        assert json.loads(frames[0])["time_exchange"].startswith("2024-01-01T00:00:0")
        assert shared.status()["speed"] == 20.0  # the shared server's flags


    async def fault_own_connection(shared):
        async with connect_async(shared.url_for(seed=9)) as ws:
            await ws.send(HELLO)
            await asyncio.wait_for(ws.recv(), 10)  # the hello took effect: the connection is listed with its seed
            mine = [client["id"] for client in (await shared.aio.status())["clients"] if client.get("seed") == 9]
            assert len(mine) == 1
            assert (await shared.aio.inject_fault("close", code=4002, connections=mine))["connections"] == 1
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 4002


    def test_async_fault_on_its_own_connection_to_the_shared_server(coinapi_emulator_shared):
        asyncio.run(fault_own_connection(coinapi_emulator_shared))


    async def drive(aio, url):
        async with connect_async(url) as ws:
            # the wait starts first: it only sees the subscriber if the event loop sends the hello meanwhile
            status, _ = await asyncio.gather(aio.wait_for_subscribers(1, timeout_s=10), ws.send(HELLO))
            assert (status["paused"], status["time_ns"]) == (True, START_NS)
            stepped = await aio.step(2)
            assert stepped["time_ns"] == START_NS + 2_000_000_000
            trades = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(stepped["messages_sent"])]
            assert trades and all(trade["time_exchange"] <= "2024-01-01T00:00:02.0000000Z" for trade in trades)
            assert (await aio.set_speed("max"))["speed"] == "max"
            assert (await aio.resume())["paused"] is False
            assert (await aio.wait_for_messages(len(trades) + 100))["messages_sent"] >= len(trades) + 100
            assert (await aio.pause())["paused"] is True
            assert (await aio.load_scenario(LATER))["name"] == "later"
            assert (await aio.status())["scenarios"] == ["later"]
            assert (await aio.inject_fault("close", code=4001))["connections"] == 1
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd.code == 4001


    @pytest.mark.coinapi_emulator(paused=True, args=("--exchanges", "5"))
    def test_async_controls_of_an_own_server(coinapi_emulator):
        record("own.txt", coinapi_emulator.port)
        asyncio.run(drive(coinapi_emulator.aio, coinapi_emulator.url))


    @pytest.mark.coinapi_emulator(seed=3, args=("--exchanges", "5"))
    def test_marker_with_options(coinapi_emulator):
        assert coinapi_emulator.options.seed == 3


    def test_factory(coinapi_emulator_factory):
        assert coinapi_emulator_factory(args=("--exchanges", "5")).running


    def test_per_test_fixture_without_options(coinapi_emulator, coinapi_emulator_shared):
        record("plain.txt", coinapi_emulator.url, coinapi_emulator.process is None,
               coinapi_emulator is coinapi_emulator_shared, coinapi_emulator.status()["speed"])
        record("logs.txt", coinapi_emulator.logs())


    def test_failure_on_the_shared_server(coinapi_emulator_shared):
        assert coinapi_emulator_shared.status()["connections"] == 99, "deliberate failure"
    """
)


@pytest.fixture
def external_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorHandle]:
    """An emulator that runs before the user's test run starts, with an admin token, as a CI service would."""
    options = EmulatorOptions(args=(*SHARED_ARGS, "--admin-token", TOKEN))
    handle = start_emulator(options, command=emulator_command(), log_dir=tmp_path_factory.mktemp("external"))
    try:
        yield handle
    finally:
        handle.stop()


def run_user_tests(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    pytester.makepyfile(test_user=USER_TESTS)
    pytester.makeini(f"[pytest]\ncoinapi_emulator_shared_args = {' '.join(SHARED_ARGS)}\n")
    return pytester.runpytest_subprocess("--strict-markers", "-p", "no:cacheprovider", "-rs", *args, timeout=120)


def lines(pytester: pytest.Pytester, name: str) -> list[str]:
    return (pytester.path / name).read_text().splitlines()


def frames(pytester: pytest.Pytester, run: int) -> list[Any]:
    loaded: list[Any] = json.loads((pytester.path / f"frames-{run}.json").read_text())
    return loaded


def test_one_shared_server_for_the_session_with_a_private_market_per_seed(pytester: pytest.Pytester) -> None:
    result = run_user_tests(pytester)

    result.assert_outcomes(passed=8, failed=1)
    (shared,) = set(lines(pytester, "shared.txt"))  # three tests, one server
    port, pid = shared.split()
    with pytest.raises(ProcessLookupError):  # stopped (and reaped) at the end of the session
        os.kill(int(pid), 0)
    assert frames(pytester, 1) == frames(pytester, 2) != frames(pytester, 3)  # the same seed, the same market
    assert lines(pytester, "own.txt") != [port]
    assert lines(pytester, "plain.txt")[0].endswith(" False False 1.0")  # a server of its own, default options
    assert "Uvicorn running on" in (pytester.path / "logs.txt").read_text()
    result.stdout.fnmatch_lines(
        [
            "*test_failure_on_the_shared_server*",
            "*deliberate failure*",
            f"*coinapi-emulator ws://127.0.0.1:{port}/v1/ output (call)*",
            "*market: 5 exchanges*",
        ],
        consecutive=False,
    )


def test_external_mode_uses_the_running_emulator_and_skips_what_needs_its_own(
    pytester: pytest.Pytester, plugin_env: pytest.MonkeyPatch, external_server: EmulatorHandle
) -> None:
    plugin_env.setenv("COINAPI_EMULATOR_URL", external_server.url)  # a ws:// URL, as a client's config has it
    plugin_env.setenv("COINAPI_EMULATOR_ADMIN_TOKEN", TOKEN)
    with pytest.raises(AdminError, match="401"):  # the admin API needs the token: the tests' calls must send it
        external_server.status()

    result = run_user_tests(pytester)

    result.assert_outcomes(passed=5, skipped=3, failed=1)
    assert lines(pytester, "shared.txt") == [f"{external_server.port} None"] * 3
    assert frames(pytester, 1) == frames(pytester, 2) != frames(pytester, 3)
    assert lines(pytester, "plain.txt") == [f"{external_server.url} True True 20.0"]
    assert lines(pytester, "logs.txt") == [
        f"(no logs: the emulator at {external_server.http_url} runs outside this test session)"
    ]
    result.stdout.fnmatch_lines(
        [
            "SKIPPED * needs an emulator of its own (its marker sets paused, args); external mode *",
            "SKIPPED * needs an emulator of its own (its marker sets seed, args); external mode *",
            "SKIPPED * coinapi_emulator_factory starts emulators of its own; external mode * starts none",
        ],
        consecutive=False,
    )
    result.stdout.no_fnmatch_line("*coinapi-emulator * output (call)*")  # no logs of a server it did not start
    assert external_server.running


def test_the_example_project_in_external_mode(pytester: pytest.Pytester, external_server: EmulatorHandle) -> None:
    """The example's shared-server tests pass against an emulator started beforehand; the rest skip (the example
    in its own mode: tests/e2e/test_wheel.py)."""
    shutil.copytree(EXAMPLE, pytester.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))

    url = external_server.http_url
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--coinapi-emulator-url", url, timeout=120)

    result.assert_outcomes(passed=2, skipped=4)
    result.stdout.fnmatch_lines(["*test_shared_server.py ..*"])


def test_an_unreachable_emulator_or_a_bad_setting_stops_the_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses_it(coinapi_emulator_shared):\n    pass\n")
    url = f"http://127.0.0.1:{free_port()}"

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)

    unreachable = run("--coinapi-emulator-url", url, "-o", "coinapi_emulator_startup_timeout=0.5")
    malformed = run("--coinapi-emulator-url", "127.0.0.1:8765")
    unclosed = run("--coinapi-emulator-shared-args", "--scenario 'my scenario.toml")

    assert unreachable.ret == malformed.ret == unclosed.ret == pytest.ExitCode.USAGE_ERROR
    unreachable.stderr.fnmatch_lines(
        [f"ERROR: coinapi-emulator: no coinapi-emulator answered {url}/health within 0.5 s*"]
    )
    malformed.stderr.fnmatch_lines(["ERROR: coinapi-emulator: an emulator URL starts with http://, https://, ws://*"])
    unclosed.stderr.fnmatch_lines(["ERROR: coinapi-emulator: No closing quotation"])


def test_the_help_lists_every_option(pytester: pytest.Pytester) -> None:
    help_text = pytester.runpytest_subprocess("--help").stdout.str()
    for name in ("--coinapi-emulator-url", "--coinapi-emulator-admin-token", "--coinapi-emulator-shared-args"):
        assert name in help_text
    for ini in ("coinapi_emulator_url", "coinapi_emulator_shared_args"):
        assert ini in help_text
