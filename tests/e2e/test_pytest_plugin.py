"""The pytest plugin (``server/testing/pytest_plugin.py``) as users get it: loaded through its ``pytest11`` entry point.

The pytester tests run test files that use the fixtures in a pytest process of their own. The shared server, the
asyncio controls and external mode: test_pytest_plugin_modes.py. The plugin as a wheel installs it, beside
``examples/pytest-project/`` and beside a project with a ``server/`` package of its own: tests/e2e/test_wheel.py.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Final

import pytest

pytest_plugins = ["pytester"]
pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("plugin_env")]

REPO: Final = Path(__file__).resolve().parents[2]
README: Final = REPO / "README.md"

#: A user's test file: every option of the marker, the handle's controls, the factory, and three ways to fail.
USER_TESTS: Final = textwrap.dedent(
    """
    import time
    from pathlib import Path

    import pytest
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    pytestmark = pytest.mark.coinapi_emulator(seed=5, args=("--exchanges", "5"))  # five exchanges start fast
    START_NS = 1_704_067_200_000_000_000  # the default start time, 2024-01-01T00:00:00Z
    HELLO = (
        '{"type": "hello", "apikey": "k", "heartbeat": false, "subscribe_data_type": ["trade"],'
        ' "subscribe_filter_exchange_id": ["BINANCE"]}'
    )


    def record(*handles):
        with open("pids.txt", "a") as pids:
            pids.writelines(f"{handle.process.pid}\\n" for handle in handles)


    @pytest.mark.coinapi_emulator(paused=True, scenario="scenarios/crash.toml")
    def test_marker_options_and_clock(coinapi_emulator):
        record(coinapi_emulator)
        assert coinapi_emulator.options.seed == 5  # the module's marker, merged with this one
        assert coinapi_emulator.url == f"ws://127.0.0.1:{coinapi_emulator.port}/v1/"
        assert coinapi_emulator.http_url == f"http://127.0.0.1:{coinapi_emulator.port}"
        status = coinapi_emulator.status()
        assert (status["paused"], status["time_ns"], status["scenarios"]) == (True, START_NS, ["crash"])
        time.sleep(0.2)
        assert coinapi_emulator.status()["time_ns"] == START_NS
        assert coinapi_emulator.step(1.5)["time_ns"] == START_NS + 1_500_000_000
        assert coinapi_emulator.set_speed("max")["speed"] == "max"
        assert coinapi_emulator.resume()["paused"] is False
        while coinapi_emulator.status()["time_ns"] < START_NS + 3_000_000_000:
            time.sleep(0.01)
        assert coinapi_emulator.pause()["paused"] is True
        assert "Uvicorn running on" in coinapi_emulator.logs()


    def test_messages_faults_and_scenarios(coinapi_emulator, tmp_path):
        record(coinapi_emulator)
        with connect(coinapi_emulator.url) as ws:
            ws.send(HELLO)
            assert coinapi_emulator.wait_for_subscribers(1)["connections"] == 1
            assert coinapi_emulator.wait_for_messages(3, timeout_s=20)["messages_sent"] >= 3
            later = 'name = "{}"\\n[[events]]\\nat = "1h"\\ntype = "price_jump"\\nasset = "BTC"\\npercent = 5\\n'
            assert coinapi_emulator.load_scenario(later.format("text"))["name"] == "text"
            (tmp_path / "later.toml").write_text(later.format("file"))
            assert coinapi_emulator.load_scenario(tmp_path / "later.toml")["name"] == "file"
            assert coinapi_emulator.inject_fault("close", code=4000, reason="test")["connections"] == 1
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    ws.recv(timeout=10)
            assert closed.value.rcvd.code == 4000


    def test_factory_starts_independent_emulators(coinapi_emulator_factory):
        first = coinapi_emulator_factory(seed=1, speed="max", paused=True)
        second = coinapi_emulator_factory(seed=1, start_time="2025-06-01T00:00:00Z", paused=True)
        record(first, second)
        assert first.port != second.port
        assert first.status()["speed"] == "max"
        assert second.status()["time"].startswith("2025-06-01T00:00:00")
        second.stop()
        assert not second.running and first.running


    def test_failure_shows_the_server_output(coinapi_emulator):
        record(coinapi_emulator)
        assert coinapi_emulator.status()["connections"] == 1, "deliberate failure"


    @pytest.mark.coinapi_emulator(args=("--exchanges", "0"))
    def test_bad_flags_error_at_setup(coinapi_emulator):
        pass


    @pytest.mark.coinapi_emulator(sped=3)
    def test_unknown_option_errors_at_setup(coinapi_emulator):
        pass
    """
)

CRASH_SCENARIO: Final = 'name = "crash"\n[[events]]\nat = "10s"\ntype = "price_jump"\nasset = "BTC"\npercent = -8\n'


def test_fixtures_in_a_users_test_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_user=USER_TESTS)
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "crash.toml").write_text(CRASH_SCENARIO, encoding="utf-8")

    result = pytester.runpytest_subprocess("--strict-markers", "-p", "no:cacheprovider", timeout=120)

    result.assert_outcomes(passed=3, failed=1, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_bad_flags_error_at_setup*",
            "*exited with code 2 before /health answered*",
            "*Invalid value for '--exchanges'*",
            "*ERROR at setup of test_unknown_option_errors_at_setup*",
            "*unknown coinapi_emulator option(s)*sped*",
            "*test_failure_shows_the_server_output*",
            "*coinapi-emulator ws://127.0.0.1:*/v1/ output (call)*",
            "*Uvicorn running on http://127.0.0.1:*",
        ],
        consecutive=False,
    )
    pids = [int(line) for line in (pytester.path / "pids.txt").read_text().split()]
    assert len(pids) == 5
    for pid in pids:  # every emulator was stopped (and reaped) at teardown
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_readme_examples_pass(pytester: pytest.Pytester) -> None:
    """The section's Python blocks, one after the other, are one test file whose every test passes."""
    section = README.read_text(encoding="utf-8").split("## Testing your code with the pytest fixture", 1)[1]
    section = section.split("\n## ", 1)[0]
    code = "\n".join(block.split("```", 1)[0] for block in section.split("```python\n")[1:])
    pytester.makepyfile(test_readme=code)

    result = pytester.runpytest_subprocess("--strict-markers", "-W", "error", "-p", "no:cacheprovider", timeout=120)

    result.assert_outcomes(passed=code.count("\ndef test_"))


def test_option_help_and_bad_executable(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_uses_it(coinapi_emulator):\n    pass\n")
    assert "--coinapi-emulator-bin" in pytester.runpytest_subprocess("--help").stdout.str()

    result = pytester.runpytest_subprocess("--coinapi-emulator-bin", str(pytester.path / "missing"))

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*cannot run '*missing'*--coinapi-emulator-bin*"])
