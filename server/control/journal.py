"""The request journal: what each client sent, when, and what came of it, for the admin API and the pytest handle.

A generic mock server lets a test ask "what did my client send?"; this is the emulator's answer. The WebSocket
endpoint writes one ``JournalEntry`` per client message: a hello, subscribe or unsubscribe that was accepted, with
the scope it left, or a rejected frame with the error the client was answered. Journals outlive their connections
for a while, so that a test can still read what a client sent after the client hung up.

Bounded, since any client can fill it: ``MAX_ENTRIES`` per connection (older entries drop, counted in ``dropped``),
``MAX_MESSAGE_CHARS`` of each message, ``MAX_SCOPE_VALUES`` filter values of each scope, and ``MAX_CONNECTIONS``
journals, the oldest closed one forgotten first: a few KB an entry, some 60 MB at worst. API
keys in recorded messages are masked: keys are never echoed (PROTOCOL.md §1.4).
"""

from __future__ import annotations

import heapq
import re
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final

from coinapi_emulator.server.protocol.encode import format_time
from coinapi_emulator.server.protocol.filters import Filters
from coinapi_emulator.server.protocol.messages import Verb
from coinapi_emulator.server.protocol.scope import Scope

MAX_CONNECTIONS: Final = 256
MAX_ENTRIES: Final = 64
MAX_MESSAGE_CHARS: Final = 1024
#: filter values shown in an entry's scope, all kinds together (``scope_json``)
MAX_SCOPE_VALUES: Final = 32
#: the entry type of a message that was refused
REJECTED: Final = "rejected"

_APIKEY = re.compile(r'("apikey"\s*:\s*)"(?:[^"\\]|\\.)*"')


def scope_json(scope: Scope) -> dict[str, dict[str, list[str]]]:
    """A scope as JSON: each data type with the filter values that select its instruments (sorted; none = all).

    At most ``MAX_SCOPE_VALUES`` values in all: a list cut short ends with ``"... and N more"``. A hello may carry
    10,000 filter values, and the journal keeps many entries of many connections.
    """
    budget = MAX_SCOPE_VALUES
    shown: dict[str, dict[str, list[str]]] = {}
    for data_type, filters in scope.items():
        kinds = shown[data_type.value] = {}
        for kind, values in _filter_kinds(filters):
            listed = heapq.nsmallest(budget, values)  # sorted, without sorting 10,000 values for 32
            budget -= len(listed)
            cut = len(values) - len(listed)
            kinds[kind] = [*listed, f"... and {cut} more"] if cut else listed
    return shown


def _filter_kinds(filters: Filters) -> Iterator[tuple[str, frozenset[str]]]:
    kinds = (
        ("symbol_id", filters.symbol_ids),
        ("exchange_id", filters.exchange_ids),
        ("asset_id", filters.asset_ids),
        ("period_id", filters.period_ids),
    )
    return ((kind, values) for kind, values in kinds if values)


def _message_text(raw: str | bytes) -> str:
    """What the journal keeps of a message: text with its key masked and cut to ``MAX_MESSAGE_CHARS``; binary
    messages by their size alone."""
    if isinstance(raw, bytes):
        return f"<binary message, {len(raw)} bytes>"
    return _APIKEY.sub(r'\1"***"', raw[: MAX_MESSAGE_CHARS * 2])[:MAX_MESSAGE_CHARS]


@dataclass(slots=True)
class JournalEntry:
    """One client message and its outcome."""

    #: wall-clock receipt time, ISO 8601 UTC as CoinAPI writes times
    time: str
    #: ``hello``, ``subscribe``, ``unsubscribe``, or ``rejected``
    type: str
    message: str
    #: the scope the message left; None when it was rejected
    scope: dict[str, dict[str, list[str]]] | None = None
    #: the ``error`` message the client was answered, when rejected
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The entry as the admin API shows it."""
        return {"time": self.time, "type": self.type, "message": self.message, "scope": self.scope, "error": self.error}


@dataclass(slots=True)
class ConnectionJournal:
    """The journal of one connection."""

    id: int
    peer: str
    opened: str
    #: ``shared`` or ``private`` (with ``seed``)
    market: str = "shared"
    seed: int | None = None
    closed: str | None = None
    entries: deque[JournalEntry] = field(default_factory=lambda: deque(maxlen=MAX_ENTRIES))
    #: entries that no longer fit (``MAX_ENTRIES``)
    dropped: int = 0

    @property
    def scope(self) -> dict[str, dict[str, list[str]]]:
        """The scope of the last accepted message (empty before the first)."""
        return next((entry.scope for entry in reversed(self.entries) if entry.scope is not None), {})

    def as_json(self) -> dict[str, Any]:
        """The journal as the admin API shows it: the connection, its current scope, its entries oldest first."""
        return {
            "id": self.id,
            "peer": self.peer,
            "market": self.market,
            "seed": self.seed,
            "opened": self.opened,
            "closed": self.closed,
            "scope": self.scope,
            "entries": [entry.as_json() for entry in self.entries],
            "dropped": self.dropped,
        }


class Journal:
    """The journals of the connections of every market, bounded (module docstring)."""

    def __init__(self, *, max_connections: int = MAX_CONNECTIONS, epoch_ns: Callable[[], int] = time.time_ns) -> None:
        self._max_connections = max_connections
        self._epoch_ns = epoch_ns
        #: by connection id, oldest first
        self._journals: dict[int, ConnectionJournal] = {}

    def __iter__(self) -> Iterator[ConnectionJournal]:
        return iter(list(self._journals.values()))

    def get(self, connection_id: int) -> ConnectionJournal | None:
        """The journal of one connection, open or recently closed; None if unknown or forgotten."""
        return self._journals.get(connection_id)

    def opened(self, connection_id: int, peer: str) -> ConnectionJournal:
        """Start the journal of a new connection (forgetting the oldest closed one past ``max_connections``)."""
        journal = ConnectionJournal(id=connection_id, peer=peer, opened=self._now())
        self._journals[connection_id] = journal
        if len(self._journals) > self._max_connections:
            self._forget_one()
        return journal

    def _forget_one(self) -> None:
        """Forget the oldest closed journal, else the oldest one (more connections are open than journals kept)."""
        oldest = next((j.id for j in self._journals.values() if j.closed is not None), next(iter(self._journals)))
        del self._journals[oldest]

    def accepted(self, journal: ConnectionJournal, raw: str | bytes, verb: Verb, scope: Scope) -> None:
        """Add a message the protocol accepted as ``verb``, which left ``scope``."""
        self._add(journal, JournalEntry(self._now(), verb.value, _message_text(raw), scope=scope_json(scope)))

    def rejected(self, journal: ConnectionJournal, raw: str | bytes, error: str) -> None:
        """Add a message that was refused with the ``error`` message ``error``."""
        self._add(journal, JournalEntry(self._now(), REJECTED, _message_text(raw), error=error))

    @staticmethod
    def _add(journal: ConnectionJournal, entry: JournalEntry) -> None:
        if len(journal.entries) == MAX_ENTRIES:
            journal.dropped += 1
        journal.entries.append(entry)

    @staticmethod
    def refused_last(journal: ConnectionJournal, error: str) -> None:
        """The last message, accepted by the protocol, was refused afterwards (an unknown symbol in a strict
        market): it becomes a rejected entry with ``error``."""
        if journal.entries:
            last = journal.entries[-1]
            last.type, last.scope, last.error = REJECTED, None, error

    def closed(self, journal: ConnectionJournal) -> None:
        """Note that the connection closed; its journal stays readable until forgotten."""
        journal.closed = self._now()

    def _now(self) -> str:
        return format_time(self._epoch_ns())
