"""session.py: the per-connection state machine, driven with text frames and no socket."""

from __future__ import annotations

from dataclasses import dataclass, field

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.errors import SlowConsumer, UnknownFilterValue
from coinapi_emulator.server.protocol.filters import Filters
from coinapi_emulator.server.protocol.messages import UpdateLimits, Verb
from coinapi_emulator.server.protocol.scope import EMPTY_SCOPE, Scope
from coinapi_emulator.server.protocol.session import KeyPolicy, Session, SessionLimits, SessionState
from tests.server.protocol.factories import (
    ASSET_ENTRIES,
    BAD_KEY,
    EXCHANGE_IDS,
    GOOD_KEY,
    NO_DEADLINE,
    PERIOD_IDS,
    SYMBOL_ENTRIES,
    assert_frames,
    error_frame,
    frame,
    hello,
)

GOOD_KEYS = KeyPolicy(allowed=frozenset({GOOD_KEY}))
INVALID_KEY = error_frame("Invalid API key")


def new_session(upgrade_key: str | None = None, *, allow_unfiltered_books: bool = False) -> Session:
    return Session(key_policy=GOOD_KEYS, upgrade_key=upgrade_key, allow_unfiltered_books=allow_unfiltered_books)


def open_session(*data_types: str, **fields: object) -> Session:
    session = new_session()
    session.receive_text(orjson.dumps({**orjson.loads(hello(*data_types)), **fields}))
    assert_frames(session, [])
    assert session.state is SessionState.OPEN
    return session


def assert_closed_with(session: Session, code: int, text: str) -> None:
    assert_frames(session, [error_frame(text)])
    assert session.close == (code, text) and session.error == text
    assert session.state is SessionState.CLOSED


def test_receive_text_says_which_verb_it_accepted_and_nothing_once_closed() -> None:
    session = new_session()
    assert session.receive_text(hello("trade")) is Verb.HELLO and session.error is None
    assert session.receive_text('{"type":"unsubscribe","subscribe_data_type":["trade"]}') is Verb.UNSUBSCRIBE
    assert session.receive_text("{") is None and session.error is not None and "JSON" in session.error
    assert session.receive_text(hello("trade")) is None, "a closed session ignores what comes"


# --- key policy ------------------------------------------------------------------------------------------


def test_key_policy() -> None:
    assert KeyPolicy().accepts("anything")
    assert not KeyPolicy().accepts("")
    assert GOOD_KEYS.accepts(GOOD_KEY)
    assert not GOOD_KEYS.accepts(BAD_KEY)
    assert not KeyPolicy(allowed=frozenset({""})).accepts("")


# --- authentication --------------------------------------------------------------------------------------


def test_hello_with_a_good_key_opens_silently() -> None:
    # PROTOCOL.md §1.2: no acks; the first data frame is the only confirmation.
    session = new_session()
    assert session.state is SessionState.AWAITING_HELLO and not session.authenticated
    session.receive_text(hello("trade"))
    assert_frames(session, [])
    assert session.close is None
    assert session.authenticated
    assert session.scope == Scope.of({DataType.TRADE: Filters()})


def test_hello_with_a_bad_key_is_refused_with_the_real_text() -> None:
    session = new_session()
    session.receive_text(hello("trade", apikey=BAD_KEY))
    assert_closed_with(session, 1008, "Invalid API key")
    assert not session.authenticated
    assert session.scope == EMPTY_SCOPE


def test_missing_key_is_an_invalid_key() -> None:
    session = new_session()
    session.receive_text(frame(type="hello", subscribe_data_type=["trade"]))
    assert_closed_with(session, 1008, "Invalid API key")


def test_key_from_the_upgrade_request_only() -> None:
    # Nautilus sends the key in the X-CoinAPI-Key header and none in hello (PROTOCOL.md §9).
    session = new_session(upgrade_key=GOOD_KEY)
    session.receive_text(frame(type="hello", heartbeat=True, subscribe_data_type=["quote"]))
    assert_frames(session, [])
    assert session.authenticated


def test_bad_upgrade_key_fails_at_the_first_hello_not_before() -> None:
    session = new_session(upgrade_key=BAD_KEY)
    assert session.close is None
    session.receive_text(frame(type="hello", subscribe_data_type=["quote"]))
    assert_closed_with(session, 1008, "Invalid API key")


@pytest.mark.parametrize(
    ("upgrade_key", "hello_key", "accepted"),
    [(BAD_KEY, GOOD_KEY, True), (GOOD_KEY, BAD_KEY, False), (GOOD_KEY, "", True), (None, "", False)],
    ids=["hello-wins", "hello-wins-even-if-bad", "empty-hello-key-falls-back", "empty-everywhere"],
)
def test_hello_key_wins_when_non_empty(upgrade_key: str | None, hello_key: str, accepted: bool) -> None:
    session = new_session(upgrade_key=upgrade_key)
    session.receive_text(hello("trade", apikey=hello_key))
    assert session.authenticated is accepted
    assert (session.close is None) is accepted


def test_any_non_empty_key_by_default() -> None:
    session = Session(key_policy=KeyPolicy(), upgrade_key=None)
    session.receive_text(hello("trade", apikey="not-a-uuid"))
    assert session.authenticated


def test_later_keys_are_ignored() -> None:
    session = open_session("trade")
    session.receive_text(hello("quote", apikey=BAD_KEY))
    assert_frames(session, [])
    assert DataType.QUOTE in session.scope


def test_keys_are_never_echoed() -> None:
    session = new_session(upgrade_key=BAD_KEY)
    session.receive_text(hello("trade", apikey="my-secret-key"))
    sent = b"".join(session.data_to_send())
    assert b"secret" not in sent and BAD_KEY.encode() not in sent
    assert session.close is not None and "secret" not in session.close[1]


def test_subscribe_may_be_the_first_message() -> None:
    session = new_session()
    session.receive_text(frame(type="subscribe", apikey=GOOD_KEY, subscribe_data_type=["trade"]))
    assert_frames(session, [])
    assert session.scope == Scope.of({DataType.TRADE: Filters()})


def test_unsubscribe_may_not_be_the_first_message() -> None:
    session = new_session(upgrade_key=GOOD_KEY)
    session.receive_text(frame(type="unsubscribe", subscribe_data_type=["trade"]))
    assert_closed_with(session, 1003, "First message must be hello or subscribe, got 'unsubscribe'")


# --- SDK hellos end to end -------------------------------------------------------------------------------


def test_csharp_hello() -> None:
    session = new_session()
    session.receive_text(
        orjson.dumps(
            {
                "type": "hello",
                "apikey": GOOD_KEY,
                "heartbeat": True,
                "subscribe_data_type": ["trade"],
                "subscribe_filter_symbol_id": None,
                "subscribe_filter_asset_id": None,
                "subscribe_filter_exchange_id": ["EXCHANGETHATDOESNOTEXISTS"],
                "subscribe_filter_period_id": None,
                "subscribe_update_limit_ms_quote": None,
                "subscribe_update_limit_ms_book_snapshot": None,
                "subscribe_update_limit_ms_exrate": None,
            }
        )
    )
    assert_frames(session, [])
    assert session.heartbeat is True
    assert session.scope == Scope.of({DataType.TRADE: Filters(exchange_ids=frozenset({"EXCHANGETHATDOESNOTEXISTS"}))})


def test_go_hello() -> None:
    session = new_session()
    session.receive_text(
        frame(
            type="",
            apikey=GOOD_KEY,
            heartbeat=False,
            subscribe_data_type=["quote"],
            subscribe_filter_symbol_id=None,
            subscribe_filter_asset_id=None,
            subscribe_filter_exchange_id=None,
            subscribe_filter_period_id=None,
            subscribe_update_limit_ms_quote=0,
            subscribe_update_limit_ms_book_snapshot=0,
            subscribe_update_limit_ms_exrate=0,
        )
    )
    assert_frames(session, [])
    assert session.limits == UpdateLimits()
    assert session.scope == Scope.of({DataType.QUOTE: Filters()})


def test_java_hello_without_type() -> None:
    session = new_session()
    session.receive_text(frame(apikey=GOOD_KEY, heartbeat=True, subscribe_data_type=["trade"]))
    assert_frames(session, [])
    assert session.heartbeat


# --- required filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize("book", ["book", "book5", "book20", "book50"])
def test_book_without_filter_is_refused(book: str) -> None:
    session = new_session()
    session.receive_text(hello("trade", book))
    assert_closed_with(
        session,
        1003,
        f"Data type '{book}' requires a symbol, exchange or asset filter"
        " (or start the emulator with --allow-unfiltered-books)",
    )
    assert session.authenticated  # the key was fine; the scope was not
    assert session.scope == EMPTY_SCOPE


def test_unfiltered_books_switch_serves_old_examples() -> None:
    # The official Python example and a sandy template send ["trade","quote","book20"] with no filter.
    session = new_session(allow_unfiltered_books=True)
    session.receive_text(hello("trade", "quote", "book20"))
    assert_frames(session, [])
    assert DataType.BOOK20 in session.scope


def test_exrate_without_asset_filter_is_refused_even_with_the_switch() -> None:
    session = new_session(allow_unfiltered_books=True)
    session.receive_text(hello("exrate", subscribe_filter_symbol_id=["BITSTAMP_"]))
    assert_closed_with(session, 1003, "Data type 'exrate' requires subscribe_filter_asset_id")


def test_subscribe_that_widens_a_book_to_everything_is_refused_and_changes_nothing() -> None:
    session = open_session("book", subscribe_filter_asset_id=["BTC"])
    assert session.scope_changed()
    session.receive_text(frame(type="subscribe", heartbeat=True, subscribe_data_type=["book", "trade"]))
    assert_closed_with(
        session,
        1003,
        "Data type 'book' requires a symbol, exchange or asset filter"
        " (or start the emulator with --allow-unfiltered-books)",
    )
    assert session.scope == Scope.of({DataType.BOOK: Filters(asset_ids=frozenset({"BTC"}))})
    assert session.heartbeat is False
    assert not session.scope_changed()


# --- heartbeat and limits --------------------------------------------------------------------------------


def test_heartbeat_latest_message_wins() -> None:
    session = open_session("trade", heartbeat=True)
    assert session.heartbeat
    session.receive_text(frame(type="subscribe", subscribe_data_type=["quote"]))
    assert session.heartbeat  # absent: unchanged
    session.receive_text(frame(type="subscribe", heartbeat=False, subscribe_data_type=["quote"]))
    assert not session.heartbeat
    session.receive_text(frame(type="unsubscribe", heartbeat=True, subscribe_data_type=["quote"]))
    assert session.heartbeat
    session.receive_text(frame(type="unsubscribe", heartbeat=None))
    assert session.heartbeat
    session.receive_text(hello("trade"))
    assert not session.heartbeat  # hello replaces everything; absent means off
    assert_frames(session, [])


def test_limits_hello_replaces_and_subscribe_overrides_non_zero_values() -> None:
    session = open_session("quote", subscribe_update_limit_ms_quote=100, subscribe_update_limit_ms_exrate=50)
    assert session.limits == UpdateLimits(quote_ms=100, exrate_ms=50)
    session.receive_text(
        frame(
            type="subscribe",
            subscribe_data_type=["book5"],
            subscribe_filter_exchange_id=["KRAKEN"],
            subscribe_update_limit_ms_quote=0,  # Go always sends 0: "not given", not "reset"
            subscribe_update_limit_ms_book_snapshot=250,
            subscribe_update_limit_ms_exrate=None,
        )
    )
    assert session.limits == UpdateLimits(quote_ms=100, book_snapshot_ms=250, exrate_ms=50)
    session.receive_text(frame(type="unsubscribe", subscribe_data_type=["book5"], subscribe_update_limit_ms_quote=5))
    assert session.limits == UpdateLimits(quote_ms=100, book_snapshot_ms=250, exrate_ms=50)
    session.receive_text(hello("quote"))
    assert session.limits == UpdateLimits()
    assert_frames(session, [])


# --- scope changes ---------------------------------------------------------------------------------------


def test_scope_changed_reports_each_change_once() -> None:
    session = new_session()
    assert not session.scope_changed()
    session.receive_text(hello("trade"))
    assert session.scope_changed()
    assert not session.scope_changed()
    session.receive_text(hello("trade"))  # same subscription again
    assert not session.scope_changed()
    session.receive_text(frame(type="subscribe", subscribe_data_type=["trade"], subscribe_filter_asset_id=["BTC"]))
    assert not session.scope_changed()  # "all" absorbs BTC
    session.receive_text(frame(type="subscribe", subscribe_data_type=["quote"]))
    assert session.scope_changed()
    session.receive_text(frame(type="subscribe", heartbeat=True, subscribe_data_type=["quote"]))
    assert session.scope_changed()  # heartbeat is part of what the hub must apply
    session.receive_text(frame(type="subscribe", subscribe_data_type=["quote"], subscribe_update_limit_ms_quote=9))
    assert session.scope_changed()  # so are limits
    session.receive_text(frame(type="unsubscribe", subscribe_data_type=["trade", "quote"]))
    assert session.scope_changed()
    assert session.scope == EMPTY_SCOPE
    assert_frames(session, [])


def test_subscribe_and_unsubscribe_follow_the_scope_algebra() -> None:
    session = open_session("book", subscribe_filter_asset_id=["BTC", "ETH"])
    session.receive_text(frame(type="unsubscribe", subscribe_data_type=["book"], subscribe_filter_asset_id=["BTC"]))
    assert session.scope == Scope.of({DataType.BOOK: Filters(asset_ids=frozenset({"ETH"}))})
    session.receive_text(frame(type="unsubscribe", subscribe_data_type=["book"], subscribe_filter_asset_id=["ETH"]))
    assert session.scope == EMPTY_SCOPE
    assert_frames(session, [])
    assert session.close is None


# --- errors and closing ----------------------------------------------------------------------------------


def test_a_protocol_error_after_opening_closes_the_session() -> None:
    session = open_session("trade")
    session.receive_text(b"{not json")
    assert_closed_with(session, 1003, "Malformed message: invalid JSON")
    assert session.authenticated


def test_input_after_close_is_ignored() -> None:
    session = new_session()
    session.receive_text(b"[]")
    assert_closed_with(session, 1003, "Malformed message: expected a JSON object")
    session.receive_text(hello("trade"))
    session.receive_text(b"garbage")
    assert_frames(session, [])
    assert session.close == (1003, "Malformed message: expected a JSON object")
    assert session.scope == EMPTY_SCOPE


def test_errors_found_outside_close_through_fail() -> None:
    session = open_session("trade")
    session.fail(SlowConsumer(pending_messages=131_072, pending_bytes=1 << 20))
    assert_closed_with(session, 1013, "Reached maximum allowed buffered messages for this connection.")
    session.fail(UnknownFilterValue("subscribe_filter_exchange_id", "NOPE"))
    assert_frames(session, [])  # only the first error is reported
    assert session.close == (1013, "Reached maximum allowed buffered messages for this connection.")


def test_close_reason_fits_a_close_frame() -> None:
    session = new_session()
    session.receive_text(hello("é" * 64))
    [sent] = session.data_to_send()
    text = orjson.loads(sent)["message"]
    assert session.close is not None
    code, reason = session.close
    assert code == 1003
    assert len(reason.encode()) <= 123 and text.startswith(reason)


# --- properties ------------------------------------------------------------------------------------------

garbage = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.recursive(
        st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | st.text(max_size=8),
        lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
        max_leaves=12,
    ).map(orjson.dumps),
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.sampled_from(["hello", "subscribe", "unsubscribe", "", "x"]),
            "apikey": st.sampled_from([BAD_KEY, "", None]),
            "subscribe_data_type": st.lists(st.sampled_from(["trade", "book", "exrate", "book_l3", "nope"])),
            "subscribe_filter_symbol_id": st.lists(st.sampled_from(SYMBOL_ENTRIES)) | st.integers(0, 9),
        },
    ).map(orjson.dumps),
)


@NO_DEADLINE
@given(garbage)
def test_a_bad_first_frame_always_gives_one_error_and_a_close(raw: str | bytes) -> None:
    # The policy accepts only GOOD_KEY, which the garbage never carries, so no first frame can succeed.
    session = new_session()
    session.receive_text(raw)
    [sent] = session.data_to_send()
    decoded = orjson.loads(sent)
    assert decoded["type"] == "error" and decoded["message"]
    assert session.close is not None and session.close[1] == decoded["message"][: len(session.close[1])]
    assert session.state is SessionState.CLOSED


@NO_DEADLINE
@given(garbage)
def test_garbage_after_hello_never_raises(raw: str | bytes) -> None:
    session = open_session("trade")
    session.receive_text(raw)
    sent = session.data_to_send()
    if session.close is None:
        assert sent == []
    else:
        assert len(sent) == 1 and orjson.loads(sent[0])["type"] == "error"


# A reference model of the session, written independently of scope.py with mutable sets and "all" = empty.
KINDS = ("symbol", "exchange", "asset", "period")
INSTRUMENT_KINDS = KINDS[:3]


@dataclass
class Model:
    scope: dict[DataType, dict[str, set[str]]] = field(default_factory=dict)
    heartbeat: bool = False
    limits: tuple[int, int, int] = (0, 0, 0)

    @staticmethod
    def kept(data_type: DataType, values: dict[str, set[str]]) -> dict[str, set[str]]:
        if data_type is DataType.OHLCV:
            kinds: tuple[str, ...] = KINDS
        elif data_type is DataType.EXRATE:
            kinds = ("asset",)
        else:
            kinds = INSTRUMENT_KINDS
        return {kind: set(values[kind]) if kind in kinds else set() for kind in KINDS}

    def subscribe(self, data_types: list[DataType], values: dict[str, set[str]]) -> None:
        for data_type in data_types:
            new = self.kept(data_type, values)
            old = self.scope.setdefault(data_type, new)
            if old is new:
                continue
            if any(old[k] for k in INSTRUMENT_KINDS) and any(new[k] for k in INSTRUMENT_KINDS):
                for kind in INSTRUMENT_KINDS:
                    old[kind] |= new[kind]
            else:
                for kind in INSTRUMENT_KINDS:
                    old[kind] = set()
            old["period"] = old["period"] | new["period"] if old["period"] and new["period"] else set()

    def unsubscribe(self, data_types: list[DataType], values: dict[str, set[str]]) -> None:
        for data_type in dict.fromkeys(data_types):
            if data_type not in self.scope:
                continue
            old, gone = self.scope[data_type], self.kept(data_type, values)
            if not any(gone.values()):
                del self.scope[data_type]
                continue
            if any(old[k] for k in INSTRUMENT_KINDS) and any(gone[k] for k in INSTRUMENT_KINDS):
                for kind in INSTRUMENT_KINDS:
                    old[kind] -= gone[kind]
                if not any(old[k] for k in INSTRUMENT_KINDS):
                    del self.scope[data_type]
                    continue
            if old["period"] and gone["period"]:
                old["period"] -= gone["period"]
                if not old["period"]:
                    del self.scope[data_type]

    def as_scope(self) -> Scope:
        return Scope.of(
            {
                data_type: Filters(*(frozenset(values[kind]) for kind in KINDS))
                for data_type, values in self.scope.items()
            }
        )


#: one type of each filter treatment, so that consecutive frames often touch the same type
FEW_TYPES = (DataType.TRADE, DataType.OHLCV, DataType.BOOK5, DataType.EXRATE)


@dataclass(frozen=True)
class Step:
    """One valid client frame and what it says, decoded independently of messages.py."""

    verb: str
    raw: bytes
    data_types: list[DataType]
    values: dict[str, set[str]]
    heartbeat: bool | None
    limits: tuple[int, int, int]


@st.composite
def steps(draw: st.DrawFn, verbs: tuple[str, ...]) -> Step:
    """A valid frame (books carry an instrument filter, exrate an asset); empty filters in every wire form."""
    verb = draw(st.sampled_from(verbs))
    values = {
        "symbol": draw(st.sets(st.sampled_from(SYMBOL_ENTRIES[:2]), max_size=1)),
        "exchange": draw(st.sets(st.sampled_from(EXCHANGE_IDS[:2]), max_size=1)),
        "asset": draw(st.sets(st.sampled_from(ASSET_ENTRIES[:2]), max_size=1)),
        "period": draw(st.sets(st.sampled_from(PERIOD_IDS[:2]), max_size=2)),
    }
    data_types = draw(st.lists(st.sampled_from(FEW_TYPES), min_size=verb != "unsubscribe", max_size=3))
    if verb != "unsubscribe" and DataType.EXRATE in data_types and not values["asset"]:
        values["asset"] = {"BTC"}
    body: dict[str, object] = {"type": verb, "subscribe_data_type": [t.value for t in data_types]}
    empty = draw(st.sampled_from(["absent", "null", "[]"]))
    for kind, entries in values.items():
        if entries or empty != "absent":
            body[f"subscribe_filter_{kind}_id"] = sorted(entries) or (None if empty == "null" else [])
    heartbeat = draw(st.sampled_from([None, True, False, "absent"]))
    if heartbeat != "absent":
        body["heartbeat"] = heartbeat
    limits = []
    for name in ("quote", "book_snapshot", "exrate"):
        limit = draw(st.sampled_from([None, 0, 10, 20, "absent"]))
        if limit != "absent":
            body[f"subscribe_update_limit_ms_{name}"] = limit
        limits.append(limit if isinstance(limit, int) else 0)
    if draw(st.booleans()):
        body["apikey"] = GOOD_KEY
    hb = heartbeat if isinstance(heartbeat, bool) else None
    return Step(verb, orjson.dumps(body), data_types, values, hb, (limits[0], limits[1], limits[2]))


def apply_to_model(model: Model, step: Step) -> None:
    if step.verb == "hello":
        model.scope.clear()
        model.heartbeat = step.heartbeat is True
        model.limits = step.limits
    elif step.heartbeat is not None:
        model.heartbeat = step.heartbeat
    if step.verb == "unsubscribe":
        model.unsubscribe(step.data_types, step.values)
        return
    model.subscribe(step.data_types, step.values)
    if step.verb == "subscribe":
        quote, book, exrate = (new or old for new, old in zip(step.limits, model.limits, strict=True))
        model.limits = (quote, book, exrate)


@NO_DEADLINE
@given(steps(("hello", "subscribe")), st.lists(steps(("hello", "subscribe", "unsubscribe")), max_size=8))
def test_valid_sequences_match_the_reference_model(first: Step, rest: list[Step]) -> None:
    session = Session(key_policy=GOOD_KEYS, upgrade_key=GOOD_KEY, allow_unfiltered_books=True)
    model = Model()
    previous = (EMPTY_SCOPE, False, UpdateLimits())
    for step in [first, *rest]:
        session.receive_text(step.raw)
        apply_to_model(model, step)
        assert_frames(session, [])
        assert session.close is None
        assert session.scope == model.as_scope()
        assert session.heartbeat is model.heartbeat
        assert session.limits == UpdateLimits(*model.limits)
        current = (session.scope, session.heartbeat, session.limits)
        assert session.scope_changed() is (current != previous)
        previous = current


def test_key_lines_restrict_and_ignore_comments() -> None:
    policy = KeyPolicy.from_lines("alpha\n  beta  # ops team\n# comment\n\n", source="keys")
    assert policy.accepts("alpha") and policy.accepts("beta") and not policy.accepts("gamma")


def test_key_lines_without_a_key_are_refused() -> None:
    with pytest.raises(ValueError, match="keys: no API key"):
        KeyPolicy.from_lines("# only comments\n", source="keys")


# --- what one connection may send (issue 14, item 8) ----------------------------------------------------------


def limited(**limits: int) -> Session:
    return Session(key_policy=GOOD_KEYS, upgrade_key=None, limits=SessionLimits(**limits))


def test_a_message_over_the_size_limit_is_refused_unread() -> None:
    session = limited(max_message_chars=100)
    message = hello("trade", subscribe_filter_symbol_id=["X" * 200])
    session.receive_text(message)
    assert_closed_with(session, 1009, f"Message too big: {len(message)} characters, at most 100")


def test_too_many_filter_values_in_one_message_are_refused() -> None:
    session = limited(max_filter_values=3)
    session.receive_text(hello("trade", subscribe_filter_symbol_id=["A", "B"], subscribe_filter_asset_id=["C", "D"]))
    assert_closed_with(session, 1009, "Too many filter values: 4, at most 3")
    allowed = limited(max_filter_values=3)
    allowed.receive_text(hello("trade", subscribe_filter_symbol_id=["A"], subscribe_filter_asset_id=["C", "D"]))
    assert allowed.state is SessionState.OPEN


def test_a_binary_message_is_refused() -> None:
    session = new_session()
    session.receive_binary(hello("trade"))
    assert_closed_with(session, 1003, "Binary messages are not accepted: send JSON text")


def test_more_messages_a_second_than_the_limit_are_refused() -> None:
    session = limited(max_messages_per_second=3)
    session.receive_text(hello("trade"), now_s=10.2)
    for now_s in (10.5, 10.9, 11.0, 11.4, 11.8):  # three in second 10, three in second 11: at the limit
        session.receive_text(frame(type="subscribe", subscribe_data_type=["quote"]), now_s=now_s)
    assert_frames(session, [])
    session.receive_text(frame(type="subscribe", subscribe_data_type=["quote"]), now_s=11.9)
    assert_closed_with(session, 1013, "More than 3 messages a second: rate limit exceeded, retry later")
