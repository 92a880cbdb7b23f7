"""Starting ``coinapi-emulator serve`` as a subprocess on a free port, and waiting for an emulator's ``/health``.

Each server is a subprocess (its own event loop and GIL, as in production), started with ``--shutdown-grace 0`` so
teardown is quick, with the ``COINAPI_EMULATOR_*`` environment variables removed so only its flags configure it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from coinapi_emulator.server.testing.handle import EmulatorHandle, Endpoint
from coinapi_emulator.server.testing.options import EmulatorOptions

DEFAULT_STARTUP_TIMEOUT_S: Final = 30.0
#: how much of a server's output goes into a failed test's report, and into a start-up error
REPORT_TAIL_CHARS: Final = 8_000
#: a free port found by binding port 0 can be taken before the server binds it: retry with another
START_ATTEMPTS: Final = 3
ENV_PREFIX: Final = "COINAPI_EMULATOR_"
_POLL_S: Final = 0.05


class EmulatorStartError(RuntimeError):
    """The emulator exited or did not answer ``/health`` in time; the message ends with its output."""


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


def tail(text: str) -> str:
    """The end of a server's output, as much as a report shows."""
    return text if len(text) <= REPORT_TAIL_CHARS else "...\n" + text[-REPORT_TAIL_CHARS:]


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
        handle = EmulatorHandle(Endpoint("127.0.0.1", port), process=process, log_path=log_path, options=options)
        if _wait_healthy(handle, timeout_s):
            return handle
        output = handle.logs()
        if process.poll() is None:
            handle.stop()
            raise EmulatorStartError(
                f"coinapi-emulator did not answer {handle.http_url}/health within {timeout_s} s.\n"
                f"command: {' '.join(argv)}\noutput:\n{tail(output)}"
            )
        if "address already in use" not in output.lower() or attempt == START_ATTEMPTS:
            raise EmulatorStartError(
                f"coinapi-emulator exited with code {process.returncode} before /health answered.\n"
                f"command: {' '.join(argv)}\noutput:\n{tail(output)}"
            )
    raise AssertionError("unreachable: the last attempt returns or raises")  # pragma: no cover


def wait_for_external(handle: EmulatorHandle, timeout_s: float) -> None:
    """Wait until an emulator that runs outside the test session answers ``/health``; ``EmulatorStartError`` if
    it does not within ``timeout_s``."""
    if not _wait_healthy(handle, timeout_s):
        raise EmulatorStartError(
            f"no coinapi-emulator answered {handle.http_url}/health within {timeout_s:g} s. External mode "
            "(--coinapi-emulator-url, COINAPI_EMULATOR_URL or the ini option coinapi_emulator_url) uses an emulator "
            "that runs already: start it first (e.g. `docker compose -f docker/compose.yml up -d coinapi`), or "
            "unset the URL to let the fixtures start their own."
        )


def _wait_healthy(handle: EmulatorHandle, timeout_s: float) -> bool:
    """True once ``/health`` answers; False if the server's process exited first or ``timeout_s`` passed."""
    deadline = time.monotonic() + timeout_s
    while not handle.healthy():
        if (handle.process is not None and handle.process.poll() is not None) or time.monotonic() > deadline:
            return False
        time.sleep(_POLL_S)
    return True


def _free_port() -> int:
    """A TCP port that was free a moment ago (bind port 0 and read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
