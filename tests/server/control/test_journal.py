"""The request journal, pure: entries, masking, bounds and forgetting."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.control.journal import (
    MAX_ENTRIES,
    MAX_MESSAGE_CHARS,
    MAX_SCOPE_VALUES,
    Journal,
    scope_json,
)
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.filters import Filters
from coinapi_emulator.server.protocol.messages import Verb
from coinapi_emulator.server.protocol.scope import Scope

START_NS = 1_704_067_200_000_000_000
SCOPE = Scope.of({DataType.TRADE: Filters(symbol_ids=frozenset({"B$", "A"})), DataType.QUOTE: Filters()})


def _journal(max_connections: int = 8) -> Journal:
    ticks = itertools.count(START_NS, 1_000_000)
    return Journal(max_connections=max_connections, epoch_ns=lambda: next(ticks))


def test_accepted_and_rejected_entries() -> None:
    journal = _journal()
    conn = journal.opened(1, "127.0.0.1:5000")
    journal.accepted(conn, '{"type":"hello"}', Verb.HELLO, SCOPE)
    journal.rejected(conn, "nope", "Invalid JSON")
    shown = conn.as_json()
    assert shown["opened"] == "2024-01-01T00:00:00.0000000Z" and shown["closed"] is None
    first, second = shown["entries"]
    assert first == {
        "time": "2024-01-01T00:00:00.0010000Z",
        "type": "hello",
        "message": '{"type":"hello"}',
        "scope": {"trade": {"symbol_id": ["A", "B$"]}, "quote": {}},
        "error": None,
    }
    assert second["type"] == "rejected" and second["scope"] is None and second["error"] == "Invalid JSON"
    assert shown["scope"] == first["scope"], "the current scope is the last accepted one"
    journal.closed(conn)
    assert conn.as_json()["closed"] == "2024-01-01T00:00:00.0030000Z"


def test_refused_last_turns_an_accepted_entry_into_a_rejected_one() -> None:
    journal = _journal()
    conn = journal.opened(1, "p")
    journal.refused_last(conn, "unknown symbol")  # nothing to amend: no error
    journal.accepted(conn, "{}", Verb.SUBSCRIBE, SCOPE)
    journal.refused_last(conn, "unknown symbol")
    (entry,) = conn.as_json()["entries"]
    assert (entry["type"], entry["scope"], entry["error"]) == ("rejected", None, "unknown symbol")
    assert conn.scope == {}


def test_api_keys_are_masked_and_binary_frames_summarised() -> None:
    journal = _journal()
    conn = journal.opened(1, "p")
    journal.accepted(conn, '{"type":"hello","apikey" : "se\\"cret","heartbeat":true}', Verb.HELLO, SCOPE)
    journal.rejected(conn, b"\x00\x01\x02", "binary")
    hello, binary = (entry["message"] for entry in conn.as_json()["entries"])
    assert "cret" not in hello and '"apikey" : "***"' in hello and '"heartbeat":true' in hello
    assert binary == "<binary message, 3 bytes>"


@given(st.text(min_size=0, max_size=3 * MAX_MESSAGE_CHARS))
def test_messages_are_cut_to_the_limit(text: str) -> None:
    journal = _journal()
    conn = journal.opened(1, "p")
    journal.rejected(conn, text, "e")
    kept = conn.entries[0].message
    assert len(kept) <= MAX_MESSAGE_CHARS
    if "apikey" not in text:
        assert kept == text[:MAX_MESSAGE_CHARS]


def test_entries_are_bounded_and_counted() -> None:
    journal = _journal()
    conn = journal.opened(1, "p")
    for n in range(MAX_ENTRIES + 5):
        journal.rejected(conn, str(n), "e")
    assert len(conn.entries) == MAX_ENTRIES and conn.dropped == 5
    assert conn.entries[0].message == "5"


def test_closed_journals_are_forgotten_first() -> None:
    journal = _journal(max_connections=3)
    first, second, _ = (journal.opened(n, "p") for n in (1, 2, 3))
    journal.closed(second)
    journal.opened(4, "p")
    assert [j.id for j in journal] == [1, 3, 4], "the closed one went, though it was not the oldest"
    journal.opened(5, "p")
    assert [j.id for j in journal] == [3, 4, 5] and journal.get(1) is None and journal.get(5) is not None
    assert first.closed is None


def test_scope_json_shows_at_most_max_scope_values() -> None:
    many = frozenset(f"S{n:05}" for n in range(10_000))
    scope = Scope.of(
        {DataType.TRADE: Filters(symbol_ids=many), DataType.QUOTE: Filters(exchange_ids=frozenset({"X", "Y"}))}
    )
    shown = scope_json(scope)
    assert shown["trade"]["symbol_id"][:2] == ["S00000", "S00001"]
    assert shown["trade"]["symbol_id"][-1] == f"... and {10_000 - MAX_SCOPE_VALUES} more"
    assert len(shown["trade"]["symbol_id"]) == MAX_SCOPE_VALUES + 1
    assert shown["quote"] == {"exchange_id": ["... and 2 more"]}, "nothing left of the budget"


def test_scope_json_lists_only_the_filters_given() -> None:
    scope = Scope.of({DataType.OHLCV: Filters(exchange_ids=frozenset({"X"}), period_ids=frozenset({"1MIN"}))})
    assert scope_json(scope) == {"ohlcv": {"exchange_id": ["X"], "period_id": ["1MIN"]}}
