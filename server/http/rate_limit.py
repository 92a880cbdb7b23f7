"""CoinAPI's REST request quota: a daily budget per API key, reported in ``X-RateLimit-*`` headers on every answer.

As CoinAPI counts it: a request costs 1, and with a ``limit`` parameter every 100 items asked for count as one
(``ceil(limit / 100)``). The budget resets at midnight UTC on the wall clock. Past it the answer is 429 with
CoinAPI's error body, so that a client's back-off can be tested; the default budget is large enough never to bite.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from coinapi_emulator.server.protocol.encode import format_time

_NS_PER_DAY = 86_400 * 1_000_000_000
#: keys tracked at once; more distinct keys in one day (any key is accepted by default) forget the oldest
MAX_TRACKED_KEYS = 100_000


@dataclass(frozen=True, slots=True)
class QuotaAnswer:
    """What one request used and what is left, as the headers report it."""

    limit: int
    remaining: int
    cost: int
    reset_ns: int

    @property
    def exceeded(self) -> bool:
        """The request did not fit in what was left."""
        return self.remaining < 0

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(self.remaining, 0)),
            "X-RateLimit-Request-Cost": str(self.cost),
            "X-RateLimit-Reset": format_time(self.reset_ns),
        }


def request_cost(limit_parameter: str | None) -> int:
    """1, or one per 100 items asked for with ``limit`` (a malformed limit costs 1: the handler refuses it)."""
    try:
        return max(1, math.ceil(int(limit_parameter or "1") / 100))
    except ValueError:
        return 1


class RestQuota:
    """Each key's requests of the current UTC day against ``limit``."""

    def __init__(self, limit: int, *, epoch_ns: Callable[[], int]) -> None:
        self.limit = limit
        self._epoch_ns = epoch_ns
        self._day = -1
        self._used: dict[str, int] = {}

    def charge(self, key: str, cost: int) -> QuotaAnswer:
        """Count a request of ``cost`` for ``key``; a request past the budget is refused and not counted."""
        now = self._epoch_ns()
        day = now // _NS_PER_DAY
        if day != self._day:
            self._day, self._used = day, {}
        used = self._used.pop(key, 0)  # re-inserted last: the dict stays in order of last use
        remaining = self.limit - used - cost
        self._used[key] = used if remaining < 0 else used + cost
        if len(self._used) > MAX_TRACKED_KEYS:
            del self._used[next(iter(self._used))]
        return QuotaAnswer(self.limit, remaining, cost, (day + 1) * _NS_PER_DAY)
