"""The C ``SymbolCodec`` in ``server/plane/_speedups.c`` against ``ReferenceCodec`` in ``server/plane/codec.py``:
the same constructor, methods and signatures, and the same bytes (or the same exception) for the same arguments.

Inputs are wider than the market makes: every 64-bit time (years 1677-2262, formatted in C) and times of the
years 1-9999 (``--start-time`` takes any of them; outside 64 bits the C codec hands them to the reference
``format_time``), prices, sizes and sequences beyond 64 bits and of other types, precisions from -80 to 80,
symbols of the real catalogue. The C module is built by the project's install, so it is required here rather than
skipped (as in tests/simulator/test_speedups.py): a silently failed build would leave the server on the slow path
with every test still green.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
from collections.abc import Callable
from functools import partial
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import coinapi_emulator.server.plane
from coinapi_emulator.server.plane import _speedups as fast
from coinapi_emulator.server.plane import codec as codec_module
from coinapi_emulator.server.plane import streams
from coinapi_emulator.server.plane.codec import ReferenceCodec
from coinapi_emulator.server.protocol import encode as reference
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.transport.frames import frame_payload
from coinapi_emulator.simulator.catalog import CatalogConfig, Symbol, build_catalog
from coinapi_emulator.simulator.events import Bar, BookDelta, Level, Quote, TakerSide, Trade

SYMBOLS = build_catalog(CatalogConfig(), seed=0).symbols
NS_PER_S = 1_000_000_000
#: 0001-01-01T00:00:00Z and 10000-01-01T00:00:00Z
YEAR_1_NS, YEAR_10000_NS = -62_135_596_800 * NS_PER_S, 253_402_300_800 * NS_PER_S
I64 = st.integers(-(2**63), 2**63 - 1)

times = st.one_of(
    st.integers(1_500_000_000 * NS_PER_S, 2_500_000_000 * NS_PER_S),  # the years around now, to the ns
    I64,
    st.integers(YEAR_1_NS, YEAR_10000_NS - 1),
    st.sampled_from([0, -1, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 99, 100, NS_PER_S - 1, -NS_PER_S]),
)
EDGES = st.sampled_from([0, 1, -1, 9, 10, -10, 2**63 - 1, -(2**63), 2**63, -(2**63) - 1])
#: prices and sizes: what the market makes, round numbers (trailing zeros to strip), then anything an int can be,
#: then other types (the reference's formatters take them too; the C codec hands them over)
units = st.one_of(
    st.integers(0, 10**15),
    st.builds(lambda mantissa, zeros: mantissa * 10**zeros, st.integers(-(10**6), 10**6), st.integers(0, 20)),
    I64,
    EDGES,
    st.integers(-(10**40), 10**40),
    st.booleans(),
)
sequences = st.one_of(st.integers(1, 2**31 - 1), I64, EDGES, st.integers(-(2**80), 2**80), st.booleans())
#: any text without lone surrogates (those raise on encoding, in both: see the error test)
texts = st.text(st.characters(codec="utf-8"), max_size=40)
symbols = st.one_of(
    st.sampled_from(SYMBOLS),
    st.builds(
        dataclasses.replace,
        st.sampled_from(SYMBOLS),
        price_decimals=st.integers(-80, 80),
        size_decimals=st.integers(-80, 80),
    ),
)
levels = st.lists(st.builds(Level, units, units), max_size=60)
#: how callers pass levels: tuples (events, books), lists, or any iterable
CONTAINERS: list[Callable[[list[Level]], Any]] = [tuple, list, iter]
trades = st.builds(Trade, texts, times, units, units, st.sampled_from(TakerSide), st.one_of(st.uuids().map(str), texts))
quotes = st.builds(Quote, texts, times, units, units, units, units)
deltas = st.builds(BookDelta, texts, times, levels.map(tuple), levels.map(tuple))
bars = st.builds(
    Bar,
    texts,
    st.one_of(st.sampled_from(["1SEC", "1MIN", "5MIN", "1HRS", "1DAY"]), texts),
    times,
    times,
    times,
    times,
    units,
    units,
    units,
    units,
    units,
    st.one_of(st.integers(0, 10**6), sequences),
    st.booleans(),
    times,
    st.integers(1, 2**31 - 1),
)

METHODS = ("trade", "quote", "book", "book_delta", "bar")


def outcome(call: Callable[[], bytes]) -> tuple[str, Any]:
    """What a call gives: its bytes, or the type of what it raised."""
    try:
        return "bytes", call()
    except Exception as error:  # any exception is an outcome to compare
        return "raised", type(error)


def both(symbol: Symbol, method: str, *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """The outcomes of ``method`` and of its ``*_frame`` twin, from the C codec and from the reference."""

    def run(codec: Any) -> list[tuple[str, Any]]:
        return [outcome(partial(getattr(codec, name), *args, **kwargs)) for name in (method, f"{method}_frame")]

    return run(fast.SymbolCodec(symbol)), run(ReferenceCodec(symbol))


def assert_same(symbol: Symbol, method: str, *args: Any, **kwargs: Any) -> None:
    got, expected = both(symbol, method, *args, **kwargs)
    assert got == expected


@settings(max_examples=400, deadline=None)
@given(symbol=symbols, trade=trades, sequence=sequences, time_coinapi_ns=times)
def test_trade_matches_the_reference(symbol: Symbol, trade: Trade, sequence: int, time_coinapi_ns: int) -> None:
    assert_same(symbol, "trade", trade, sequence, time_coinapi_ns)


@settings(max_examples=300, deadline=None)
@given(symbol=symbols, quote=quotes, sequence=sequences, time_coinapi_ns=times)
def test_quote_matches_the_reference(symbol: Symbol, quote: Quote, sequence: int, time_coinapi_ns: int) -> None:
    assert_same(symbol, "quote", quote, sequence, time_coinapi_ns)


@settings(max_examples=300, deadline=None)
@given(symbol=symbols, delta=deltas, sequence=sequences, time_coinapi_ns=times)
def test_book_delta_matches_the_reference(
    symbol: Symbol, delta: BookDelta, sequence: int, time_coinapi_ns: int
) -> None:
    assert_same(symbol, "book_delta", delta, sequence, time_coinapi_ns)


@settings(max_examples=300, deadline=None)
@given(symbol=symbols, bar=bars, sequence=sequences)
def test_bar_matches_the_reference(symbol: Symbol, bar: Bar, sequence: int) -> None:
    assert_same(symbol, "bar", bar, sequence)


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    symbol=symbols,
    data_type=st.sampled_from(DataType),  # the types that are no symbol stream raise KeyError in both
    sequence=sequences,
    time_exchange_ns=times,
    time_coinapi_ns=times,
    is_snapshot=st.sampled_from([None, True, False, 0, 1, "", "yes", "absent"]),
)
def test_book_matches_the_reference(
    data: st.DataObject,
    symbol: Symbol,
    data_type: DataType,
    sequence: int,
    time_exchange_ns: int,
    time_coinapi_ns: int,
    is_snapshot: object,
) -> None:
    sides = [data.draw(levels) for _ in range(2)]
    container = data.draw(st.sampled_from(CONTAINERS))
    kwargs = {} if is_snapshot == "absent" else {"is_snapshot": is_snapshot}

    def run(codec: Any, name: str) -> tuple[str, Any]:
        asks, bids = (container(side) for side in sides)  # fresh per call: an iterator is used up by the first
        method = getattr(codec, name)
        return outcome(lambda: method(data_type, asks, bids, sequence, time_exchange_ns, time_coinapi_ns, **kwargs))

    c_codec, py_codec = fast.SymbolCodec(symbol), ReferenceCodec(symbol)
    for name in ("book", "book_frame"):
        assert run(c_codec, name) == run(py_codec, name)


@pytest.mark.parametrize(
    "ns",
    [0, -1, 2**63 - 1, -(2**63), 2**63, YEAR_1_NS, YEAR_10000_NS - 1, 1_767_225_600 * NS_PER_S + 123_456_789],
    ids=["epoch", "before-epoch", "i64-max", "i64-min", "past-i64", "year-1", "year-9999", "2026"],
)
def test_times_at_the_edges_of_the_c_range(ns: int) -> None:
    trade = Trade("X", ns, 1, 1, TakerSide.BUY, "u")
    payload = fast.SymbolCodec(SYMBOLS[0]).trade(trade, 1, ns)
    assert f'"time_exchange":"{reference.format_time(ns)}"'.encode() in payload
    assert_same(SYMBOLS[0], "trade", trade, 1, ns)


@pytest.mark.parametrize("decimals", [-4000, -80, -65, -64, -1, 0, 1, 2, 4, 8, 19, 20, 64, 65, 80, 4000])
@pytest.mark.parametrize(
    "units", [0, 1, -1, 10, 1200, -1200, 12_300_000, 2**63 - 1, -(2**63), 2**64, 10**20, -(10**20)]
)
def test_fixed_point_tokens(units: int, decimals: int) -> None:
    symbol = dataclasses.replace(SYMBOLS[0], price_decimals=decimals, size_decimals=decimals)
    quote = Quote("X", 0, units, units, -units, units)
    assert_same(symbol, "quote", quote, 1, 0)
    payload = fast.SymbolCodec(symbol).quote(quote, 1, 0)
    assert f'"ask_price":{reference.format_fixed(units, decimals)},'.encode() in payload


def test_every_catalogue_symbol_encodes_as_the_reference() -> None:
    trade = Trade("X", 1_767_225_600 * NS_PER_S + 987_654_321, 123_456_789, 1_000, TakerSide.SELL, "u")
    for symbol in SYMBOLS:
        assert fast.SymbolCodec(symbol).trade(trade, 7, 1) == ReferenceCodec(symbol).trade(trade, 7, 1)


@pytest.mark.parametrize("count", [0, 1, 3, 120, 2000], ids=["empty", "one", "short", "126+", "65536+"])
def test_frames_of_every_length_class(count: int) -> None:
    side = tuple(Level(10**9 + i, 10**7 + i) for i in range(count))
    delta = BookDelta("X", 0, side, side)
    framed = fast.SymbolCodec(SYMBOLS[0]).book_delta_frame(delta, 1, 0)
    assert framed == ReferenceCodec(SYMBOLS[0]).book_delta_frame(delta, 1, 0)
    assert frame_payload(framed) == fast.SymbolCodec(SYMBOLS[0]).book_delta(delta, 1, 0)


class Formatted:
    """A value whose ``format()`` differs from its ``str()``: the reference's f-strings call the former."""

    def __format__(self, spec: str) -> str:
        return "formatted"

    def __str__(self) -> str:
        return "str"


def test_values_are_formatted_as_f_strings_do() -> None:
    odd = Formatted()
    trade = Trade("X", 5, 1234, 5, TakerSide.SELL, odd)  # type: ignore[arg-type]
    assert_same(SYMBOLS[0], "trade", trade, odd, 2)
    assert b'"sequence":formatted,' in fast.SymbolCodec(SYMBOLS[0]).trade(trade, odd, 2)  # type: ignore[arg-type]


def test_events_of_other_types_are_read_by_attribute() -> None:
    trade = Trade("X", 5, 1234, 5, TakerSide.BUY_ESTIMATED, "u")
    fields = {field.name: getattr(trade, field.name) for field in dataclasses.fields(Trade)}
    look_alike = SimpleNamespace(**fields)
    with_plain_side = SimpleNamespace(**{**fields, "taker_side": SimpleNamespace(_value_="SIDE")})
    for event in (look_alike, with_plain_side):
        assert_same(SYMBOLS[0], "trade", event, 1, 2)
    c_codec = fast.SymbolCodec(SYMBOLS[0])
    assert c_codec.trade(look_alike, 1, 2) == ReferenceCodec(SYMBOLS[0]).trade(trade, 1, 2)  # type: ignore[arg-type]
    assert b'"taker_side":"SIDE"' in c_codec.trade(with_plain_side, 1, 2)  # type: ignore[arg-type]
    level_like = SimpleNamespace(price_ticks=3, size_lots=4)
    assert_same(SYMBOLS[0], "book", DataType.BOOK5, [level_like], (), 1, 2, 3)


def test_missing_fields_and_wrong_arguments_raise_as_in_the_reference() -> None:
    unset = object.__new__(Trade)  # no slot filled
    symbol = SYMBOLS[0]
    for method, args in [
        ("trade", (unset, 1, 2)),
        ("trade", (object(), 1, 2)),
        ("quote", (Trade("X", 1, 1, 1, TakerSide.BUY, "u"), 1, 2)),
        ("book", (DataType.BOOK, [1], (), 1, 2, 3)),
        ("book", (DataType.BOOK, None, (), 1, 2, 3)),
        ("book", ("book", (), (), 1, 2, 3)),
        ("trade", (Trade("X", 1, 1, 1, TakerSide.BUY, "\ud800"), 1, 2)),  # a lone surrogate: UnicodeEncodeError
        ("trade", (Trade("X", 10**30, 1, 1, TakerSide.BUY, "u"), 1, 2)),  # beyond any calendar: OverflowError
        ("trade", (Trade("X", 1, 1, 1, TakerSide.BUY, "u"), 1)),
        ("bar", ()),
    ]:
        got, expected = both(symbol, method, *args)
        assert got == expected
        assert all(kind == "raised" for kind, _ in got), (method, args)


def test_keywords_bind_as_in_the_reference() -> None:
    symbol, trade = SYMBOLS[1], Trade("X", 1, 2, 3, TakerSide.SELL, "u")
    assert_same(symbol, "trade", trade=trade, sequence=4, time_coinapi_ns=5)
    assert_same(symbol, "trade", trade, 4, time_coinapi_ns=5)
    assert_same(symbol, "book", DataType.BOOK, (), (), 1, 2, time_coinapi_ns=3, is_snapshot=True)
    for bad in ({"sequence": 4}, {"time_coinapi_ns": 5, "bogus": 1}, {"trade": trade}):
        got, expected = both(symbol, "trade", trade, 4, 5, **bad)
        assert got == expected == [("raised", TypeError)] * 2
    got, expected = both(symbol, "book", DataType.BOOK, (), (), 1, 2, 3, True)  # is_snapshot is keyword-only
    assert got == expected == [("raised", TypeError)] * 2


@pytest.mark.parametrize("method", [*METHODS, *(f"{name}_frame" for name in METHODS)])
def test_signatures_match_the_reference(method: str) -> None:
    def shape(function: Any) -> list[tuple[str, Any, Any]]:
        parameters = list(inspect.signature(function).parameters.values())[1:]  # without self
        return [(p.name, p.kind, p.default) for p in parameters]

    assert shape(getattr(fast.SymbolCodec, method)) == shape(getattr(ReferenceCodec, method))


def test_constructor_and_attributes_match_the_reference() -> None:
    symbol = dataclasses.replace(SYMBOLS[2], price_decimals=3, size_decimals=-2)
    c_codec, py_codec = fast.SymbolCodec(symbol=symbol), ReferenceCodec(symbol)
    assert c_codec.symbol_id == py_codec.symbol_id == symbol.symbol_id
    assert c_codec.price(123_456) == py_codec.price(123_456) == "123.456"
    assert c_codec.size(7) == py_codec.size(7) == "700"
    with pytest.raises(AttributeError):
        fast.SymbolCodec(object())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fast.SymbolCodec(dataclasses.replace(symbol, price_decimals=2.5))  # type: ignore[arg-type]


def test_the_server_encodes_with_the_c_codec() -> None:
    assert codec_module.SymbolCodec is streams.SymbolCodec is fast.SymbolCodec


def test_without_the_c_module_the_server_encodes_with_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    # what a build without a C compiler leaves: no module to import
    monkeypatch.setitem(sys.modules, "coinapi_emulator.server.plane._speedups", None)
    monkeypatch.delattr(coinapi_emulator.server.plane, "_speedups")
    try:
        reloaded = importlib.reload(codec_module)
        assert reloaded.SymbolCodec is reloaded.ReferenceCodec
    finally:
        monkeypatch.undo()
        importlib.reload(codec_module)
    assert codec_module.SymbolCodec is fast.SymbolCodec
