"""REST query parameters as CoinAPI takes them: times in every documented form, limits, levels and periods."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.protocol.encode import format_time
from coinapi_emulator.server.protocol.rest_query import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    QueryError,
    parse_limit,
    parse_limit_levels,
    parse_period,
    parse_time,
    split_list,
)

JAN_1_NS = 1_704_067_200_000_000_000


@pytest.mark.parametrize(
    "text",
    ["2024-01-01", "2024-01-01T00:00", "2024-01-01T00:00:00", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.0000000Z",
     "2024-01-01T01:00:00+01:00", "2024-01-01 00:00:00"],
)  # fmt: skip
def test_every_documented_form_of_a_time(text: str) -> None:
    assert parse_time("time_start", text) == JAN_1_NS


@given(st.integers(0, 4_000_000_000 * 1_000_000_000 - 1).map(lambda ns: ns - ns % 100))
def test_the_times_the_feed_writes_read_back_to_the_same_ns(ns: int) -> None:
    assert parse_time("time", format_time(ns)) == ns


@given(st.datetimes(min_value=dt.datetime(1970, 1, 2), max_value=dt.datetime(2100, 1, 1)))
def test_a_time_without_an_offset_is_utc(moment: dt.datetime) -> None:
    expected = round(moment.replace(tzinfo=dt.UTC).timestamp() * 1e6) * 1000
    assert parse_time("time", moment.isoformat()) == expected


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "2024-01-01T25:00", "1704067200", ""])
def test_anything_else_is_refused_naming_the_parameter(text: str) -> None:
    with pytest.raises(QueryError, match="time_end"):
        parse_time("time_end", text)


def test_limits_default_and_bounds() -> None:
    assert parse_limit(None) == DEFAULT_LIMIT == 100 and parse_limit("100000") == MAX_LIMIT
    for bad in ("0", "100001", "-1", "ten"):
        with pytest.raises(QueryError, match="limit"):
            parse_limit(bad)
    assert parse_limit_levels(None) is None and parse_limit_levels("20") == 20
    with pytest.raises(QueryError, match="limit_levels"):
        parse_limit_levels("0")


def test_periods_and_lists() -> None:
    assert parse_period("1min").length_seconds == 60 and parse_period("1DAY").length_seconds == 86_400
    with pytest.raises(QueryError, match="required"):
        parse_period(None)
    with pytest.raises(QueryError, match="7MIN"):
        parse_period("7MIN")
    assert split_list("A, B;C,,") == ["A", "B", "C"] and split_list(None) == []
