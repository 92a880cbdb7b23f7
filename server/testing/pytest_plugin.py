"""pytest plugin: fixtures that run a real ``coinapi-emulator serve`` per test and hand it over with a control handle.

Installing the package registers this module (entry point ``pytest11: coinapi_emulator``), so any project with
coinapi-emulator installed gets:

- the ``coinapi_emulator`` fixture: a fresh emulator on a free port with ``--admin``, configured by the
  ``@pytest.mark.coinapi_emulator(seed=..., speed=..., scenario=..., paused=..., start_time=..., args=...)``
  marker, yielded as an ``EmulatorHandle`` (``.url``, ``.pause()``, ``.step(s)``, ``.inject_fault(...)``,
  ``.wait_for_messages(n)``, ``.logs()``) and stopped after the test;
- the ``coinapi_emulator_factory`` fixture: ``factory(**the same options) -> EmulatorHandle``, for several
  emulators or options chosen in the test body; everything it started is stopped after the test.

Each server is a subprocess (its own event loop and GIL, as in production), started with
``--shutdown-grace 0`` so teardown is quick, with the ``COINAPI_EMULATOR_*`` environment variables removed so
only the marker configures it. A failed test gets the tail of each of its servers' output as a report section.

This module imports only the standard library and pytest: it is loaded in every pytest run of an environment
where the package is installed, so it must not pull in the server (starlette, uvicorn, ...).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Literal

import pytest

if TYPE_CHECKING:
    from coinapi_emulator.server.testing.admin_client import AdminClient

__all__ = ["EmulatorFactory", "EmulatorHandle", "EmulatorOptions", "EmulatorStartError"]

MARKER: Final = "coinapi_emulator"
DEFAULT_START_TIME: Final = "2024-01-01T00:00:00Z"
DEFAULT_STARTUP_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 10.0
#: how much of a server's output goes into a failed test's report, and into a start-up error
REPORT_TAIL_CHARS: Final = 8_000
#: a free port found by binding port 0 can be taken before the server binds it: retry with another
START_ATTEMPTS: Final = 3
ENV_PREFIX: Final = "COINAPI_EMULATOR_"

Speed = float | Literal["max"]


class EmulatorStartError(RuntimeError):
    """The emulator exited or did not answer ``/health`` in time; the message ends with its output."""


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


class EmulatorHandle:
    """One running emulator: where to connect, and its admin API (clock, faults, scenarios, counters).

    The control methods return the admin API's JSON answer; ``status()`` has at least ``time``, ``time_ns``,
    ``speed``, ``paused``, ``connections``, ``messages_sent`` and ``bytes_sent``.
    """

    def __init__(
        self, *, port: int, process: subprocess.Popen[bytes], log_path: Path, options: EmulatorOptions
    ) -> None:
        from coinapi_emulator.server.testing.admin_client import (
            AdminClient,  # urllib.request is slow to import: only once a server starts
        )

        self.port = port
        self.process = process
        self.log_path = log_path
        self.options = options
        #: the full admin API client (server/testing/admin_client.py)
        self.admin: AdminClient = AdminClient(self.http_url)

    def __repr__(self) -> str:
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        return f"<EmulatorHandle {self.url} seed={self.options.seed} {state}>"

    @property
    def url(self) -> str:
        """The WebSocket URL to give the code under test: ``ws://127.0.0.1:PORT/v1/``."""
        return f"ws://127.0.0.1:{self.port}/v1/"

    @property
    def http_url(self) -> str:
        """The REST base URL: ``http://127.0.0.1:PORT`` (``/v1/symbols``, ``/health``, ``/admin/...``)."""
        return f"http://127.0.0.1:{self.port}"

    def status(self) -> dict[str, Any]:
        """Virtual time, speed, paused, connections and the sent-message and byte counters."""
        return self.admin.status()

    def pause(self) -> dict[str, Any]:
        """Freeze virtual time; connections stay open."""
        return self.admin.pause()

    def resume(self) -> dict[str, Any]:
        """Let virtual time run again."""
        return self.admin.resume()

    def step(self, seconds: float) -> dict[str, Any]:
        """Move virtual time forward by ``seconds`` now and publish everything that happens in between."""
        return self.admin.step(seconds)

    def set_speed(self, speed: Speed) -> dict[str, Any]:
        """Virtual seconds per wall second, or ``"max"``."""
        return self.admin.set_speed(speed)

    def inject_fault(self, fault: str, **params: Any) -> dict[str, Any]:
        """Apply a transport fault now, e.g. ``inject_fault("close", code=1001)`` (README "Faults")."""
        return self.admin.inject_fault(fault, **params)

    def load_scenario(self, text_or_path: str | os.PathLike[str]) -> dict[str, Any]:
        """Load a scenario: a path (``Path``, or a one-line ``str`` naming an existing file) or TOML text."""
        if isinstance(text_or_path, os.PathLike) or ("\n" not in text_or_path and Path(text_or_path).is_file()):
            text = Path(text_or_path).read_text(encoding="utf-8")
        else:
            text = text_or_path
        return self.admin.load_scenario(text)

    def wait_for_messages(self, count: int, timeout_s: float = 30.0) -> dict[str, Any]:
        """Block until the server has sent at least ``count`` messages in all; the status. ``TimeoutError`` if not."""
        return self.admin.wait_for_messages(count, timeout_s=timeout_s)

    def wait_for_subscribers(self, count: int = 1, timeout_s: float = 10.0) -> dict[str, Any]:
        """Block until at least ``count`` connections have a subscription (their ``hello`` was processed); the
        status. Call it before ``step()`` on a paused server, so the step's messages reach the code under test."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status()
            subscribed = sum(1 for client in status["clients"] if client["routes"] > 0)
            if subscribed >= count:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"{subscribed} of {count} connections subscribed after {timeout_s} s")
            time.sleep(0.02)

    def logs(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        """Stop the server (SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``); its exit code (``-15`` for a clean
        stop on POSIX: uvicorn re-raises the signal once it has shut down). Safe to call twice."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        return self.process.returncode


EmulatorFactory = Callable[..., EmulatorHandle]


# -- starting a server ------------------------------------------------------------------------------------------


def _free_port() -> int:
    """A TCP port that was free a moment ago (bind port 0 and read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def emulator_command(override: str | None = None) -> list[str]:
    """How to run ``coinapi-emulator``: ``override``, else the console script beside ``sys.executable``, else the
    one on ``PATH``, else ``python -m coinapi_emulator.server.cli`` with this interpreter."""
    __tracebackhide__ = True
    if override:
        return [override]
    script = "coinapi-emulator.exe" if sys.platform == "win32" else "coinapi-emulator"
    beside_python = Path(sys.executable).parent / script
    if beside_python.is_file():
        return [str(beside_python)]
    on_path = shutil.which("coinapi-emulator")
    if on_path is not None:
        return [on_path]
    if importlib.util.find_spec("coinapi_emulator.server.cli") is not None:
        return [sys.executable, "-m", "coinapi_emulator.server.cli"]
    raise EmulatorStartError("coinapi-emulator not found: install the package or pass --coinapi-emulator-bin PATH")


def _tail(text: str) -> str:
    return text if len(text) <= REPORT_TAIL_CHARS else "...\n" + text[-REPORT_TAIL_CHARS:]


def _healthy(http_url: str) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(http_url + "/health", timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_emulator(
    options: EmulatorOptions, *, command: Sequence[str], log_dir: Path, timeout_s: float = DEFAULT_STARTUP_TIMEOUT_S
) -> EmulatorHandle:
    """Start ``serve`` on a free port and return it once ``GET /health`` answers; the caller must ``stop()`` it.

    Raises ``EmulatorStartError`` (with the server's output) if it exits first or is not healthy in ``timeout_s``.
    """
    __tracebackhide__ = True  # a failed start shows the test's line and the server output, not this loop
    env = {name: value for name, value in os.environ.items() if not name.startswith(ENV_PREFIX)}
    for attempt in range(1, START_ATTEMPTS + 1):
        port = _free_port()
        log_path = log_dir / f"coinapi-emulator-{port}.log"
        argv = [*command, "serve", *options.serve_args(port)]
        with log_path.open("wb") as log:
            try:
                process = subprocess.Popen(
                    argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
                )
            except OSError as error:
                raise EmulatorStartError(f"cannot run {argv[0]!r} ({error}); see --coinapi-emulator-bin") from None
        handle = EmulatorHandle(port=port, process=process, log_path=log_path, options=options)
        deadline = time.monotonic() + timeout_s
        while not _healthy(handle.http_url):
            if process.poll() is not None:
                output = handle.logs()
                if "address already in use" in output.lower() and attempt < START_ATTEMPTS:
                    break  # lost the port race: try another port
                raise EmulatorStartError(
                    f"coinapi-emulator exited with code {process.returncode} before /health answered.\n"
                    f"command: {' '.join(argv)}\noutput:\n{_tail(output)}"
                )
            if time.monotonic() > deadline:
                handle.stop()
                raise EmulatorStartError(
                    f"coinapi-emulator did not answer {handle.http_url}/health within {timeout_s} s.\n"
                    f"command: {' '.join(argv)}\noutput:\n{_tail(handle.logs())}"
                )
            time.sleep(0.05)
        else:
            return handle
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


# -- pytest hooks and fixtures ----------------------------------------------------------------------------------

_STARTED: Final = pytest.StashKey[list[EmulatorHandle]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup(
        "coinapi-emulator", "coinapi-emulator fixtures (coinapi_emulator, coinapi_emulator_factory)"
    )
    group.addoption(
        "--coinapi-emulator-bin",
        metavar="PATH",
        default=None,
        help="the coinapi-emulator executable the fixtures start (default: the one installed beside this Python, "
        "then the one on PATH); also the ini option coinapi_emulator_bin",
    )
    parser.addini(
        "coinapi_emulator_bin", "coinapi-emulator executable for the fixtures (--coinapi-emulator-bin wins)", default=""
    )
    parser.addini(
        "coinapi_emulator_startup_timeout",
        f"seconds the fixtures wait for an emulator's /health (default {DEFAULT_STARTUP_TIMEOUT_S:g})",
        default=str(DEFAULT_STARTUP_TIMEOUT_S),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(seed=0, speed=1.0, scenario=None, paused=False, start_time='{DEFAULT_START_TIME}', args=()): "
        "configure the coinapi_emulator fixture's server (speed may be 'max'; scenario is a TOML file path, "
        "relative to the test file; start_time=None runs on the wall clock; args are extra `serve` flags)",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """When a test fails, add each of its emulators' output to the report (shown with the failure)."""
    report: pytest.TestReport = yield
    if report.failed:
        for handle in item.stash.get(_STARTED, []):
            report.sections.append((f"coinapi-emulator {handle.url} output ({report.when})", _tail(handle.logs())))
    return report


@pytest.fixture
def coinapi_emulator_factory(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorFactory]:
    """``factory(seed=0, speed=1.0, scenario=None, paused=False, start_time=..., args=()) -> EmulatorHandle``.

    Starts an emulator each call (on its own free port, with ``--admin``); all are stopped after the test.
    """
    config = request.config
    override = config.getoption("--coinapi-emulator-bin") or config.getini("coinapi_emulator_bin") or None
    timeout_s = float(config.getini("coinapi_emulator_startup_timeout"))
    base_dir = request.path.parent
    started = request.node.stash.setdefault(_STARTED, [])

    def factory(**kwargs: Any) -> EmulatorHandle:
        __tracebackhide__ = True
        options = EmulatorOptions.from_kwargs(kwargs, base_dir=base_dir)
        log_dir = tmp_path_factory.mktemp("coinapi-emulator")
        handle = start_emulator(options, command=emulator_command(override), log_dir=log_dir, timeout_s=timeout_s)
        started.append(handle)
        return handle

    try:
        yield factory
    finally:
        for handle in started:
            handle.stop()


@pytest.fixture
def coinapi_emulator(request: pytest.FixtureRequest, coinapi_emulator_factory: EmulatorFactory) -> EmulatorHandle:
    """A running emulator configured by ``@pytest.mark.coinapi_emulator(...)`` (closest marker wins per option)."""
    __tracebackhide__ = True
    kwargs: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):  # module, then class, then function
        if marker.args:
            raise TypeError(f"@pytest.mark.{MARKER} takes keyword arguments only, got {marker.args!r}")
        kwargs.update(marker.kwargs)
    return coinapi_emulator_factory(**kwargs)
