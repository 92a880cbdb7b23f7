"""How to start one emulator: the ``coinapi_emulator`` marker's and the factory's keyword arguments, checked."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

DEFAULT_START_TIME: Final = "2024-01-01T00:00:00Z"

Speed = float | Literal["max"]


@dataclass(frozen=True, slots=True)
class EmulatorOptions:
    """How to start one emulator: the marker's and the factory's keyword arguments."""

    #: market seed: the same seed, start time and flags give the same market
    seed: int = 0
    #: virtual seconds per wall second, or "max"
    speed: Speed = 1.0
    #: a scenario TOML file (``--scenario``); a relative path is relative to the test file's directory
    scenario: Path | None = None
    #: start with the virtual clock paused (``--paused``): nothing happens until ``step()`` or ``resume()``
    paused: bool = False
    #: virtual start time (ISO 8601); None = now, on the wall clock (not reproducible)
    start_time: str | None = DEFAULT_START_TIME
    #: further ``serve`` flags, after the fixture's own (so they win), e.g. ``("--exchanges", "5")``
    args: tuple[str, ...] = ()

    @classmethod
    def from_kwargs(cls, kwargs: Mapping[str, Any], *, base_dir: Path) -> EmulatorOptions:
        """Check and convert marker/factory keyword arguments; unknown names and bad values raise ``TypeError``."""
        __tracebackhide__ = True
        unknown = set(kwargs) - set(cls.__slots__)
        if unknown:
            raise TypeError(f"unknown coinapi_emulator option(s) {sorted(unknown)}; known: {list(cls.__slots__)}")
        speed = kwargs.get("speed", 1.0)
        if speed != "max" and (isinstance(speed, bool) or not isinstance(speed, int | float) or not speed > 0):
            raise TypeError(f"speed must be a positive number or 'max', not {speed!r}")
        seed = kwargs.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, not {seed!r}")
        args = kwargs.get("args", ())
        if isinstance(args, str):
            raise TypeError(f"args must be a sequence of strings such as ('--exchanges', '5'), not {args!r}")
        scenario = kwargs.get("scenario")
        return cls(
            seed=seed,
            speed="max" if speed == "max" else float(speed),
            scenario=None if scenario is None else base_dir / Path(scenario),
            paused=bool(kwargs.get("paused", False)),
            start_time=kwargs.get("start_time", DEFAULT_START_TIME),
            args=tuple(str(arg) for arg in args),
        )

    def customised(self) -> list[str]:
        """The options that differ from the defaults: what only a server started for them can give."""
        default = EmulatorOptions()
        return [
            field.name
            for field in dataclasses.fields(self)
            if getattr(self, field.name) != getattr(default, field.name)
        ]

    def serve_args(self, port: int) -> list[str]:
        """The ``serve`` flags for this configuration on ``port``."""
        argv = ["--host", "127.0.0.1", "--port", str(port), "--admin", "--shutdown-grace", "0"]
        argv += ["--seed", str(self.seed), "--speed", "max" if self.speed == "max" else repr(self.speed)]
        if self.start_time is not None:
            argv += ["--start-time", self.start_time]
        if self.paused:
            argv.append("--paused")
        if self.scenario is not None:
            argv += ["--scenario", str(self.scenario)]
        return argv + list(self.args)
