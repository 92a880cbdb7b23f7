"""The memory all slow clients may hold together, beside each one's own limit (``--max-buffered-bytes-total``).

Why: each connection may keep ``--max-buffered-bytes`` (64 MiB) of unsent frames, so a few hundred clients that
stop reading could hold tens of GB before any one of them reaches its own limit. The budget counts every backlog
in full although its frames are shared with other clients: an upper bound, cheap to keep.
"""

from __future__ import annotations


class OutboxBudget:
    """What the backlogs of every hub hold, and how far over ``max_bytes`` they are together."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._held: dict[object, int] = {}

    @property
    def held_bytes(self) -> int:
        """Bytes in every holder's backlogs, as last reported."""
        return sum(self._held.values())

    def hold(self, holder: object, held_bytes: int) -> int:
        """Record what ``holder`` (a hub) holds now; return the bytes over budget, all holders together."""
        if held_bytes:
            self._held[holder] = held_bytes
        else:
            self._held.pop(holder, None)
        return max(0, self.held_bytes - self.max_bytes)
