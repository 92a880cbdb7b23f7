"""Waiting on the emulator's counters, without I/O: the blocking and the asyncio admin clients drive the same checks.

A ``Wait`` names the admin API path to poll (``/status`` unless said otherwise) and is told each answer the client
fetched from it; it says whether the wait is over, and raises ``TimeoutError`` once its deadline has passed. The
client only fetches and sleeps, each in its own way.
"""

from __future__ import annotations

import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any, Final

MESSAGES_TIMEOUT_S: Final = 30.0
MESSAGES_POLL_S: Final = 0.05
SUBSCRIBERS_TIMEOUT_S: Final = 10.0
SUBSCRIBERS_POLL_S: Final = 0.02
SUBSCRIPTION_TIMEOUT_S: Final = 10.0

Status = Mapping[str, Any]


class Wait:
    """Until ``measure(status) >= count``, for at most ``timeout_s`` seconds from now, polling every ``poll_s``."""

    def __init__(
        self,
        measure: Callable[[Status], int],
        count: int,
        what: str,
        *,
        timeout_s: float,
        poll_s: float,
        path: str = "/status",
    ) -> None:
        """``what``: the counted thing, for the timeout's message (``"messages sent"``); ``path``: the admin API
        path whose answers ``measure`` reads."""
        self.poll_s = poll_s
        self.path = path
        self._measure = measure
        self._count = count
        self._what = what
        self._timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s

    def done(self, status: Status) -> bool:
        """Whether ``status`` ends the wait; ``TimeoutError`` if it does not and the deadline has passed."""
        have = self._measure(status)
        if have >= self._count:
            return True
        if time.monotonic() > self._deadline:
            raise TimeoutError(f"{have} of {self._count} {self._what} after {self._timeout_s} s")
        return False


def for_messages(count: int, timeout_s: float, poll_s: float) -> Wait:
    """Until the server has sent at least ``count`` messages in all (its shared market's counter)."""
    return Wait(_messages_sent, count, "messages sent", timeout_s=timeout_s, poll_s=poll_s)


def for_subscribers(count: int, timeout_s: float, poll_s: float) -> Wait:
    """Until at least ``count`` connections have a subscription (their ``hello`` was processed)."""
    return Wait(_subscribed_connections, count, "connections subscribed", timeout_s=timeout_s, poll_s=poll_s)


def for_subscription(data_type: str, symbol_id: str | None, timeout_s: float, poll_s: float) -> Wait:
    """Until a connection receives ``data_type`` (of ``symbol_id``, when given): polls the request journal."""
    query = {"data_type": data_type} if symbol_id is None else {"data_type": data_type, "symbol_id": symbol_id}
    what = f"connection receiving {data_type}" + ("" if symbol_id is None else f" of {symbol_id}")
    return Wait(
        _connections,
        1,
        what,
        timeout_s=timeout_s,
        poll_s=poll_s,
        path="/journal?" + urllib.parse.urlencode(query),
    )


def newest_journal(journals: Status) -> dict[str, Any]:
    """The newest connection's journal in an answer of ``/admin/journal``."""
    journal: dict[str, Any] = journals["connections"][-1]
    return journal


def _connections(journals: Status) -> int:
    return len(journals["connections"])


def _messages_sent(status: Status) -> int:
    return int(status["messages_sent"])


def _subscribed_connections(status: Status) -> int:
    return sum(1 for client in status["clients"] if client["routes"] > 0)
