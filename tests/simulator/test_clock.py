from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.simulator.clock import MAX_SPEED, VirtualClock

S = 1_000_000_000


def test_runs_at_speed_from_the_anchor() -> None:
    clock = VirtualClock(anchor_virtual_ns=100 * S, anchor_wall_ns=5 * S, speed=10.0)
    assert clock.now_ns(5 * S) == 100 * S
    assert clock.now_ns(6 * S) == 110 * S


def test_pause_freezes_and_resume_continues_without_jump() -> None:
    clock = VirtualClock(anchor_virtual_ns=0, anchor_wall_ns=0)
    clock.pause(2 * S)
    assert clock.now_ns(10 * S) == 2 * S
    clock.resume(10 * S)
    assert clock.now_ns(11 * S) == 3 * S


def test_step_moves_a_paused_clock() -> None:
    clock = VirtualClock(anchor_virtual_ns=0, anchor_wall_ns=0, paused=True)
    assert clock.step(S) == S
    assert clock.now_ns(99 * S) == S
    with pytest.raises(ValueError, match="backwards"):
        clock.step(-1)


def test_max_speed_moves_only_by_steps() -> None:
    clock = VirtualClock(anchor_virtual_ns=0, anchor_wall_ns=0, speed=None)
    assert clock.now_ns(50 * S) == 0
    clock.step(3)
    assert clock.now_ns(60 * S) == 3


@pytest.mark.parametrize("speed", [0, -1, 1e308, MAX_SPEED * 1.01, float("inf"), float("nan")])
def test_set_speed_rejects_what_is_not_a_finite_speed_in_range(speed: float) -> None:
    clock = VirtualClock(anchor_virtual_ns=0, anchor_wall_ns=0)
    with pytest.raises(ValueError, match="speed must be a positive number at most 1000000"):
        clock.set_speed(speed, 0)
    assert clock.speed == 1.0


def test_the_fastest_speed_keeps_virtual_time_finite_for_a_century_of_wall_time() -> None:
    clock = VirtualClock(anchor_virtual_ns=0, anchor_wall_ns=0, speed=MAX_SPEED)
    virtual_ns = clock.now_ns(100 * 365 * 86_400 * S)
    assert isinstance(virtual_ns, int) and virtual_ns == pytest.approx(100 * 365 * 86_400 * S * 1_000_000)


@given(st.lists(st.tuples(st.integers(0, 10 * S), st.sampled_from([1.0, 10.0, 1000.0, None])), max_size=20))
def test_virtual_time_never_goes_backwards(changes: list[tuple[int, float | None]]) -> None:
    clock = VirtualClock(anchor_virtual_ns=0, anchor_wall_ns=0)
    wall, last = 0, 0
    for advance, speed in changes:
        wall += advance
        clock.set_speed(speed, wall)
        now = clock.now_ns(wall)
        assert now >= last
        last = now


def test_pause_at_freezes_no_later_than_the_given_time() -> None:
    clock = VirtualClock(anchor_virtual_ns=0, anchor_wall_ns=0)
    clock.pause_at(3 * S, 10 * S)
    assert clock.paused and clock.now_ns(20 * S) == 3 * S
    clock.resume(20 * S)
    clock.pause_at(50 * S, 21 * S)
    assert clock.now_ns(30 * S) == 4 * S
