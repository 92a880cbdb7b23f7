"""The plugin's settings: its command-line options, environment variables and ini options, declared and read.

A command-line option wins over an environment variable, which wins over an ini option. The admin token has no
ini option: a secret does not belong in a file under version control.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import pytest

from coinapi_emulator.server.testing.launch import DEFAULT_STARTUP_TIMEOUT_S

#: external mode: the emulator the fixtures use instead of starting their own
URL_ENV: Final = "COINAPI_EMULATOR_URL"
#: the external emulator's admin token: the variable ``serve`` itself reads for ``--admin-token``
TOKEN_ENV: Final = "COINAPI_EMULATOR_ADMIN_TOKEN"


@dataclass(frozen=True, slots=True)
class PluginSettings:
    """What the fixtures start, or which emulator they use instead."""

    #: the coinapi-emulator executable to start (None: ``emulator_command`` finds it)
    executable: str | None = None
    #: seconds to wait for a server's ``/health``, started or external
    startup_timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
    #: ``serve`` flags for the shared server, after the fixture's own (so they win)
    shared_args: tuple[str, ...] = ()
    #: external mode: the base URL of an emulator that runs already; None: the fixtures start their own
    external_url: str | None = None
    #: the external emulator's ``--admin-token``
    admin_token: str | None = None

    @classmethod
    def from_config(cls, config: pytest.Config) -> PluginSettings:
        """The settings of this pytest run."""
        return cls.resolve(config.getoption, config.getini, os.environ)

    @classmethod
    def resolve(cls, option: Callable[[str], Any], ini: Callable[[str], Any], env: Mapping[str, str]) -> PluginSettings:
        """The settings from an option lookup and an ini lookup (by ``dest`` name) and the environment."""
        shared_args = option("coinapi_emulator_shared_args")
        return cls(
            executable=first_given(option("coinapi_emulator_bin"), ini("coinapi_emulator_bin")),
            startup_timeout_s=float(ini("coinapi_emulator_startup_timeout")),
            shared_args=tuple(ini("coinapi_emulator_shared_args") if shared_args is None else shlex.split(shared_args)),
            external_url=first_given(option("coinapi_emulator_url"), env.get(URL_ENV), ini("coinapi_emulator_url")),
            admin_token=first_given(option("coinapi_emulator_admin_token"), env.get(TOKEN_ENV)),
        )


def first_given(*values: str | None) -> str | None:
    """The first value that is set and not blank (an empty variable counts as unset), stripped."""
    return next((value.strip() for value in values if value is not None and value.strip()), None)


def add_options(parser: pytest.Parser) -> None:
    """Declare the plugin's command-line and ini options."""
    group = parser.getgroup(
        "coinapi-emulator",
        "coinapi-emulator fixtures (coinapi_emulator, coinapi_emulator_factory, coinapi_emulator_shared)",
    )
    group.addoption(
        "--coinapi-emulator-bin",
        metavar="PATH",
        default=None,
        help="the coinapi-emulator executable the fixtures start (default: the one installed beside this Python, "
        "then the one on PATH); also the ini option coinapi_emulator_bin",
    )
    group.addoption(
        "--coinapi-emulator-shared-args",
        metavar="ARGS",
        default=None,
        help="more `serve` flags for the coinapi_emulator_shared server, as one shell-quoted string, e.g. "
        "'--speed 10 --exchanges 5'; also the ini option coinapi_emulator_shared_args",
    )
    group.addoption(
        "--coinapi-emulator-url",
        metavar="URL",
        default=None,
        help=f"external mode: use the emulator that runs at URL (http(s):// or ws(s)://host:port) instead of "
        f"starting one; tests that need a server of their own are skipped. Also ${URL_ENV} and the ini option "
        "coinapi_emulator_url",
    )
    group.addoption(
        "--coinapi-emulator-admin-token",
        metavar="TOKEN",
        default=None,
        help=f"the external emulator's --admin-token, for its admin API; also ${TOKEN_ENV}",
    )
    parser.addini(
        "coinapi_emulator_bin", "coinapi-emulator executable for the fixtures (--coinapi-emulator-bin wins)", default=""
    )
    parser.addini(
        "coinapi_emulator_startup_timeout",
        f"seconds the fixtures wait for an emulator's /health (default {DEFAULT_STARTUP_TIMEOUT_S:g})",
        default=str(DEFAULT_STARTUP_TIMEOUT_S),
    )
    parser.addini(
        "coinapi_emulator_shared_args",
        "more `serve` flags for the coinapi_emulator_shared server (--coinapi-emulator-shared-args wins)",
        type="args",
        default=[],
    )
    parser.addini(
        "coinapi_emulator_url",
        f"external mode: the emulator the fixtures use instead of starting one (--coinapi-emulator-url and "
        f"${URL_ENV} win)",
        default="",
    )
