"""Processes of a benchmark run: servers pinned to one CPU, each in its own process group, always stopped.

Every process this package starts goes into ``LIVE`` until it is reaped, so an interrupted run (Ctrl-C,
SIGTERM, an exception) still stops all of them, by process group, never by name.
"""

from __future__ import annotations

import contextlib
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

#: process groups started by this run and not yet known to be gone
LIVE: set[int] = set()


def kill_group(pgid: int, grace_s: float = 3.0) -> None:
    """SIGTERM the group, SIGKILL what is left after ``grace_s``, and wait until it is empty."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-pgid, os.WNOHANG)[0] > 0:  # reap our own children in the group
                    pass
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                LIVE.discard(pgid)
                return
            time.sleep(0.05)
    LIVE.discard(pgid)


def stop_all() -> None:
    for pgid in list(LIVE):
        kill_group(pgid, grace_s=1.0)


def install_signal_handlers() -> None:
    """SIGTERM/SIGHUP exit through ``finally`` blocks (which stop servers) like Ctrl-C does."""

    def bail(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, bail)
    signal.signal(signal.SIGHUP, bail)


def raise_nofile(wanted: int) -> int:
    """Raise the soft fd limit (inherited by servers and clients) to the hard limit; return it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, wanted)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: str, argv: Sequence[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv]


def require_tools() -> None:
    if sys.platform != "linux":
        sys.exit("bench: Linux only (epoll client, taskset, /proc)")
    if shutil.which("taskset") is None:
        sys.exit("bench: `taskset` not found: install util-linux (e.g. `apt-get install util-linux`)")


def group_rss_kib(pgid: int) -> int:
    """Sum of VmRSS over the processes of one process group (the server and any child it forks)."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            for line in Path(f"/proc/{entry}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return total


class Server:
    """A server under test: started pinned, in a new session, ready once its port accepts connections."""

    def __init__(self, name: str, argv: Sequence[str], *, cpu: str, port: int, log_dir: Path, timeout_s: float) -> None:
        self.name, self.port = name, port
        self.argv = list(argv)
        self.log_path = log_dir / f"{name}-{port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log.write(("$ " + " ".join(self.argv) + "\n").encode())
        self._log.flush()
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            pinned(cpu, self.argv),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
        self.pgid = self.proc.pid
        LIVE.add(self.pgid)
        try:
            self._wait_listening(timeout_s)
        except BaseException:
            self.stop()
            raise

    def _wait_listening(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"{self.name} exited with {code}; log {self.log_path}:\n{self.tail()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"{self.name} did not listen on port {self.port} within {timeout_s:.0f} s; "
                        f"log {self.log_path}:\n{self.tail()}"
                    ) from None
                time.sleep(0.1)
        time.sleep(0.3)  # let startup work (lifespan, first ticks) settle

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss_kib(self) -> int:
        return group_rss_kib(self.pgid)

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self) -> None:
        kill_group(self.pgid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=1)
        self._log.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
