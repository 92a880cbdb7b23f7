"""The built wheel as users get it: everything under one name, ``coinapi_emulator``; installed into a new virtual
environment with its pinned dependencies, its pytest plugin and console script work for ``examples/pytest-project``
and for a project that has packages called ``server`` and ``simulator`` of its own.

The wheel is built from a clean copy of the sources: a used checkout's ``build/`` folder can leak stale files into
a wheel (it once put the old top-level ``server`` package into one).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Final

import pytest

pytestmark = pytest.mark.e2e

REPO: Final = Path(__file__).resolve().parents[2]
EXAMPLE: Final = REPO / "examples" / "pytest-project"
#: what a wheel is built from (pyproject.toml names README.md as the long description)
SOURCES: Final = ("pyproject.toml", "README.md", "server", "simulator")
PIP_TIMEOUT_S: Final = 180.0

#: a test of a user's project whose own packages are called ``server`` and ``simulator``
USER_TEST: Final = """
import json

import server
import simulator
from websockets.sync.client import connect

import coinapi_emulator.server.testing.pytest_plugin as plugin


def test_own_packages_beside_the_emulator(coinapi_emulator):
    assert server.WHOSE == "the user's" and simulator.WHOSE == "the user's"
    assert plugin.__file__.startswith({venv!r}), plugin.__file__
    coinapi_emulator.pause()
    with connect(coinapi_emulator.url) as ws:
        ws.send(json.dumps({{"type": "hello", "apikey": "k", "subscribe_data_type": ["trade"],
                             "subscribe_filter_symbol_id": ["BINANCE_SPOT_BTC_USDT$"]}}))
        coinapi_emulator.wait_for_subscribers(1)
        coinapi_emulator.step(5)
        message = json.loads(ws.recv(timeout=10))
    assert message["type"] == "trade" and message["symbol_id"] == "BINANCE_SPOT_BTC_USDT"
"""


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    """This process's environment without what would point a child at the repository or configure it."""
    skip = ("COINAPI_EMULATOR_", "PYTEST_", "PYTHON", "VIRTUAL_ENV", "COV_CORE")
    return {name: value for name, value in os.environ.items() if not name.startswith(skip)}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    ignore = shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)], env=env)
    (built,) = out.glob("coinapi_emulator-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    """A new venv with the wheel, its pinned dependencies, and what the two projects' tests use."""
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(root)], env=env)
    pip = [sys.executable, "-m", "pip", "--python", str(root / "bin" / "python")]
    _run([*pip, "install", "-q", "-c", str(REPO / "requirements.lock"), str(wheel), "pytest", "websockets"], env=env)
    return root


def test_the_wheel_holds_one_top_level_name_and_every_module(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"coinapi_emulator", "coinapi_emulator-0.1.0.dist-info"}
    sources = {
        f"coinapi_emulator/{path.relative_to(REPO).as_posix()}"
        for folder in ("server", "simulator")
        for path in (REPO / folder).rglob("*")
        if path.suffix in (".py", ".pyi", ".json", ".html", ".js", ".css", ".LICENSE") or path.name == "py.typed"
    }
    assert sources - set(names) == set()
    assert sum(name.endswith(".so") for name in names) == 2, "both C speedups are built into the wheel"


def test_the_example_project_uses_the_fixture(venv: Path, env: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "pytest-project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    python = str(venv / "bin" / "python")
    probe = "import coinapi_emulator.server.testing.pytest_plugin as p; print(p.__file__)"
    where = _run([python, "-c", probe], cwd=project, env=env)
    result = _run([python, "-m", "pytest", "-p", "no:cacheprovider"], cwd=project, env=env)
    assert Path(where.strip()).is_relative_to(venv), "the plugin must come from the wheel, not the repo"
    assert "plugins: coinapi-emulator-" in result  # loaded through the entry point
    assert " 6 passed" in result, result


def test_a_project_with_its_own_server_package_uses_the_fixture(
    venv: Path, env: dict[str, str], tmp_path: Path
) -> None:
    project = tmp_path / "project"
    for package in ("server", "simulator"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text('WHOSE = "the user\'s"\n')
    (project / "tests").mkdir()
    (project / "tests" / "test_bot.py").write_text(USER_TEST.format(venv=str(venv)))
    result = _run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=project, env=env
    )
    assert "1 passed" in result, result


def test_no_generic_top_level_name_comes_with_the_wheel(venv: Path, env: dict[str, str], tmp_path: Path) -> None:
    probe = "import importlib.util as u; print([n for n in ('server', 'simulator') if u.find_spec(n)])"
    assert _run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path, env=env).strip() == "[]"


def _run(argv: list[str], *, env: dict[str, str], cwd: Path | None = None) -> str:
    """stdout of ``argv``, which must succeed."""
    result = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
    assert result.returncode == 0, f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result.stdout
