"""Running the real ``coinapi-emulator serve`` console script as a subprocess on a free port.

Like uvicorn's and nats.py's test suites: bind port 0 to find a free port, start the process, wait until
``GET /health`` answers (or fail with the process's output), and terminate it in ``finally`` (SIGTERM, then
SIGKILL). The fixtures in ``conftest.py`` use ``run_server``; CLI tests call it directly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx2 as httpx
import pytest

from .support import rest_get

START_TIME: Final = "2024-01-01T00:00:00Z"
HEALTH_TIMEOUT_S: Final = 20.0
STOP_TIMEOUT_S: Final = 10.0


def emulator_executable() -> Path:
    """The ``coinapi-emulator`` console script of the running interpreter's environment."""
    beside_python = Path(sys.executable).parent / "coinapi-emulator"
    if beside_python.exists():
        return beside_python
    found = shutil.which("coinapi-emulator")
    if found is None:
        pytest.fail("coinapi-emulator console script not found: run `pip install -e .` in the venv")
    return Path(found)


def free_port() -> int:
    """A TCP port that was free a moment ago (bind port 0 and read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class RunningServer:
    """A started ``coinapi-emulator serve`` process."""

    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str = "/v1/") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def log(self) -> str:
        """Everything the process wrote to stdout and stderr so far."""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def rest(self, path: str, **params: str) -> Any:
        """GET a REST path with the test key (status must be 200); the parsed body."""
        return rest_get(self.http_url, path, **params)


def serve_argv(*args: str, command: str = "serve") -> list[str]:
    """``coinapi-emulator serve <args>`` (or another server command: ``simulate``, ``gateway``)."""
    return [str(emulator_executable()), command, *args]


def wait_until_healthy(port: int, process: subprocess.Popen[bytes], log_path: Path, timeout: float) -> None:
    """Poll ``GET /health`` until it answers 200; fail with the process output if it exits or times out."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"coinapi-emulator exited with {process.returncode} before /health answered:\n"
                + log_path.read_text(encoding="utf-8", errors="replace")[-5000:]
            )
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail(
                f"coinapi-emulator did not answer /health on port {port} within {timeout} s:\n"
                + log_path.read_text(encoding="utf-8", errors="replace")[-5000:]
            )
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``STOP_TIMEOUT_S``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(STOP_TIMEOUT_S)


def spawn(
    args: Sequence[str],
    log_dir: Path,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    pass_port: bool = True,
    command: str = "serve",
    preexec_fn: Callable[[], None] | None = None,
) -> RunningServer:
    """Start ``coinapi-emulator serve --port N <args>`` without waiting for it (see ``run_servers``).

    ``pass_port=False`` leaves ``--port`` out (for tests of ``COINAPI_EMULATOR_PORT``); ``port`` is then the
    port the process is expected to listen on. ``command``: ``simulate`` or ``gateway`` instead of ``serve``.
    ``preexec_fn`` runs in the child before the server starts (e.g. to set its resource limits).
    """
    port = free_port() if port is None else port
    argv = serve_argv(*(["--port", str(port)] if pass_port else []), *args, command=command)
    log_path = log_dir / f"{command}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            preexec_fn=preexec_fn,
        )
    return RunningServer(port=port, process=process, log_path=log_path)


@contextlib.contextmanager
def run_servers(spawned: Sequence[RunningServer]) -> Iterator[Sequence[RunningServer]]:
    """Wait until every already spawned server answers /health, yield them; stop them all on exit.

    Spawning several before waiting lets their start-ups overlap.
    """
    try:
        for running in spawned:
            wait_until_healthy(running.port, running.process, running.log_path, HEALTH_TIMEOUT_S)
        yield spawned
    finally:
        for running in spawned:
            stop(running.process)


@contextlib.contextmanager
def run_server(
    args: Sequence[str],
    log_dir: Path,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    pass_port: bool = True,
) -> Iterator[RunningServer]:
    """Start ``coinapi-emulator serve --port N <args>`` and yield it once healthy; always stopped on exit."""
    with run_servers([spawn(args, log_dir, port=port, env=env, pass_port=pass_port)]) as (running,):
        yield running
