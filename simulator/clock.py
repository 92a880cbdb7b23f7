"""Virtual time: maps a caller-supplied wall clock onto the market's clock.

Pure: the caller passes wall time (monotonic ns) in, so this module never reads a real clock and can be
driven step by step in tests. ``speed=None`` means "as fast as possible": virtual time then moves only
through ``step``/``jump_to`` calls made by the driver, never with the wall clock.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: the fastest virtual clock: a virtual day in under a tenth of a wall second. Faster speeds are refused, not clamped,
#: because the product of wall time and speed must stay a finite number of ns (1e308 once stopped the market).
MAX_SPEED = 1_000_000.0


def check_speed(speed: float) -> float:
    """``speed`` if it is a finite number in (0, ``MAX_SPEED``]; else ``ValueError`` saying so."""
    if not (math.isfinite(speed) and 0 < speed <= MAX_SPEED):
        raise ValueError(f"speed must be a positive number at most {MAX_SPEED:.0f} (or max), got {speed!r}")
    return speed


@dataclass(slots=True)
class VirtualClock:
    """Virtual ns = anchor_virtual + (wall - anchor_wall) * speed, frozen while paused.

    Re-anchoring on every change of speed or pause state keeps virtual time continuous.
    """

    #: virtual ns at the anchor
    anchor_virtual_ns: int
    #: wall (monotonic) ns at the anchor
    anchor_wall_ns: int
    #: virtual seconds per wall second, or None for "max" (driver-paced)
    speed: float | None = 1.0
    paused: bool = False

    def now_ns(self, wall_ns: int) -> int:
        """Virtual time at ``wall_ns``; constant while paused or in max mode."""
        if self.paused or self.speed is None:
            return self.anchor_virtual_ns
        return self.anchor_virtual_ns + int((wall_ns - self.anchor_wall_ns) * self.speed)

    def pause(self, wall_ns: int) -> None:
        """Freeze virtual time at its value at ``wall_ns``."""
        self._reanchor(wall_ns)
        self.paused = True

    def pause_at(self, virtual_ns: int, wall_ns: int) -> None:
        """Freeze virtual time at ``virtual_ns`` (e.g. where a lagging consumer actually is), not later."""
        self.pause(wall_ns)
        self.anchor_virtual_ns = min(self.anchor_virtual_ns, virtual_ns)

    def resume(self, wall_ns: int) -> None:
        """Let virtual time run again from where it was frozen."""
        self._reanchor(wall_ns)
        self.paused = False

    def set_speed(self, speed: float | None, wall_ns: int) -> None:
        """Change speed without a jump in virtual time; ``ValueError`` for a speed ``check_speed`` refuses."""
        if speed is not None:
            check_speed(speed)
        self._reanchor(wall_ns)
        self.speed = speed

    def step(self, duration_ns: int) -> int:
        """Move virtual time forward by ``duration_ns`` (paused or max mode); return the new virtual time."""
        if duration_ns < 0:
            raise ValueError(f"cannot step backwards ({duration_ns} ns)")
        self.anchor_virtual_ns += duration_ns
        return self.anchor_virtual_ns

    def _reanchor(self, wall_ns: int) -> None:
        self.anchor_virtual_ns = self.now_ns(wall_ns)
        self.anchor_wall_ns = wall_ns
