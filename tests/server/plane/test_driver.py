"""The driver with a fake feed and a fake wall clock: where it stops to run scenario steps, how it batches at
speed "max", and its ticks on a real event loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from coinapi_emulator.server.control.faults import Fault
from coinapi_emulator.server.control.scenario import Scenario, Step, Timeline
from coinapi_emulator.server.plane.driver import HOLD_RETRY_S, MAX_CONSECUTIVE_FAILURES, Driver
from coinapi_emulator.simulator.clock import VirtualClock

START_NS = 1_704_067_200_000_000_000
MS = 1_000_000
STEP_NS = 20 * MS


@dataclass
class FakeFeed:
    now_ns: int = START_NS
    targets: list[int] = field(default_factory=list)

    def publish_until(self, until_ns: int) -> None:
        self.targets.append(until_ns)
        self.now_ns = until_ns


@dataclass
class Wall:
    """A monotonic clock that moves ``per_read_ns`` each time it is read."""

    now_ns: int = 0
    per_read_ns: int = 0

    def __call__(self) -> int:
        self.now_ns += self.per_read_ns
        return self.now_ns


@dataclass
class Recorder:
    flushes: int = 0
    steps: list[tuple[int, Step]] = field(default_factory=list)


def make_driver(
    clock: VirtualClock,
    wall: Wall,
    *,
    on_step: Callable[[], None] | None = None,
    hold: Callable[[], bool] = lambda: False,
) -> tuple[Driver, FakeFeed, Recorder, Timeline]:
    feed, record, timeline = FakeFeed(), Recorder(), Timeline()

    def flush() -> None:
        record.flushes += 1

    def run_step(step: Step) -> None:
        record.steps.append((feed.now_ns, step))
        if on_step is not None:
            on_step()

    driver = Driver(
        clock=clock,
        feed=feed,
        flush=flush,
        timeline=timeline,
        run_step=run_step,
        tick_s=0.002,
        max_step_ns=STEP_NS,
        hold=hold,
        monotonic_ns=wall,
    )
    return driver, feed, record, timeline


def paused_clock() -> VirtualClock:
    return VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, paused=True)


def one_tick(driver: Driver) -> None:
    """Start the driver on a loop, let its first tick run, stop it."""

    async def tick() -> None:
        driver.start()
        await asyncio.sleep(0)
        driver.stop()

    asyncio.run(tick())


def test_run_until_stops_at_each_due_step_runs_it_there_and_flushes_once() -> None:
    driver, feed, record, timeline = make_driver(paused_clock(), Wall())
    first, second = Step(300 * MS, Fault(kind="close")), Step(700 * MS, Fault(kind="stall", ms=1))
    timeline.schedule(Scenario("two faults", (second, first)), START_NS)
    driver.run_until(START_NS + 1000 * MS)
    assert feed.targets == [START_NS + 300 * MS, START_NS + 700 * MS, START_NS + 1000 * MS]
    assert record.steps == [(START_NS + 300 * MS, first), (START_NS + 700 * MS, second)]
    assert record.flushes == 1 and timeline.pending() == 0


def test_a_step_already_due_runs_before_anything_is_published() -> None:
    driver, feed, record, timeline = make_driver(paused_clock(), Wall())
    timeline.schedule(Scenario("now", (Step(0, Fault(kind="close")),)), START_NS)
    driver.run_until(START_NS)
    assert feed.targets == [] and [at for at, _ in record.steps] == [START_NS] and record.flushes == 1


def test_max_speed_steps_until_the_wall_budget_is_spent_then_flushes_once() -> None:
    clock = VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, speed=None)
    wall = Wall(per_read_ns=3 * MS)  # each step "takes" 3 ms of wall time: a 20 ms budget holds 7
    driver, feed, record, _ = make_driver(clock, wall)
    one_tick(driver)
    assert feed.targets == [START_NS + k * STEP_NS for k in range(1, 8)] and record.flushes == 1


def test_max_speed_publishes_nothing_while_held_and_goes_on_when_the_hold_ends() -> None:
    clock = VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, speed=None)
    held = [True]
    driver, feed, record, _ = make_driver(clock, Wall(per_read_ns=10 * MS), hold=lambda: held[0])
    assert driver._run_pass() == HOLD_RETRY_S
    assert feed.targets == [] and record.flushes == 0
    held[0] = False
    assert driver._run_pass() == 0.0
    assert feed.targets and record.flushes == 1


def test_max_speed_with_a_frozen_wall_clock_stops_after_fifty_steps() -> None:
    clock = VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, speed=None)
    driver, feed, _, _ = make_driver(clock, Wall())
    one_tick(driver)
    assert len(feed.targets) == 50


def test_a_step_that_pauses_the_clock_ends_a_max_speed_batch() -> None:
    clock = VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, speed=None)
    driver, feed, record, timeline = make_driver(clock, Wall(), on_step=lambda: clock.pause(0))
    timeline.schedule(Scenario("pause", (Step(2 * STEP_NS, Fault(kind="close")),)), START_NS)
    one_tick(driver)
    assert feed.targets == [START_NS + STEP_NS, START_NS + 2 * STEP_NS] and record.flushes == 1


def test_ticks_catch_up_with_the_clock_in_steps_flush_once_a_pass_and_stop_stops_them() -> None:
    async def scenario() -> tuple[list[int], int]:
        clock = VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, speed=1000.0)
        wall = Wall(now_ns=MS)  # 1 ms of wall time at speed 1000: one virtual second is due
        driver, feed, record, _ = make_driver(clock, wall)
        driver.start()
        driver.start()  # idempotent: still one timer
        for _ in range(5):
            await asyncio.sleep(0)
        driver.stop()
        driver.stop()
        published = list(feed.targets)
        await asyncio.sleep(0.01)  # past the next tick's time
        assert feed.targets == published, "no tick after stop"
        return published, record.flushes

    targets, flushes = asyncio.run(scenario())
    # behind its clock, a pass catches up a step at a time (the wall clock is frozen: no budget is spent), and the
    # next pass waits for its tick
    assert targets == [START_NS + k * STEP_NS for k in range(1, 51)]
    assert flushes == 1


def test_a_pass_behind_its_clock_steps_until_the_wall_budget_is_spent_then_flushes_once() -> None:
    clock = VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, speed=1000.0)
    wall = Wall(now_ns=MS, per_read_ns=3 * MS)  # each step "takes" 3 ms: a 20 ms budget holds 7
    driver, feed, record, _ = make_driver(clock, wall)
    # still behind: the market is the bottleneck, and the next pass starts at once
    assert driver._run_pass() == 0.0
    assert feed.targets == [START_NS + k * STEP_NS for k in range(1, 8)] and record.flushes == 1


def test_a_light_pass_publishes_up_to_its_clock_and_waits_out_its_tick() -> None:
    clock = VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, speed=1.0)
    driver, feed, record, _ = make_driver(clock, Wall(now_ns=MS))
    assert driver._run_pass() == pytest.approx(0.002)
    assert feed.targets == [START_NS + MS] and record.flushes == 1


def test_a_busy_pass_leaves_a_quarter_of_its_time_to_the_loop() -> None:
    clock = VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, speed=1.0)
    # reads at the pass's start, the batch's deadline, the pass's end: 20 ms of work, a flush to many sockets
    driver, feed, _, _ = make_driver(clock, Wall(per_read_ns=10 * MS))
    assert driver._run_pass() == pytest.approx(0.005)
    assert feed.targets == [START_NS + 10 * MS]


def test_a_step_that_pauses_the_clock_ends_a_paced_batch() -> None:
    clock = VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, speed=1000.0)
    driver, feed, record, timeline = make_driver(clock, Wall(now_ns=MS), on_step=lambda: clock.pause(MS))
    timeline.schedule(Scenario("pause", (Step(2 * STEP_NS, Fault(kind="close")),)), START_NS)
    driver._run_pass()
    assert feed.targets == [START_NS + STEP_NS, START_NS + 2 * STEP_NS] and record.flushes == 1


@dataclass
class FailingFeed(FakeFeed):
    """Raises on its first ``failures`` passes (``None``: on every one)."""

    failures: int | None = None
    calls: int = 0

    def publish_until(self, until_ns: int) -> None:
        self.calls += 1
        if self.failures is None or self.calls <= self.failures:
            raise RuntimeError("a side of the book is empty")
        super().publish_until(until_ns)


def run_failing(feed: FailingFeed, ticks: int) -> tuple[Driver, list[str]]:
    """A driver at speed 1000 over ``feed``, left to tick ``ticks`` loop passes; what ``on_failed`` recorded."""
    failures: list[str] = []

    async def scenario() -> Driver:
        clock = VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, speed=1000.0)
        wall = Wall(now_ns=10 * MS, per_read_ns=MS)
        driver = Driver(
            clock=clock,
            feed=feed,
            flush=lambda: None,
            timeline=Timeline(),
            run_step=lambda step: None,
            tick_s=0.0,
            max_step_ns=STEP_NS,
            on_failed=lambda: failures.append("failed"),
            monotonic_ns=wall,
        )
        driver.start()
        for _ in range(ticks):
            await asyncio.sleep(0)
        driver.stop()
        return driver

    return asyncio.run(scenario()), failures


def test_a_failing_pass_is_logged_and_counted_and_the_next_tick_runs(caplog: pytest.LogCaptureFixture) -> None:
    feed = FailingFeed(failures=3)
    with caplog.at_level(logging.ERROR, logger="coinapi_emulator.server.plane.driver"):
        driver, failures = run_failing(feed, ticks=12)
    assert driver.errors == 3 and not driver.failed and failures == []
    assert feed.targets, "publishing went on after the failures"
    assert [record.message for record in caplog.records][:3] == [
        "market pass failed (1 in a row)",
        "market pass failed (2 in a row)",
        "market pass failed (3 in a row)",
    ]


def test_after_ten_failed_passes_in_a_row_the_driver_gives_up_once_for_good() -> None:
    feed = FailingFeed()
    driver, failures = run_failing(feed, ticks=40)
    assert driver.failed and driver.errors == MAX_CONSECUTIVE_FAILURES == feed.calls and failures == ["failed"]

    async def restart() -> None:
        driver.start()
        await asyncio.sleep(0)

    asyncio.run(restart())
    assert feed.calls == MAX_CONSECUTIVE_FAILURES, "a failed driver stays stopped"
