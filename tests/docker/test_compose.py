"""docker/compose.yml brought up through docker/compose.host-network.yml, with the example user service run to
green against it: what the README's compose section tells a user to do, on a host without bridge networking."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tests.docker.engine import ROOT, docker, report
from tests.e2e.processes import free_port

pytestmark = pytest.mark.docker

PROJECT = "coinapi-emulator-docker-test"
FILES = ("-f", "docker/compose.yml", "-f", "docker/compose.host-network.yml")


@pytest.fixture(scope="module")
def stack(image: str) -> Iterator[dict[str, str]]:
    """The emulator service up and healthy on a free port; taken down afterwards."""
    env = {**os.environ, "COINAPI_EMULATOR_PORT": str(free_port())}
    started = time.monotonic()
    _compose(env, "--profile", "example", "build", "-q")
    report(f"- compose build (emulator and example bot): {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    try:
        _compose(env, "up", "-d", "--wait", "coinapi")
        report(f"- `compose up -d --wait coinapi`: healthy after {time.monotonic() - started:.1f} s")
        yield env
    finally:
        _compose(env, "--profile", "example", "down", "-t", "5", check=False)


def _compose(env: dict[str, str], *args: str, check: bool = True) -> str:
    done = docker("compose", "-p", PROJECT, *FILES, *args, env=env, check=check)
    return done.stdout + done.stderr


def test_the_example_bot_runs_green_against_the_compose_service(stack: dict[str, str]) -> None:
    output = _compose(stack, "--profile", "example", "run", "--rm", "example-bot")
    line = next(line for line in output.splitlines() if line.startswith("example-bot:"))
    report(f"- example bot: {line}")
    assert line.startswith("example-bot: OK")


def test_the_example_projects_tests_run_against_the_compose_service(stack: dict[str, str]) -> None:
    """External mode: the same test files, pointed at the running service instead of starting emulators."""
    url = f"http://127.0.0.1:{stack['COINAPI_EMULATOR_PORT']}"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--coinapi-emulator-url", url],
        cwd=ROOT / "examples" / "pytest-project",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    summary = done.stdout.strip().splitlines()[-1]
    report(f"- examples/pytest-project against the compose service (external mode): {summary.strip('= ')}")
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 passed, 4 skipped" in summary
