"""``make docker-test``: the image built and run by a real Docker engine, and the compose stack (never part of
``make test``, which needs no engine). Host networking throughout, so that it runs where containers get no bridge."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator

import pytest

from tests.docker.engine import REPORT, docker, report

IMAGE = "coinapi-emulator:docker-test"


@pytest.fixture(scope="session")
def image() -> Iterator[str]:
    """The image built from this checkout (the build fails if the C speedups did not compile)."""
    if shutil.which("docker") is None or docker("info", check=False).returncode != 0:
        pytest.fail("make docker-test needs a running Docker engine with compose v2 (docker info failed)")
    REPORT.unlink(missing_ok=True)
    report(f"# make docker-test, {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC\n")
    started = time.monotonic()
    docker("build", "--network=host", "--build-arg", "REVISION=docker-test", "-t", IMAGE, ".")
    size = int(docker("image", "inspect", "--format", "{{.Size}}", IMAGE).stdout)
    report(f"- build: {time.monotonic() - started:.1f} s, image {size / 1e6:.0f} MB")
    yield IMAGE
