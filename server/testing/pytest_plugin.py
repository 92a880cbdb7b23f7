"""pytest plugin: fixtures that hand a test a real ``coinapi-emulator serve`` with a control handle.

Installing the package registers this module (entry point ``pytest11: coinapi_emulator``), so any project with
coinapi-emulator installed gets:

- the ``coinapi_emulator`` fixture: a fresh emulator on a free port with ``--admin``, configured by the
  ``@pytest.mark.coinapi_emulator(seed=..., speed=..., scenario=..., paused=..., start_time=..., args=...)``
  marker, yielded as an ``EmulatorHandle`` (``.url``, ``.pause()``, ``.step(s)``, ``.inject_fault(...)``,
  ``.wait_for_messages(n)``, ``.logs()``, and ``.aio`` to ``await`` them) and stopped after the test;
- the ``coinapi_emulator_factory`` fixture: ``factory(**the same options) -> EmulatorHandle``, for several
  emulators or options chosen in the test body; everything it started is stopped after the test;
- the ``coinapi_emulator_shared`` fixture: one emulator for the whole session, which tests share through private
  markets (``handle.url_for(seed=N)``), so that a suite pays for one start-up, not one per test.

External mode (``--coinapi-emulator-url``, ``$COINAPI_EMULATOR_URL`` or the ini option ``coinapi_emulator_url``)
binds the fixtures to an emulator that runs already, e.g. a CI service; tests that need a server of their own skip.
A failed test gets the tail of the output of each server it used as a report section.

This module and those it imports at load time use only the standard library and pytest: it is loaded in every
pytest run of an environment where the package is installed, so it must not pull in the server (starlette, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from typing import Any, Final

import pytest

from coinapi_emulator.server.testing.handle import EmulatorHandle
from coinapi_emulator.server.testing.launch import (
    EmulatorStartError,
    emulator_command,
    start_emulator,
    tail,
    wait_for_external,
)
from coinapi_emulator.server.testing.options import DEFAULT_START_TIME, EmulatorOptions
from coinapi_emulator.server.testing.settings import PluginSettings, add_options

__all__ = [
    "EmulatorFactory",
    "EmulatorHandle",
    "EmulatorOptions",
    "EmulatorStartError",
    "emulator_command",
    "start_emulator",
]

MARKER: Final = "coinapi_emulator"
SHARED_FIXTURE: Final = "coinapi_emulator_shared"
EXTERNAL_MODE: Final = "external mode (--coinapi-emulator-url)"

EmulatorFactory = Callable[..., EmulatorHandle]
Start = Callable[[EmulatorOptions], EmulatorHandle]

_SETTINGS: Final = pytest.StashKey[PluginSettings]()
#: external mode: the handle on the emulator that runs already, checked at session start
_EXTERNAL: Final = pytest.StashKey[EmulatorHandle]()
#: the shared server this session started, for the reports of the tests that used it
_SHARED: Final = pytest.StashKey[EmulatorHandle]()
#: the servers a test started, for its report
_STARTED: Final = pytest.StashKey[list[EmulatorHandle]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    try:
        config.stash[_SETTINGS] = PluginSettings.from_config(config)
    except ValueError as error:  # a startup timeout that is no number, shared args with an unclosed quote
        raise pytest.UsageError(f"coinapi-emulator: {error}") from None
    config.addinivalue_line(
        "markers",
        f"{MARKER}(seed=0, speed=1.0, scenario=None, paused=False, start_time='{DEFAULT_START_TIME}', args=()): "
        "configure the coinapi_emulator fixture's server (speed may be 'max'; scenario is a TOML file path, "
        "relative to the test file; start_time=None runs on the wall clock; args are extra `serve` flags)",
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """In external mode, check the URL and wait for the emulator's ``/health`` before any test runs."""
    settings = session.config.stash[_SETTINGS]
    if settings.external_url is None:
        return
    try:
        handle = EmulatorHandle.external(settings.external_url, admin_token=settings.admin_token)
        wait_for_external(handle, settings.startup_timeout_s)
    except (ValueError, EmulatorStartError) as error:
        raise pytest.UsageError(f"coinapi-emulator: {error}") from None
    session.config.stash[_EXTERNAL] = handle


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """When a test fails, add the output of each emulator it started or shared to the report."""
    report: pytest.TestReport = yield
    if report.failed:
        handles: list[EmulatorHandle] = [*item.stash.get(_STARTED, [])]
        if SHARED_FIXTURE in getattr(item, "fixturenames", ()) and _SHARED in item.config.stash:
            handles.append(item.config.stash[_SHARED])
        for handle in handles:
            report.sections.append((f"coinapi-emulator {handle.url} output ({report.when})", tail(handle.logs())))
    return report


@pytest.fixture(scope="session")
def coinapi_emulator_shared(
    pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmulatorHandle]:
    """One emulator for the whole session (``--admin``, default options plus ``coinapi_emulator_shared_args``).

    Tests isolate themselves with private markets: ``handle.url_for(seed=N)`` gives each connection a market of its
    own, the same for the same seed. The shared market's clock and scenarios belong to every test at once: do not
    ``pause``, ``resume``, ``step``, ``set_speed`` or ``load_scenario`` here, and inject faults only with
    ``connections=[your connection ids]`` (from ``status()["clients"]``). In external mode: the external emulator.
    """
    __tracebackhide__ = True
    external = pytestconfig.stash.get(_EXTERNAL, None)
    if external is not None:
        yield external
        return
    settings = pytestconfig.stash[_SETTINGS]
    handle = _start(settings, EmulatorOptions(args=settings.shared_args), tmp_path_factory)
    pytestconfig.stash[_SHARED] = handle
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def _coinapi_emulator_start(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Start]:
    """``start(options) -> EmulatorHandle``: every server it started stops after the test."""
    settings = request.config.stash[_SETTINGS]
    started = request.node.stash.setdefault(_STARTED, [])

    def start(options: EmulatorOptions) -> EmulatorHandle:
        __tracebackhide__ = True
        handle = _start(settings, options, tmp_path_factory)
        started.append(handle)
        return handle

    try:
        yield start
    finally:
        for handle in started:
            handle.stop()


@pytest.fixture
def coinapi_emulator_factory(request: pytest.FixtureRequest, _coinapi_emulator_start: Start) -> EmulatorFactory:
    """``factory(seed=0, speed=1.0, scenario=None, paused=False, start_time=..., args=()) -> EmulatorHandle``.

    Starts an emulator each call (on its own free port, with ``--admin``); all are stopped after the test. Skipped
    in external mode, which starts nothing.
    """
    if _EXTERNAL in request.config.stash:
        pytest.skip(f"coinapi_emulator_factory starts emulators of its own; {EXTERNAL_MODE} starts none")
    base_dir = request.path.parent

    def factory(**kwargs: Any) -> EmulatorHandle:
        __tracebackhide__ = True
        return _coinapi_emulator_start(EmulatorOptions.from_kwargs(kwargs, base_dir=base_dir))

    return factory


@pytest.fixture
def coinapi_emulator(request: pytest.FixtureRequest, _coinapi_emulator_start: Start) -> EmulatorHandle:
    """A running emulator configured by ``@pytest.mark.coinapi_emulator(...)`` (closest marker wins per option).

    In external mode: the external emulator, unless the marker asks for options other than the defaults. Such a
    test is skipped: the external emulator runs with the options it was started with, and a test that relies on a
    seed, a paused clock or a scenario would check a market other than the one it describes.
    """
    __tracebackhide__ = True
    options = EmulatorOptions.from_kwargs(_marker_kwargs(request), base_dir=request.path.parent)
    external = request.config.stash.get(_EXTERNAL, None)
    if external is None:
        return _coinapi_emulator_start(options)
    customised = options.customised()
    if customised:
        reason = f"{EXTERNAL_MODE} uses an emulator that runs with the options it was started with"
        pytest.skip(f"needs an emulator of its own (its marker sets {', '.join(customised)}); {reason}")
    return external


def _marker_kwargs(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ``coinapi_emulator`` markers' options: module, then class, then function, the closest winning."""
    __tracebackhide__ = True
    kwargs: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers(MARKER))):
        if marker.args:
            raise TypeError(f"@pytest.mark.{MARKER} takes keyword arguments only, got {marker.args!r}")
        kwargs.update(marker.kwargs)
    return kwargs


def _start(
    settings: PluginSettings, options: EmulatorOptions, tmp_path_factory: pytest.TempPathFactory
) -> EmulatorHandle:
    __tracebackhide__ = True
    return start_emulator(
        options,
        command=emulator_command(settings.executable),
        log_dir=tmp_path_factory.mktemp("coinapi-emulator"),
        timeout_s=settings.startup_timeout_s,
    )
