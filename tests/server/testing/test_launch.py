"""Which ``coinapi-emulator`` the fixtures start (the fixtures themselves run real servers: tests/e2e)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from coinapi_emulator.server.testing.launch import emulator_command


def test_an_override_wins() -> None:
    assert emulator_command("/opt/bin/coinapi-emulator") == ["/opt/bin/coinapi-emulator"]


def test_the_script_beside_this_python_comes_first() -> None:
    assert emulator_command() == [str(Path(sys.executable).parent / "coinapi-emulator")]


def test_without_a_script_the_module_runs_with_this_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path))
    assert emulator_command() == [str(tmp_path / "python"), "-m", "coinapi_emulator.server.cli"]


def test_the_module_form_serves_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "coinapi_emulator.server.cli", "serve", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "Usage: coinapi-emulator serve" in result.stdout
