from __future__ import annotations

import random
import statistics
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.simulator.rng import asset_rng, catalog_rng, geometric_wait, stable_seed, symbol_rng


def test_stable_seed_is_a_fixed_function_of_its_inputs() -> None:
    # a golden value: blake2b never changes between processes, unlike hash() of a str; changing the
    # derivation changes every stream, so it must be deliberate
    assert stable_seed(42, "symbol", "BINANCE_SPOT_BTC_USDT") == 4872435203183571847
    assert 0 <= stable_seed(42, "x") < 2**64


def test_stable_seed_is_identical_in_another_process_with_another_hash_seed() -> None:
    code = "from simulator.rng import stable_seed; print(stable_seed(7, 'symbol', 'KRAKEN_SPOT_BTC_EUR'))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "12345"}
    )
    assert int(out.stdout) == stable_seed(7, "symbol", "KRAKEN_SPOT_BTC_EUR")


def test_parts_are_length_prefixed() -> None:
    assert stable_seed(1, "ab", "c") != stable_seed(1, "a", "bc")
    assert stable_seed(1, "abc") != stable_seed(1, "ab", "c")
    assert stable_seed(1, "a") != stable_seed(2, "a")


def test_generators_are_per_entity_and_reproducible() -> None:
    assert symbol_rng(3, "A").random() == symbol_rng(3, "A").random()
    assert symbol_rng(3, "A").random() != symbol_rng(3, "B").random()
    assert asset_rng(3, "BTC").random() != symbol_rng(3, "BTC").random()
    assert catalog_rng(3, "venue", "X").random() == catalog_rng(3, "venue", "X").random()


@given(st.floats(1e-9, 0.999), st.integers(0, 2**32))
def test_a_geometric_wait_is_at_least_one_trial(probability: float, seed: int) -> None:
    assert geometric_wait(random.Random(seed), probability) >= 1


def test_geometric_waits_average_one_over_the_probability() -> None:
    rng = random.Random(8)
    waits = [geometric_wait(rng, 0.01) for _ in range(20_000)]
    assert statistics.fmean(waits) == pytest.approx(100.0, rel=0.03)
    assert min(waits) == 1
