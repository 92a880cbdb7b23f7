"""The shared option helper (server/cli/options.py): every flag, boolean ones included, is also an env var."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from coinapi_emulator.server.cli import main as cli
from coinapi_emulator.server.cli import serve
from coinapi_emulator.server.config import Settings


def test_boolean_flag_env_var_is_named_after_the_flag_and_read(monkeypatch: pytest.MonkeyPatch) -> None:
    # "--strict-filters/--no-strict-filters" must give COINAPI_EMULATOR_STRICT_FILTERS, not a name with the
    # "/--no-..." half in it (which no shell can set).
    captured: list[Settings] = []
    monkeypatch.setattr(serve, "run", captured.append)
    result = CliRunner().invoke(cli.main, ["serve"], env={"COINAPI_EMULATOR_STRICT_FILTERS": "1"})
    assert result.exit_code == 0, result.output
    assert captured[0].strict_filters is True
    help_text = " ".join(CliRunner().invoke(cli.main, ["serve", "--help"], terminal_width=200).output.split())
    assert "env var: COINAPI_EMULATOR_STRICT_FILTERS;" in help_text


def test_record_command_is_registered_with_env_vars() -> None:
    result = CliRunner().invoke(cli.main, ["record", "--help"], terminal_width=200)
    assert result.exit_code == 0
    help_text = " ".join(result.output.split())
    for envvar in ("URL", "HELLO", "HELLO_FILE", "API_KEY", "OUT", "DURATION", "MAX_MESSAGES"):
        assert f"env var: COINAPI_EMULATOR_{envvar}" in help_text
