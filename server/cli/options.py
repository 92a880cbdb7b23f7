"""Click building blocks shared by every ``coinapi-emulator`` subcommand's module.

Kept apart from ``main.py`` so that a subcommand defined in its own module (``record.py``) can use them while
``main.py`` imports that module to register it, without an import cycle.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, TypeVar

import click
from click.core import ParameterSource

from coinapi_emulator.server.config import Settings

ENV_PREFIX: Final = "COINAPI_EMULATOR_"
_DEFAULTS: Final = Settings()
F = TypeVar("F", bound=Callable[..., Any])


class EnvOption(click.Option):
    """An option that names its environment variable in an error only when the bad value came from it: click
    names it whenever ``--help`` shows it, which sends a user who typed the flag looking for a variable."""

    def get_error_hint(self, ctx: click.Context | None) -> str:
        hint = click.Parameter.get_error_hint(self, ctx)
        if ctx is not None and self.name and ctx.get_parameter_source(self.name) is ParameterSource.ENVIRONMENT:
            hint += f" (from {self.envvar})"
        return hint


def env_option(*names: str, **kwargs: Any) -> Callable[[F], F]:
    """A click option whose env var is COINAPI_EMULATOR_<LONG_NAME>, shown in --help with its default."""
    long_name = next(name for name in names if name.startswith("--"))
    envvar = ENV_PREFIX + long_name[2:].split("/")[0].replace("-", "_").upper()
    return click.option(*names, cls=EnvOption, envvar=envvar, show_envvar=True, show_default=True, **kwargs)


#: ``--out``: the recording ``record`` and ``import`` write
recording_out_option = env_option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="The recording to write (gzip JSON lines, e.g. btc.jsonl.gz); an existing file is replaced.",
)


def file_option(name: str, help: str) -> Callable[[F], F]:
    """An ``env_option`` naming a file that must exist; None when not given."""
    return env_option(name, type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None, help=help)


class StartTimeType(click.ParamType[int, Any]):
    """An ISO 8601 time; without an offset it is UTC. Converted to ns since the epoch."""

    name = "ISO-TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        try:
            parsed = dt.datetime.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time such as 2024-01-01T00:00:00Z", param, ctx)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=dt.UTC)
        delta = parsed - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def catalogue_options(command: F) -> F:
    """``--seed``, ``--exchanges``, ``--max-symbols-per-exchange`` and ``--start-time``: what decides the market and
    its catalogue, for ``serve`` and for ``symbols`` (which lists what ``serve`` would)."""
    options = [
        env_option(
            "--seed",
            default=_DEFAULTS.seed,
            type=int,
            help="Market seed: the same seed, start time and flags give the same market.",
        ),
        env_option(
            "--start-time",
            type=StartTimeType(),
            default=None,
            help="Virtual start time (ISO 8601). When given, the clock is virtual and every timestamp derives from it, "
            "so runs are reproducible byte for byte. Default: now, on the wall clock.",
        ),
        env_option(
            "--exchanges",
            default=_DEFAULTS.exchanges,
            type=click.IntRange(1, 5000),
            help="Exchanges in the catalogue (the real list has 400; more are generated).",
        ),
        env_option(
            "--max-symbols-per-exchange",
            default=_DEFAULTS.max_symbols_per_exchange,
            type=click.IntRange(1, 1000),
            help="Symbols on the biggest exchanges; smaller venues list fewer.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command
