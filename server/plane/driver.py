"""The driver: when a market plane publishes, and up to which virtual time.

Ticks on the event loop follow the ``VirtualClock`` (speed 1, 10, ... or ``None`` = max, which advances a fixed
virtual step per tick and batches steps). Scenario steps run at their exact virtual time: the feed stops there,
the step runs, the feed goes on, so a scripted event lands at the same place in the stream on every run. Each
pass ends with one flush, so every socket gets one write per pass. At speed max no pass starts while its
consumers cannot take more (``hold``: a client's full socket, a gateway behind).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Protocol

from coinapi_emulator.server.control.scenario import Step, Timeline
from coinapi_emulator.simulator.clock import VirtualClock

logger = logging.getLogger(__name__)

_NS_PER_S = 1_000_000_000
#: passes that fail in a row before a driver gives up: a market that raises on every pass has a broken state, and
#: serving heartbeats from it forever would hide that (a connection sees nothing wrong, /ready stays green)
MAX_CONSECUTIVE_FAILURES = 10
#: the wall time one loop pass may spend advancing the market before the hub flushes. At speed "max", each socket
#: then gets one write per ~20 ms of market work instead of one per 20 ms virtual step (per-socket writes were ~30%
#: of the profile with 100 clients; 100 clients: 126-155k msgs/s per step, 163-195k with 5 ms batches, 241-321k
#: with 20 ms), while handshakes, pings and admin calls wait at most ~20 ms. At a set speed, a pass that is behind
#: its clock catches up the same way: a flush to thousands of sockets costs the same for one step as for ten
_BATCH_NS = 20_000_000
#: ... and at most this many steps, so that a frozen test clock cannot spin forever
_MAX_STEPS_PER_BATCH = 50
#: at a set speed, the share of a busy pass's wall time the loop then gets for everything else before the next
#: pass (and a gateway's next flush): handshakes, REST, pings, admin calls. Each of a handshake's steps waits for a
#: loop iteration, and with 5,000 clients of every trade a pass (its flush) took ~50 ms: back to back, 10,000
#: clients connected at ~100 a second. A light pass waits out its tick anyway (tick_s minus its work), which is
#: longer
SPARE_SHARE = 0.25
#: at speed "max", how soon a held market looks again whether its consumers caught up
HOLD_RETRY_S = 0.001


class Publisher(Protocol):
    """A feed: publishes its source up to a virtual time (``feed.py``)."""

    @property
    def now_ns(self) -> int:
        """Virtual time up to which the source has been published."""

    def publish_until(self, until_ns: int) -> None:
        """Publish everything up to ``until_ns``, without flushing."""


class Driver:
    """Runs a feed on the event loop, in step with a virtual clock and a timeline of scenario steps."""

    def __init__(
        self,
        *,
        clock: VirtualClock,
        feed: Publisher,
        flush: Callable[[], None],
        timeline: Timeline,
        run_step: Callable[[Step], None],
        tick_s: float,
        max_step_ns: int,
        on_failed: Callable[[], None] = lambda: None,
        hold: Callable[[], bool] = lambda: False,
        monotonic_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        """``on_failed``: called once, when the driver gives up after ``MAX_CONSECUTIVE_FAILURES`` failed passes;
        ``hold``: True while speed "max" must wait (a client's socket is full, or the gateways of ``simulate`` are
        too far behind)."""
        self._clock = clock
        self._feed = feed
        self._flush = flush
        self._timeline = timeline
        self._run_step = run_step
        self._tick_s = tick_s
        self._max_step_ns = max_step_ns
        self._on_failed = on_failed
        self._hold = hold
        self._monotonic_ns = monotonic_ns
        self._timer: asyncio.TimerHandle | asyncio.Handle | None = None
        #: passes that raised since the start (``/metrics``); a pass that raises is logged and the next one runs
        self.errors = 0
        self._failing = 0
        #: True once the driver gave up; it never ticks again
        self.failed = False

    def start(self) -> None:
        """Schedule ticks on the running loop (idempotent; a failed driver stays stopped)."""
        if self._timer is None and not self.failed:
            self._timer = asyncio.get_running_loop().call_soon(self._tick)

    def stop(self) -> None:
        """Stop ticking (idempotent)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def run_until(self, until_ns: int) -> None:
        """Publish everything up to ``until_ns`` (virtual), scenario steps included, then flush once."""
        self._publish_until(until_ns)
        self._flush()

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            delay_s = self._run_pass()
        except Exception:
            self.errors += 1
            self._failing += 1
            logger.exception("market pass failed (%d in a row)", self._failing)
            if self._failing >= MAX_CONSECUTIVE_FAILURES:
                self._give_up()
                return
            delay_s = self._tick_s
        else:
            self._failing = 0
        self._timer = loop.call_soon(self._tick) if delay_s <= 0 else loop.call_later(delay_s, self._tick)

    def _give_up(self) -> None:
        logger.error("market stopped after %d failed passes in a row", self._failing)
        self.failed = True
        self._timer = None
        self._on_failed()

    def _run_pass(self) -> float:
        """One tick's publishing; returns the seconds until the next tick should start (0: at once)."""
        if self._clock.speed is None and not self._clock.paused:
            if self._hold():
                return HOLD_RETRY_S
            self._run_batch(None)
            return 0.0
        started_ns = self._monotonic_ns()
        due_ns = self._clock.now_ns(started_ns)
        # Steps of at most max_step_ns, so that a market that fell behind (a busy machine, a high speed) catches
        # up over several passes, each within the batch's budget, instead of starving every connection.
        self._run_batch(due_ns)
        if self._feed.now_ns < due_ns:
            return 0.0  # the market itself is the bottleneck: on at once, as at speed "max"
        # Ticks start every tick_s, whatever the tick's own work took: sleeping a full tick_s after a busy tick
        # would make the next one cover more virtual time, and so take longer, which is latency (at 80% load
        # a tick covered ~5x tick_s; measured p50 8.6 ms at 10k msgs/s to one client).
        work_s = (self._monotonic_ns() - started_ns) / _NS_PER_S
        return max(self._tick_s - work_s, SPARE_SHARE * work_s)

    def _run_batch(self, due_ns: int | None) -> None:
        """Step virtual time up to ``due_ns`` (None: speed "max", no end) until the batch's wall-time budget is
        spent, then flush once."""
        clock, feed, speed = self._clock, self._feed, self._clock.speed
        deadline_ns = self._monotonic_ns() + _BATCH_NS
        for _ in range(_MAX_STEPS_PER_BATCH):
            if due_ns is None:
                self._publish_until(clock.step(self._max_step_ns))
            else:
                self._publish_until(min(due_ns, feed.now_ns + self._max_step_ns))
                if feed.now_ns >= due_ns:
                    break
            # a scenario step may have paused the clock or set a speed
            if clock.speed != speed or clock.paused or self._monotonic_ns() >= deadline_ns:
                break
        self._flush()

    def _publish_until(self, until_ns: int) -> None:
        """Publish up to ``until_ns``, stopping at each due scenario step to run it."""
        feed, timeline = self._feed, self._timeline
        timeline.run_due(feed.now_ns, self._run_step)
        while until_ns > feed.now_ns:
            step_ns = timeline.next_ns()
            target_ns = until_ns if step_ns is None else max(feed.now_ns, min(until_ns, step_ns))
            feed.publish_until(target_ns)
            timeline.run_due(target_ns, self._run_step)
