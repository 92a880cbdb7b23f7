"""Click building blocks shared by every ``coinapi-emulator`` subcommand's module.

Kept apart from ``main.py`` so that a subcommand defined in its own module (``record.py``) can use them while
``main.py`` imports that module to register it, without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import click

ENV_PREFIX: Final = "COINAPI_EMULATOR_"
F = TypeVar("F", bound=Callable[..., Any])


def env_option(*names: str, **kwargs: Any) -> Callable[[F], F]:
    """A click option whose env var is COINAPI_EMULATOR_<LONG_NAME>, shown in --help with its default."""
    long_name = next(name for name in names if name.startswith("--"))
    envvar = ENV_PREFIX + long_name[2:].split("/")[0].replace("-", "_").upper()
    return click.option(*names, envvar=envvar, show_envvar=True, show_default=True, **kwargs)


def file_option(name: str, help: str) -> Callable[[F], F]:
    """An ``env_option`` naming a file that must exist; None when not given."""
    return env_option(name, type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help=help)
