"""The built wheel: everything under one name, ``coinapi_emulator``, beside a user's project that has packages
called ``server`` and ``simulator`` of its own, where its pytest plugin and console script work.

The wheel is built from a clean copy of the sources (a used checkout's ``build/`` folder can leak stale files
into a wheel) and installed alone into a new virtual environment. Its dependencies come from this test run's
environment through a plain path line, which Python does not treat as a site directory: the editable install
there (its import hook) stays inactive, and the test needs no network.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
#: what a wheel is built from: pyproject.toml names README.md as the long description
SOURCES = ("pyproject.toml", "README.md", "server", "simulator")

USER_TEST = """
import json

import server
import simulator
import websocket

import coinapi_emulator.server.testing.pytest_plugin as plugin


def test_own_packages_beside_the_emulator(coinapi_emulator):
    assert server.WHOSE == "the user's" and simulator.WHOSE == "the user's"
    assert plugin.__file__.startswith({venv!r}), plugin.__file__
    coinapi_emulator.pause()
    ws = websocket.create_connection(coinapi_emulator.url, timeout=10)
    ws.send(json.dumps({{"type": "hello", "apikey": "k", "subscribe_data_type": ["trade"],
                         "subscribe_filter_symbol_id": ["BINANCE_SPOT_BTC_USDT$"]}}))
    coinapi_emulator.wait_for_subscribers(1)
    coinapi_emulator.step(5)
    message = json.loads(ws.recv())
    assert message["type"] == "trade" and message["symbol_id"] == "BINANCE_SPOT_BTC_USDT"
    ws.close()
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    ignore = shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info")
    for name in SOURCES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)])
    [built] = out.glob("*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", str(root)])
    python = root / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)])
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).strip()
    (Path(site) / "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return root


def test_the_wheel_holds_one_top_level_name_and_every_module(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert {name.split("/")[0] for name in names} == {"coinapi_emulator", "coinapi_emulator-0.1.0.dist-info"}
    sources = {
        f"coinapi_emulator/{path.relative_to(REPO).as_posix()}"
        for folder in ("server", "simulator")
        for path in (REPO / folder).rglob("*")
        if path.suffix in (".py", ".pyi", ".json") or path.name == "py.typed"
    }
    assert sources - set(names) == set()
    assert sum(name.endswith(".so") for name in names) == 2, "both C speedups are built into the wheel"


def test_the_plugin_and_console_script_work_beside_a_users_own_server_package(venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    for package in ("server", "simulator"):
        (project / package).mkdir(parents=True)
        (project / package / "__init__.py").write_text('WHOSE = "the user\'s"\n')
    (project / "tests").mkdir()
    (project / "tests" / "test_bot.py").write_text(USER_TEST.format(venv=str(venv)))
    env = {name: value for name, value in os.environ.items() if not name.startswith(("PYTHON", "PYTEST", "COV"))}
    result = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_no_generic_top_level_name_is_importable_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    probe = "import importlib.util as u; print([n for n in ('server', 'simulator') if u.find_spec(n)])"
    assert _run([str(venv / "bin" / "python"), "-c", probe], cwd=tmp_path).strip() == "[]"


def _run(argv: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, f"{' '.join(argv)}\n{result.stdout}\n{result.stderr}"
    return result.stdout
