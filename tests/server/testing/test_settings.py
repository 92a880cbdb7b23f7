"""The plugin's settings: command line over environment over ini, blank meaning unset; the marker's options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.testing.options import DEFAULT_START_TIME, EmulatorOptions
from coinapi_emulator.server.testing.settings import TOKEN_ENV, URL_ENV, PluginSettings

INI_DEFAULTS: dict[str, Any] = {
    "coinapi_emulator_bin": "",
    "coinapi_emulator_startup_timeout": "30.0",
    "coinapi_emulator_shared_args": [],
    "coinapi_emulator_url": "",
}

#: a source that gives no value: unset, empty, or only spaces
UNSET = st.sampled_from([None, "", "  "])
urls = st.from_regex(r"(http|ws)s?://[a-z]{1,8}:[1-9][0-9]{0,4}", fullmatch=True)


def resolve(
    options: dict[str, Any] | None = None, ini: dict[str, Any] | None = None, env: dict[str, str] | None = None
) -> PluginSettings:
    given_options = options or {}
    return PluginSettings.resolve(given_options.get, {**INI_DEFAULTS, **(ini or {})}.__getitem__, env or {})


@given(option=UNSET | urls, env=UNSET | urls, ini=UNSET | urls)
def test_the_url_comes_from_the_command_line_then_the_environment_then_the_ini_file(
    option: str | None, env: str | None, ini: str | None
) -> None:
    settings = resolve(
        options={"coinapi_emulator_url": option},
        env={} if env is None else {URL_ENV: env},
        ini={} if ini is None else {"coinapi_emulator_url": ini},
    )

    expected = next((value for value in (option, env, ini) if value and value.strip()), None)
    assert settings.external_url == expected


def test_nothing_set_means_the_fixtures_start_their_own_servers() -> None:
    assert resolve() == PluginSettings()


def test_the_admin_token_comes_from_the_command_line_then_the_environment() -> None:
    assert resolve(env={TOKEN_ENV: "from-env"}).admin_token == "from-env"
    both = resolve(options={"coinapi_emulator_admin_token": "from-option"}, env={TOKEN_ENV: "from-env"})
    assert both.admin_token == "from-option"


def test_shared_args_from_the_command_line_replace_the_ini_ones() -> None:
    ini = {"coinapi_emulator_shared_args": ["--speed", "5"]}
    assert resolve(ini=ini).shared_args == ("--speed", "5")
    quoted = {"coinapi_emulator_shared_args": "--exchanges 5 --scenario 'my scenarios/crash.toml'"}
    assert resolve(options=quoted, ini=ini).shared_args == ("--exchanges", "5", "--scenario", "my scenarios/crash.toml")


def test_the_executable_and_the_startup_timeout() -> None:
    settings = resolve(ini={"coinapi_emulator_bin": "/opt/ini-bin", "coinapi_emulator_startup_timeout": "2.5"})
    assert (settings.executable, settings.startup_timeout_s) == ("/opt/ini-bin", 2.5)
    assert resolve(options={"coinapi_emulator_bin": "/opt/cli-bin"}).executable == "/opt/cli-bin"


CUSTOM_OPTIONS: dict[str, Any] = {
    "seed": 3,
    "speed": "max",
    "scenario": "crash.toml",
    "paused": True,
    "start_time": None,
    "args": ("--exchanges", "5"),
}


@given(st.sets(st.sampled_from(sorted(CUSTOM_OPTIONS))), st.booleans())
def test_customised_names_the_options_a_marker_changes(names: set[str], restate_defaults: bool) -> None:
    defaults = {"seed": 0, "speed": 1, "paused": False, "start_time": DEFAULT_START_TIME} if restate_defaults else {}
    kwargs = {**defaults, **{name: CUSTOM_OPTIONS[name] for name in names}}

    options = EmulatorOptions.from_kwargs(kwargs, base_dir=Path("/tests"))

    assert sorted(options.customised()) == sorted(names)


@pytest.mark.parametrize(
    "kwargs",
    [{"sped": 2}, {"speed": 0}, {"speed": True}, {"speed": "fast"}, {"seed": 1.0}, {"seed": False}, {"args": "-x"}],
)
def test_bad_marker_options_are_type_errors(kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        EmulatorOptions.from_kwargs(kwargs, base_dir=Path("/tests"))
