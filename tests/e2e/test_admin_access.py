"""The admin API's gate on a real server (issue 14, item 9): a token from a file, the warning when the port is
reachable from other machines, and a token without ``--admin`` refused at start."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from coinapi_emulator.server.testing.admin_client import AdminClient, AdminError

from .processes import START_TIME, run_server, serve_argv
from .test_cli import CLI_TIMEOUT_S, SMALL

pytestmark = pytest.mark.e2e

TOKEN = "a-long-random-admin-token"


def test_a_token_file_opens_the_admin_api_to_the_token_only_and_exposure_is_logged(tmp_path: Path) -> None:
    token_file = tmp_path / "admin-token"
    token_file.write_text(TOKEN + "\n")
    args = [*SMALL, "--host", "0.0.0.0", "--admin", "--admin-token-file", str(token_file), "--log-level", "debug"]
    with run_server(args, tmp_path) as running:
        with pytest.raises(AdminError) as refused:
            AdminClient(running.http_url).status()
        assert refused.value.status == 401
        assert AdminClient(running.http_url, token=TOKEN).pause()["paused"] is True
        log = running.log()
    assert "the admin API is on and --host 0.0.0.0 is not loopback" in log
    assert TOKEN not in log


def test_without_a_token_the_admin_api_answers_this_machine(tmp_path: Path) -> None:
    with run_server([*SMALL, "--admin", "--start-time", START_TIME], tmp_path) as running:
        assert AdminClient(running.http_url).resume()["paused"] is False
        assert "not loopback" not in running.log()


def test_a_token_without_admin_exits_2() -> None:
    result = subprocess.run(
        serve_argv(*SMALL, "--admin-token", TOKEN), capture_output=True, text=True, timeout=CLI_TIMEOUT_S
    )
    assert result.returncode == 2 and "needs --admin" in result.stderr
