"""scope.py: the hello / subscribe / unsubscribe algebra (PROTOCOL.md §2.2) and filter matching (§2.4)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.errors import MissingFilter
from coinapi_emulator.server.protocol.filters import Filters
from coinapi_emulator.server.protocol.messages import ClientMessage, Verb
from coinapi_emulator.server.protocol.scope import (
    EMPTY_SCOPE,
    Scope,
    apply_hello,
    apply_subscribe,
    apply_unsubscribe,
    check_required_filters,
    relevant_filters,
)
from tests.server.protocol.factories import NO_DEADLINE, message, messages_strategy
from tests.server.protocol.factories import make_filters as f

HELLO, SUB, UNSUB = Verb.HELLO, Verb.SUBSCRIBE, Verb.UNSUBSCRIBE
T, Q, BOOK, OHLCV, EXRATE = DataType.TRADE, DataType.QUOTE, DataType.BOOK, DataType.OHLCV, DataType.EXRATE


# --- Scope values ----------------------------------------------------------------------------


def test_scope_is_an_immutable_mapping_in_canonical_order() -> None:
    a = Scope.of({Q: Filters(), T: f(assets=("BTC",))})
    b = Scope.of({T: f(assets=("BTC",)), Q: Filters()})
    assert a == b and hash(a) == hash(b)
    assert list(a) == [T, Q]
    assert a[T] == f(assets=("BTC",))
    assert T in a and BOOK not in a
    assert len(a) == 2 and len(EMPTY_SCOPE) == 0
    assert dict(a) == {T: f(assets=("BTC",)), Q: Filters()}
    with pytest.raises(KeyError):
        a[BOOK]


def test_relevant_filters() -> None:
    everything = f(("S",), ("E",), ("A",), ("1MIN",))
    assert relevant_filters(OHLCV, everything) == everything
    assert relevant_filters(EXRATE, everything) == f(assets=("A",))
    assert relevant_filters(T, everything) == f(("S",), ("E",), ("A",))
    assert relevant_filters(DataType.SYMBOL, everything) == f(("S",), ("E",), ("A",))


# --- hello -----------------------------------------------------------------------------------------------


def test_hello_builds_the_scope_from_the_message_alone() -> None:
    msg = message(HELLO, [T, OHLCV, EXRATE], filters=f(("BITSTAMP_",), assets=("BTC",), periods=("1MIN",)))
    assert apply_hello(msg) == Scope.of(
        {
            T: f(("BITSTAMP_",), assets=("BTC",)),
            OHLCV: f(("BITSTAMP_",), assets=("BTC",), periods=("1MIN",)),
            EXRATE: f(assets=("BTC",)),
        }
    )


# --- subscribe -------------------------------------------------------------------------------------------


def test_subscribe_adds_types_and_unions_values() -> None:
    scope = apply_hello(message(HELLO, [T], filters=f(("BITSTAMP_",))))
    scope = apply_subscribe(scope, message(SUB, [T, Q], filters=f(("COINBASE_",), exchanges=("KRAKEN",))))
    assert scope == Scope.of(
        {T: f(("BITSTAMP_", "COINBASE_"), ("KRAKEN",)), Q: f(("COINBASE_",), ("KRAKEN",))},
    )


def test_subscribe_to_all_instruments_absorbs_specific_values() -> None:
    scope = apply_hello(message(HELLO, [T], filters=f(("BITSTAMP_",))))
    assert apply_subscribe(scope, message(SUB, [T]))[T] == Filters()
    everything = apply_hello(message(HELLO, [T]))
    assert apply_subscribe(everything, message(SUB, [T], filters=f(("BITSTAMP_",)))) == everything


def test_subscribe_periods_union_and_all_periods_absorb() -> None:
    scope = apply_hello(message(HELLO, [OHLCV], filters=f(periods=("1MIN",))))
    assert apply_subscribe(scope, message(SUB, [OHLCV], filters=f(periods=("5MIN",))))[OHLCV] == f(
        periods=("1MIN", "5MIN")
    )
    assert apply_subscribe(scope, message(SUB, [OHLCV]))[OHLCV] == Filters()


def test_subscribe_per_kind_sets_are_a_superset_of_what_was_asked() -> None:
    # Documented limitation of the per-type filter-set model: A x 1MIN + B x 5MIN = {A, B} x {1MIN, 5MIN}.
    scope = apply_hello(message(HELLO, [OHLCV], filters=f(("A$",), periods=("1MIN",))))
    scope = apply_subscribe(scope, message(SUB, [OHLCV], filters=f(("B$",), periods=("5MIN",))))
    assert scope[OHLCV] == f(("A$", "B$"), periods=("1MIN", "5MIN"))


# --- unsubscribe -----------------------------------------------------------------------------------------


def test_unsubscribe_values_keeps_the_rest() -> None:
    # PROTOCOL.md §2.2: "unsubscribe book for BTC" when the scope is book x {BTC, ETH}.
    scope = apply_hello(message(HELLO, [BOOK, T], filters=f(assets=("BTC", "ETH"))))
    scope = apply_unsubscribe(scope, message(UNSUB, [BOOK], filters=f(assets=("BTC",))))
    assert scope == Scope.of({BOOK: f(assets=("ETH",)), T: f(assets=("BTC", "ETH"))})


def test_unsubscribe_without_values_removes_the_type() -> None:
    scope = apply_hello(message(HELLO, [BOOK, T], filters=f(assets=("BTC",))))
    assert apply_unsubscribe(scope, message(UNSUB, [BOOK])) == Scope.of({T: f(assets=("BTC",))})


def test_unsubscribe_removes_a_type_whose_instruments_run_out() -> None:
    scope = apply_hello(message(HELLO, [T], filters=f(("A$",), ("E",))))
    scope = apply_unsubscribe(scope, message(UNSUB, [T], filters=f(("A$",))))
    assert scope[T] == f(exchanges=("E",))
    assert apply_unsubscribe(scope, message(UNSUB, [T], filters=f(exchanges=("E",)))) == EMPTY_SCOPE


def test_unsubscribe_values_not_in_scope_change_nothing() -> None:
    scope = apply_hello(message(HELLO, [T], filters=f(("A$",))))
    assert apply_unsubscribe(scope, message(UNSUB, [T], filters=f(exchanges=("E",)))) == scope


def test_unsubscribe_cannot_subtract_from_all_instruments() -> None:
    # Documented limitation: there is no filter for "everything but BTC".
    scope = apply_hello(message(HELLO, [T]))
    assert apply_unsubscribe(scope, message(UNSUB, [T], filters=f(assets=("BTC",)))) == scope


def test_unsubscribe_periods() -> None:
    scope = apply_hello(message(HELLO, [OHLCV], filters=f(("A$",), periods=("1MIN", "5MIN"))))
    scope = apply_unsubscribe(scope, message(UNSUB, [OHLCV], filters=f(periods=("1MIN",))))
    assert scope[OHLCV] == f(("A$",), periods=("5MIN",))
    assert apply_unsubscribe(scope, message(UNSUB, [OHLCV], filters=f(periods=("5MIN",)))) == EMPTY_SCOPE
    # "all periods" cannot lose one
    everything = apply_hello(message(HELLO, [OHLCV]))
    assert apply_unsubscribe(everything, message(UNSUB, [OHLCV], filters=f(periods=("1MIN",)))) == everything


def test_unsubscribe_with_only_irrelevant_values_removes_the_type() -> None:
    # A period filter means nothing for trade, so this is "unsubscribe trade" with no filter.
    scope = apply_hello(message(HELLO, [T, OHLCV], filters=f(periods=("1MIN",))))
    assert apply_unsubscribe(scope, message(UNSUB, [T], filters=f(periods=("1MIN",)))) == Scope.of(
        {OHLCV: f(periods=("1MIN",))}
    )


def test_unsubscribe_of_absent_types_and_of_no_types_is_a_no_op() -> None:
    scope = apply_hello(message(HELLO, [T]))
    assert apply_unsubscribe(scope, message(UNSUB, [Q, BOOK])) == scope
    assert apply_unsubscribe(scope, message(UNSUB, [])) == scope


# --- required filters ------------------------------------------------------------------------------------


@pytest.mark.parametrize("book", [DataType.BOOK, DataType.BOOK5, DataType.BOOK20, DataType.BOOK50], ids=str)
def test_book_types_need_an_instrument_filter(book: DataType) -> None:
    with pytest.raises(MissingFilter) as caught:
        check_required_filters(Scope.of({T: Filters(), book: f(periods=("1MIN",))}))
    assert caught.value.data_type is book
    check_required_filters(Scope.of({book: Filters()}), allow_unfiltered_books=True)
    for filters in (f(("A",)), f(exchanges=("E",)), f(assets=("BTC",))):
        check_required_filters(Scope.of({book: filters}))


def test_exrate_needs_an_asset_filter_even_with_unfiltered_books_allowed() -> None:
    with pytest.raises(MissingFilter) as caught:
        check_required_filters(Scope.of({EXRATE: Filters()}), allow_unfiltered_books=True)
    assert caught.value.data_type is EXRATE
    check_required_filters(Scope.of({EXRATE: f(assets=("BTC",))}))


def test_other_types_need_no_filter() -> None:
    check_required_filters(Scope.of({t: Filters() for t in DataType if not t.needs_filter}))


# --- properties ------------------------------------------------------------------------------------------


def _fold(msgs: list[ClientMessage]) -> Scope:
    scope = EMPTY_SCOPE
    for msg in msgs:
        scope = apply_subscribe(scope, msg)
    return scope


scopes = st.lists(messages_strategy(SUB), max_size=3).map(_fold)


@NO_DEADLINE
@given(messages_strategy(HELLO), scopes)
def test_hello_is_idempotent_and_ignores_the_old_scope(msg: ClientMessage, _old: Scope) -> None:
    scope = apply_hello(msg)
    assert apply_hello(msg) == scope
    assert apply_subscribe(EMPTY_SCOPE, msg) == scope


@NO_DEADLINE
@given(scopes, messages_strategy(SUB))
def test_subscribing_twice_is_subscribing_once(scope: Scope, msg: ClientMessage) -> None:
    once = apply_subscribe(scope, msg)
    assert apply_subscribe(once, msg) == once


@NO_DEADLINE
@given(scopes, messages_strategy(SUB))
def test_subscribe_then_unsubscribe_restores_the_scope_when_the_types_were_new(
    scope: Scope, msg: ClientMessage
) -> None:
    assume(not set(msg.data_types) & set(scope))
    added = apply_subscribe(scope, msg)
    unsubscribe = message(UNSUB, msg.data_types, filters=msg.filters)
    assert apply_unsubscribe(added, unsubscribe) == scope


@NO_DEADLINE
@given(scopes, messages_strategy(UNSUB))
def test_unsubscribe_only_shrinks(scope: Scope, msg: ClientMessage) -> None:
    after = apply_unsubscribe(scope, msg)
    assert set(after) <= set(scope)
    for data_type, filters in after.items():
        before = scope[data_type]
        assert filters.symbol_ids <= before.symbol_ids
        assert filters.exchange_ids <= before.exchange_ids
        assert filters.asset_ids <= before.asset_ids
        assert filters.period_ids <= before.period_ids
        # a type never silently widens to "all instruments"
        assert filters.selects_all_instruments == before.selects_all_instruments
