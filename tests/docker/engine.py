"""Running ``docker`` and ``docker compose`` from the container tests, and the report they write."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Final

ROOT: Final = Path(__file__).resolve().parents[2]
#: the measurements of a `make docker-test` run, pasted into notes and the README
REPORT: Final = ROOT / "build" / "docker-test.md"


def docker(
    *args: str, env: Mapping[str, str] | None = None, timeout_s: float = 600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``docker ARGS`` in the repository root; its output, or ``AssertionError`` with it if it failed."""
    done = subprocess.run(
        ["docker", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def wait_for_health(container: str, timeout_s: float = 60) -> float:
    """Seconds until the container's HEALTHCHECK reports ``healthy``; ``AssertionError`` if it never does."""
    started = time.monotonic()
    status = ""
    while time.monotonic() - started < timeout_s:
        status = docker("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()
        if status == "healthy":
            return time.monotonic() - started
        time.sleep(0.1)
    logs = docker("logs", container, check=False)
    raise AssertionError(f"{container} is {status!r} after {timeout_s} s\n{logs.stdout}{logs.stderr}")


def report(line: str) -> None:
    """Add a line to ``build/docker-test.md`` and show it in the test output."""
    REPORT.parent.mkdir(exist_ok=True)
    with REPORT.open("a", encoding="utf-8") as out:
        out.write(line + "\n")
    print(line)
