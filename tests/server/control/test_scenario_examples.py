"""The example scenarios in docs/scenarios/ load against the default catalogue."""

from __future__ import annotations

from pathlib import Path

import pytest

from coinapi_emulator.server.control.scenario import load_scenario
from coinapi_emulator.simulator.catalog import build_catalog

EXAMPLES = sorted((Path(__file__).resolve().parents[3] / "docs" / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_loads(path: Path) -> None:
    scenario = load_scenario(path.read_text(), build_catalog(), source=str(path))
    assert scenario.steps


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 3
