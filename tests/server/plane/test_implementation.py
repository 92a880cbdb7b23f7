"""Which implementation runs: read where it is chosen, so a build without the C speedups is reported as such."""

from __future__ import annotations

import asyncio
import importlib.metadata

import pytest

from coinapi_emulator.server.plane import implementation
from coinapi_emulator.server.plane.codec import ReferenceCodec
from coinapi_emulator.simulator import _native


def test_this_build_runs_the_c_speedups_and_no_loop_outside_one() -> None:
    assert implementation.implementations() == {"simulator": "c", "codec": "c", "loop": "none"}


def test_a_build_without_the_speedups_says_python(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_native, "speedups", None)
    monkeypatch.setattr(implementation, "SymbolCodec", ReferenceCodec)
    assert implementation.implementations() == {"simulator": "python", "codec": "python", "loop": "none"}


def test_the_running_loop_is_named_by_its_module() -> None:
    async def inside() -> str:
        return implementation.implementations()["loop"]

    assert asyncio.run(inside()) == "asyncio"


def test_the_version_is_the_installed_distributions(monkeypatch: pytest.MonkeyPatch) -> None:
    assert implementation.package_version() == importlib.metadata.version("coinapi-emulator")

    def missing(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(implementation, "version", missing)
    assert implementation.package_version() == "unknown"
