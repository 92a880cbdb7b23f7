"""The WebSocket API of a real ``coinapi-emulator serve`` process, driven by the ``websockets`` asyncio client.

Each test runs one small async scenario with ``asyncio.run`` (pytest-asyncio is not used). Every receive has a
timeout. There are no acks in this protocol (PROTOCOL.md §1.2), so a scope change is observed through the data:
frames already queued when the change is applied still arrive, then only the new scope's frames do. Tests that
need to know "the change is in effect" send a second change that produces a recognisable marker frame: the
server applies a connection's messages in order, so once the marker arrives the first change applies too.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import itertools
import json
import signal
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TypeVar

import pytest
import websocket  # websocket-client, as in CoinAPI's Python example
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.l3_replica import SIDES, L3Replica, apply_book, parse

from .processes import START_TIME, RunningServer, run_server
from .support import (
    API_KEY,
    BAD_KEY,
    BUSY_SYMBOL,
    CLOSE_POLICY_VIOLATION,
    CLOSE_UNSUPPORTED_DATA,
    Frame,
    RawNumber,
    assert_frames_valid,
    assert_valid,
    client_message,
    collect,
    collect_texts,
    collect_until,
    count_at_least,
    expect_error_and_close,
    hello,
    parse_raw_numbers,
    receive_text,
    send,
    ws_connect,
)

pytestmark = pytest.mark.e2e

T = TypeVar("T")
Symbols = dict[str, dict[str, Any]]

#: a generous bound for "something should arrive"; the tests never assert on speed
WAIT_S: Final = 20.0
#: a prefix / exchange with many busy symbols, and a second, disjoint one
PREFIX_A: Final = "BITSTAMP_"
PREFIX_B: Final = "COINBASE_"
BUSY_EXCHANGE: Final = "BINANCE"


def run(scenario: Coroutine[Any, Any, T]) -> T:
    """Run one async scenario to completion on a fresh event loop."""
    return asyncio.run(scenario)


def time_ns(text: str) -> int:
    """A 7-digit ``...Z`` timestamp (PROTOCOL.md §4.1) as ns since the epoch."""
    seconds, fraction = text.rstrip("Z").split(".")
    whole = dt.datetime.fromisoformat(seconds).replace(tzinfo=dt.UTC)
    return int(whole.timestamp()) * 1_000_000_000 + int(fraction) * 100


def of_type(frames: list[Frame], data_type: str) -> list[Frame]:
    return [frame for frame in frames if frame["type"] == data_type]


def assert_sorted_book(frame: Frame) -> None:
    """asks ascending, bids descending, best first, no crossed or duplicate levels (PROTOCOL.md §3.3)."""
    asks = [level["price"] for level in frame["asks"]]
    bids = [level["price"] for level in frame["bids"]]
    assert asks == sorted(set(asks)), f"asks not strictly ascending: {asks[:10]}"
    assert bids == sorted(set(bids), reverse=True), f"bids not strictly descending: {bids[:10]}"
    if asks and bids:
        assert bids[0] < asks[0], f"crossed book: best bid {bids[0]} >= best ask {asks[0]}"


# -- every message type against its schema ----------------------------------------------------------------------


def test_trade_frames_match_schema(server: RunningServer) -> None:
    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), hello(["trade"], exchanges=[BUSY_EXCHANGE])) as ws:
            return await collect_until(ws, count_at_least(20), timeout=WAIT_S, what="20 trades")

    frames = run(scenario())
    assert {frame["type"] for frame in frames} == {"trade"}
    assert_frames_valid(frames)


def test_quote_frames_match_schema_and_are_not_crossed(server: RunningServer) -> None:
    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), hello(["quote"], exchanges=[BUSY_EXCHANGE])) as ws:
            return await collect_until(ws, count_at_least(20), timeout=WAIT_S, what="20 quotes")

    frames = run(scenario())
    assert {frame["type"] for frame in frames} == {"quote"}
    assert_frames_valid(frames)
    for frame in frames:
        assert frame["bid_price"] < frame["ask_price"], frame


def test_book_starts_with_a_snapshot_per_symbol_then_deltas(server: RunningServer) -> None:
    async def scenario() -> list[Frame]:
        async with ws_connect(
            server.ws_url(), hello(["book"], symbols=["BINANCE_SPOT_BTC_", "BINANCE_SPOT_ETH_"])
        ) as ws:
            return await collect_until(
                ws,
                lambda frames: sum(1 for f in frames if not f["is_snapshot"]) >= 15,
                timeout=WAIT_S,
                what="15 book deltas",
            )

    frames = run(scenario())
    assert_frames_valid(frames)
    seen: set[str] = set()
    for frame in frames:
        assert frame["symbol_id"].startswith(("BINANCE_SPOT_BTC_", "BINANCE_SPOT_ETH_")), frame["symbol_id"]
        first = frame["symbol_id"] not in seen
        seen.add(frame["symbol_id"])
        assert frame["is_snapshot"] is first, f"{'first' if first else 'later'} frame of {frame['symbol_id']}: {frame}"
        if frame["is_snapshot"]:
            assert frame["asks"] and frame["bids"], f"empty snapshot side: {frame}"
            assert_sorted_book(frame)


def test_book_l3_orders_sum_to_the_book_at_every_sequence(server: RunningServer) -> None:
    """A real client following ``book`` and ``book_l3`` of one symbol on one connection: the orders it keeps
    (PROTOCOL.md §3.5 rules, tests/l3_replica.py) add up to the L2 book it keeps, message after message."""

    async def scenario() -> list[str]:
        async with ws_connect(server.ws_url(), hello(["book", "book_l3"], symbols=["BINANCE_SPOT_BTC_USDT$"])) as ws:
            texts: list[str] = []
            while sum('"book_l3"' in text for text in texts) < 15:
                texts.append(await receive_text(ws, WAIT_S))
            return texts

    texts = run(scenario())
    assert_frames_valid([json.loads(text) for text in texts])
    messages = [parse(text) for text in texts]
    replica, levels = L3Replica(), {side: dict[Decimal, Decimal]() for side in SIDES}
    for message in messages:
        if message["type"] == "book":
            levels = apply_book(levels, message)
        else:
            replica.message(message)
            assert {side: replica.levels(side) for side in SIDES} == levels, f"at sequence {message['sequence']}"
    kinds = {entry.get("update_type") for message in messages if message["type"] == "book_l3" for side in SIDES
             for entry in message[side]}  # fmt: skip
    assert {"ADD", "DELETE"} <= kinds


@pytest.mark.parametrize("depth", [5, 20, 50], ids=["book5", "book20", "book50"])
def test_top_n_book_frames_match_schema(server: RunningServer, depth: int) -> None:
    data_type = f"book{depth}"

    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), hello([data_type], exchanges=[BUSY_EXCHANGE])) as ws:
            return await collect_until(ws, count_at_least(10), timeout=WAIT_S, what=f"10 {data_type} frames")

    frames = run(scenario())
    assert {frame["type"] for frame in frames} == {data_type}
    assert_frames_valid(frames)  # includes: no is_snapshot, at most `depth` levels a side
    for frame in frames:
        assert_sorted_book(frame)
        assert frame["asks"] and frame["bids"], frame


def test_deep_top_n_books_come_at_most_once_a_second_per_symbol(server: RunningServer) -> None:
    """PROTOCOL.md §3.4: book20 and book50 go out at most every second per symbol."""

    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), hello(["book20", "book50"], symbols=[BUSY_SYMBOL + "$"])) as ws:
            return await collect_until(
                ws,
                lambda frames: all(len(of_type(frames, data_type)) >= 3 for data_type in ("book20", "book50")),
                timeout=WAIT_S,
                what="3 book20 and 3 book50 frames",
            )

    frames = run(scenario())
    for data_type in ("book20", "book50"):
        times = [time_ns(frame["time_exchange"]) for frame in of_type(frames, data_type)]
        gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
        assert all(gap >= 1_000_000_000 for gap in gaps), f"{data_type} gaps in ns: {gaps}"


def test_quote_update_limit_throttles_per_symbol(server: RunningServer) -> None:
    """``subscribe_update_limit_ms_quote`` (PROTOCOL.md §2.1): at most one quote per symbol per 500 ms."""

    async def scenario() -> list[Frame]:
        first = hello(["quote"], symbols=[BUSY_SYMBOL + "$"])
        first["subscribe_update_limit_ms_quote"] = 500
        async with ws_connect(server.ws_url(), first) as ws:
            return await collect_until(ws, count_at_least(4), timeout=WAIT_S, what="4 throttled quotes")

    times = [time_ns(frame["time_exchange"]) for frame in run(scenario())]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert all(gap >= 500_000_000 for gap in gaps), f"quote gaps in ns: {gaps}"


def test_ohlcv_1sec_bars_match_schema(server: RunningServer) -> None:
    async def scenario() -> list[Frame]:
        first = hello(["ohlcv"], exchanges=[BUSY_EXCHANGE], periods=["1SEC"])
        async with ws_connect(server.ws_url(), first) as ws:
            return await collect_until(ws, count_at_least(5), timeout=WAIT_S, what="5 ohlcv frames")

    frames = run(scenario())
    assert_frames_valid(frames)
    for bar in frames:
        assert bar["type"] == "ohlcv" and bar["period_id"] == "1SEC", bar
        start, end = time_ns(bar["time_period_start"]), time_ns(bar["time_period_end"])
        assert end - start == 1_000_000_000, bar
        assert start % 1_000_000_000 == 0, f"1SEC period not aligned to the second: {bar}"
        assert start <= time_ns(bar["time_open"]) <= time_ns(bar["time_close"]) < end, bar
        low, high = bar["price_low"], bar["price_high"]
        assert low <= bar["price_open"] <= high and low <= bar["price_close"] <= high, bar


@pytest.mark.parametrize(
    ("asset_filter", "quote", "rate_type"),
    [("BTC", "USD", "BASE_ALL_CROSSES_TO_REF"), ("BTC/EUR", "EUR", "BASE_AND_QUOTE_TO_REF")],
    ids=["base-to-usd", "cross-pair"],
)
def test_exrate_frames(server: RunningServer, asset_filter: str, quote: str, rate_type: str) -> None:
    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), hello(["exrate"], assets=[asset_filter])) as ws:
            return await collect_until(
                ws, count_at_least(1), timeout=WAIT_S, what=f"an exrate frame for {asset_filter}"
            )

    frames = run(scenario())
    assert_frames_valid(frames)
    for frame in frames:
        assert (frame["type"], frame["asset_id_base"], frame["asset_id_quote"]) == ("exrate", "BTC", quote), frame
        assert frame["rate_type"] == rate_type, frame


@pytest.mark.parametrize(
    ("data_type", "filters", "rest_path", "rest_params", "id_field"),
    [
        ("exchange", {}, "/v1/exchanges", {}, "exchange_id"),
        ("asset", {}, "/v1/assets", {}, "asset_id"),
        ("symbol", {"symbols": [PREFIX_A]}, "/v1/symbols", {"filter_symbol_id": PREFIX_A}, "symbol_id"),
    ],
    ids=["exchange", "asset", "symbol"],
)
def test_metadata_snapshot_on_subscribe_matches_rest(
    server: RunningServer,
    data_type: str,
    filters: dict[str, list[str]],
    rest_path: str,
    rest_params: dict[str, str],
    id_field: str,
) -> None:
    expected = {entity[id_field] for entity in server.rest(rest_path, **rest_params)}
    assert expected, f"REST {rest_path} is empty"

    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), hello([data_type], **filters)) as ws:
            return await collect_until(
                ws,
                lambda frames: expected <= {frame.get(id_field) for frame in frames},
                timeout=WAIT_S,
                what=f"a {data_type} frame for each of the {len(expected)} REST entities",
            )

    frames = run(scenario())
    assert {frame["type"] for frame in frames} == {data_type}
    assert_frames_valid(frames)
    assert {frame[id_field] for frame in frames} == expected


def test_hearbeat_only_on_a_silent_scope(server: RunningServer) -> None:
    """C# SDK test: a filter matching nothing + heartbeat gives ~1 Hz ``{"type":"hearbeat"}`` and an open socket."""

    async def scenario() -> tuple[list[str], bool]:
        first = hello(["trade"], exchanges=["EXCHANGETHATDOESNOTEXISTS"], heartbeat=True)
        async with ws_connect(server.ws_url(), first) as ws:
            texts = await collect_texts(ws, seconds=3.6)
            pong = await ws.ping()
            await asyncio.wait_for(pong, 5)
            return texts, ws.close_code is None

    texts, still_open = run(scenario())
    assert still_open
    assert texts, "no hearbeat frame within 3.6 s"
    assert set(texts) == {'{"type":"hearbeat"}'}, texts
    assert_frames_valid(json.loads(text) for text in texts)
    assert 2 <= len(texts) <= 6, f"expected about one hearbeat a second, got {len(texts)} in 3.6 s"


def test_no_hearbeat_unless_asked(server: RunningServer) -> None:
    async def scenario() -> list[str]:
        first = hello(["trade"], exchanges=["EXCHANGETHATDOESNOTEXISTS"], heartbeat=False)
        async with ws_connect(server.ws_url(), first) as ws:
            return await collect_texts(ws, seconds=1.5)

    assert run(scenario()) == []


@pytest.mark.parametrize("apikey", [BAD_KEY, None], ids=["wrong-key", "no-key"])
def test_refused_key_gets_error_then_close_1008(keyed_server: RunningServer, apikey: str | None) -> None:
    async def scenario() -> tuple[Frame, int | None, list[Frame]]:
        async with ws_connect(keyed_server.ws_url(), hello(["trade"], apikey=apikey)) as ws:
            return await expect_error_and_close(ws)

    error, code, before = run(scenario())
    assert error == {"type": "error", "message": "Invalid API key"}
    assert_valid("error", error)
    assert code == CLOSE_POLICY_VIOLATION
    assert before == [], "data was sent before the key was checked"


def _basic(key: str) -> str:
    return "Basic " + base64.b64encode(f"coinapi:{key}".encode()).decode()


@pytest.mark.parametrize(
    ("path", "headers", "hello_key"),
    [
        ("/", {}, API_KEY),
        ("/v1", {}, API_KEY),
        ("/v1/", {}, API_KEY),
        (f"/v1/APIKEY-{API_KEY}", {}, None),
        (f"/APIKEY-{API_KEY}", {}, None),
        ("/v1/", {"X-CoinAPI-Key": API_KEY}, None),
        (f"/v1/?apikey={API_KEY}", {}, None),
        ("/v1/", {"Authorization": API_KEY}, None),
        ("/v1/", {"Authorization": _basic(API_KEY)}, None),
    ],
    ids=[
        "root",
        "v1",
        "v1-slash",
        "v1-path-key",
        "root-path-key",
        "header-key",
        "query-key",
        "authorization-key",
        "basic-auth-key",
    ],
)
def test_paths_and_key_locations_are_accepted(
    keyed_server: RunningServer, path: str, headers: dict[str, str], hello_key: str | None
) -> None:
    """PROTOCOL.md §1.1 paths and §1.3 key locations, against a server that accepts one key only."""

    async def scenario() -> list[Frame]:
        first = hello(["trade"], exchanges=[BUSY_EXCHANGE], apikey=hello_key)
        async with ws_connect(keyed_server.ws_url(path), first, headers=headers) as ws:
            return await collect_until(ws, count_at_least(1), timeout=WAIT_S, what="a trade")

    frames = run(scenario())
    assert frames[0]["type"] == "trade", frames
    assert_frames_valid(frames)


SDK_HELLOS: Final = [
    (
        "/v1/",
        {
            "type": "subscribe",
            "apikey": API_KEY,
            "subscribe_data_type": ["trade"],
            "subscribe_filter_exchange_id": [BUSY_EXCHANGE],
        },
    ),
    (
        "/v1/",
        {
            "apikey": API_KEY,
            "heartbeat": True,
            "subscribe_data_type": ["trade"],
            "subscribe_filter_exchange_id": [BUSY_EXCHANGE],
        },
    ),
    (
        "/v1/",
        {
            "type": "",
            "apikey": API_KEY,
            "heartbeat": False,
            "subscribe_data_type": ["trade"],
            "subscribe_filter_symbol_id": None,
            "subscribe_filter_asset_id": None,
            "subscribe_filter_exchange_id": [BUSY_EXCHANGE],
            "subscribe_filter_period_id": None,
            "subscribe_update_limit_ms_quote": 0,
            "subscribe_update_limit_ms_book_snapshot": 0,
            "subscribe_update_limit_ms_exrate": 0,
        },
    ),
    (
        "/",
        {
            "type": "hello",
            "apikey": API_KEY,
            "heartbeat": True,
            "subscribe_data_type": ["trade"],
            "subscribe_filter_symbol_id": None,
            "subscribe_filter_asset_id": None,
            "subscribe_filter_exchange_id": [BUSY_EXCHANGE],
            "subscribe_filter_period_id": None,
            "subscribe_update_limit_ms_quote": None,
            "subscribe_update_limit_ms_book_snapshot": None,
            "subscribe_update_limit_ms_exrate": None,
        },
    ),
]


@pytest.mark.parametrize(
    ("path", "first"),
    SDK_HELLOS,
    ids=["subscribe-first", "java-no-type", "go-empty-type-nulls-zeros", "csharp-root-nulls"],
)
def test_first_message_shapes_real_sdks_send(keyed_server: RunningServer, path: str, first: Frame) -> None:
    """PROTOCOL.md §2.2 and §9: subscribe as the first frame, Java's typeless hello, Go's and C#'s null fields."""

    async def scenario() -> list[Frame]:
        async with ws_connect(keyed_server.ws_url(path), first) as ws:
            return await collect_until(ws, count_at_least(1, "trade"), timeout=WAIT_S, what="a trade")

    frames = run(scenario())
    assert {frame["type"] for frame in frames} <= {"trade", "hearbeat"}
    assert_frames_valid(frames)


# -- filter semantics (PROTOCOL.md §2.4) --------------------------------------------------------------------------


def _trades(server: RunningServer, first: Frame, n: int = 15) -> list[Frame]:
    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), first) as ws:
            return await collect_until(ws, count_at_least(n), timeout=WAIT_S, what=f"{n} trades for {first}")

    frames = run(scenario())
    assert {frame["type"] for frame in frames} == {"trade"}
    return frames


def test_symbol_prefix_filter(server: RunningServer) -> None:
    frames = _trades(server, hello(["trade"], symbols=[PREFIX_A]))
    assert all(frame["symbol_id"].startswith(PREFIX_A) for frame in frames), {f["symbol_id"] for f in frames}


def test_symbol_filter_with_dollar_is_exact(server: RunningServer) -> None:
    frames = _trades(server, hello(["trade"], symbols=[BUSY_SYMBOL + "$"]), n=3)
    assert {frame["symbol_id"] for frame in frames} == {BUSY_SYMBOL}


def test_symbol_filter_with_dollar_is_not_a_prefix(server: RunningServer, symbols: Symbols) -> None:
    """``X$`` where X is only a prefix of real ids (e.g. ``..._BTC_USD`` of ``..._BTC_USDT``) matches nothing."""
    prefix = BUSY_SYMBOL[:-1]
    assert prefix not in symbols and any(symbol_id.startswith(prefix) for symbol_id in symbols)

    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), hello(["trade"], symbols=[prefix + "$"], heartbeat=True)) as ws:
            return await collect(ws, seconds=2)

    frames = run(scenario())
    assert frames, "expected hearbeat frames on a scope that matches nothing"
    assert {frame["type"] for frame in frames} == {"hearbeat"}, frames[:5]


def test_exchange_filter(server: RunningServer, symbols: Symbols) -> None:
    frames = _trades(server, hello(["trade"], exchanges=["BITSTAMP"]))
    assert {symbols[frame["symbol_id"]]["exchange_id"] for frame in frames} == {"BITSTAMP"}


def test_asset_filter_matches_base_or_quote(server: RunningServer, symbols: Symbols) -> None:
    frames = _trades(server, hello(["trade"], assets=["ETH"]))
    for frame in frames:
        symbol = symbols[frame["symbol_id"]]
        assert "ETH" in (symbol["asset_id_base"], symbol["asset_id_quote"]), symbol


def test_asset_pair_filter_matches_base_and_quote(server: RunningServer, symbols: Symbols) -> None:
    busy = symbols[BUSY_SYMBOL]
    pair = (busy["asset_id_base"], busy["asset_id_quote"])
    frames = _trades(server, hello(["trade"], assets=["/".join(pair)]), n=5)
    for frame in frames:
        symbol = symbols[frame["symbol_id"]]
        assert (symbol["asset_id_base"], symbol["asset_id_quote"]) == pair, symbol


def test_filter_kinds_combine_as_a_union(server: RunningServer, symbols: Symbols) -> None:
    """PROTOCOL.md §2.4: symbol and exchange filters of one hello are unioned (the default)."""

    async def scenario() -> list[Frame]:
        first = hello(["trade"], symbols=[PREFIX_A], exchanges=["COINBASE"])
        async with ws_connect(server.ws_url(), first) as ws:
            return await collect_until(
                ws,
                lambda frames: {symbols[f["symbol_id"]]["exchange_id"] for f in frames} >= {"BITSTAMP", "COINBASE"},
                timeout=WAIT_S,
                what="trades from both BITSTAMP_ and COINBASE",
            )

    frames = run(scenario())
    for frame in frames:
        symbol_id = frame["symbol_id"]
        assert symbol_id.startswith(PREFIX_A) or symbols[symbol_id]["exchange_id"] == "COINBASE", symbol_id


def test_hello_replaces_the_scope(server: RunningServer) -> None:
    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), hello(["trade"], symbols=[PREFIX_A])) as ws:
            await collect_until(ws, count_at_least(1), timeout=WAIT_S, what=f"a {PREFIX_A} trade")
            await send(ws, hello(["trade"], symbols=[PREFIX_B]))
            frames = await collect_until(
                ws,
                lambda frames: sum(1 for f in frames if f["symbol_id"].startswith(PREFIX_B)) >= 10,
                timeout=WAIT_S,
                what=f"10 {PREFIX_B} trades after the second hello",
            )
            return frames + await collect(ws, seconds=1)

    frames = run(scenario())
    first_new = next(i for i, frame in enumerate(frames) if frame["symbol_id"].startswith(PREFIX_B))
    stale = [frame["symbol_id"] for frame in frames[first_new:] if not frame["symbol_id"].startswith(PREFIX_B)]
    assert stale == [], f"frames of the replaced scope after the new scope started: {stale[:5]}"


def test_subscribe_adds_to_the_scope(server: RunningServer) -> None:
    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), hello(["trade"], symbols=[PREFIX_A])) as ws:
            await collect_until(ws, count_at_least(1), timeout=WAIT_S, what=f"a {PREFIX_A} trade")
            await send(ws, client_message("subscribe", ["trade"], symbols=[PREFIX_B]))
            return await collect_until(
                ws,
                lambda frames: (
                    any(f["symbol_id"].startswith(PREFIX_B) for f in frames)
                    and any(f["symbol_id"].startswith(PREFIX_A) for f in frames[_first_index(frames, PREFIX_B) :])
                ),
                timeout=WAIT_S,
                what=f"{PREFIX_A} trades still arriving after {PREFIX_B} trades started",
            )

    frames = run(scenario())
    assert all(frame["symbol_id"].startswith((PREFIX_A, PREFIX_B)) for frame in frames)


def _first_index(frames: list[Frame], prefix: str) -> int:
    return next((i for i, frame in enumerate(frames) if frame["symbol_id"].startswith(prefix)), len(frames))


def test_unsubscribe_removes_filter_values(server: RunningServer) -> None:
    """After ``unsubscribe trade PREFIX_A``, only PREFIX_B trades arrive (marker: a quote subscribed afterwards)."""

    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), hello(["trade"], symbols=[PREFIX_A, PREFIX_B])) as ws:
            await collect_until(ws, count_at_least(1), timeout=WAIT_S, what="a trade")
            await send(ws, client_message("unsubscribe", ["trade"], symbols=[PREFIX_A]))
            await send(ws, client_message("subscribe", ["quote"], exchanges=[BUSY_EXCHANGE]))
            frames = await collect_until(ws, count_at_least(1, "quote"), timeout=WAIT_S, what="the marker quote")
            return frames + await collect(ws, seconds=1)

    frames = run(scenario())
    marker = next(i for i, frame in enumerate(frames) if frame["type"] == "quote")
    after = [frame for frame in frames[marker:] if frame["type"] == "trade"]
    stale = [frame["symbol_id"] for frame in after if not frame["symbol_id"].startswith(PREFIX_B)]
    assert stale == [], f"trades of the unsubscribed prefix: {stale[:5]}"


def test_unsubscribe_removes_a_data_type(server: RunningServer) -> None:
    """``unsubscribe`` listing a type and no filter drops that type (marker: a BITSTAMP trade subscribed after)."""

    async def scenario() -> list[Frame]:
        async with ws_connect(server.ws_url(), hello(["trade", "quote"], exchanges=[BUSY_EXCHANGE])) as ws:
            await collect_until(ws, count_at_least(1, "quote"), timeout=WAIT_S, what="a quote")
            await send(ws, client_message("unsubscribe", ["quote"]))
            await send(ws, client_message("subscribe", ["trade"], exchanges=["BITSTAMP"]))
            frames = await collect_until(
                ws,
                lambda frames: any(f["type"] == "trade" and f["symbol_id"].startswith("BITSTAMP_") for f in frames),
                timeout=WAIT_S,
                what="the marker BITSTAMP trade",
            )
            return frames + await collect(ws, seconds=1)

    frames = run(scenario())
    marker = _first_index(frames, "BITSTAMP_")
    quotes = [frame for frame in frames[marker:] if frame["type"] == "quote"]
    assert quotes == [], f"{len(quotes)} quotes after unsubscribe"
    assert any(frame["type"] == "trade" and frame["symbol_id"].startswith("BINANCE") for frame in frames[marker:])


# -- sequences and book consistency (PROTOCOL.md §4.2, §3.3) ----------------------------------------------------


def _decimal_frames(texts: list[str]) -> list[Frame]:
    return [json.loads(text, parse_float=Decimal, parse_int=Decimal) for text in texts]


@pytest.fixture(scope="module")
def busy_stream(server: RunningServer) -> list[Frame]:
    """trade + quote + book of BUSY_SYMBOL for a fast client: at least 300 frames, numbers parsed as Decimal."""

    async def scenario() -> list[str]:
        texts: list[str] = []
        first = hello(["trade", "quote", "book"], symbols=[BUSY_SYMBOL + "$"])
        async with ws_connect(server.ws_url(), first) as ws:
            await collect_until(ws, count_at_least(300), timeout=45, what="300 frames of " + BUSY_SYMBOL, texts=texts)
        return texts

    return _decimal_frames(run(scenario()))


def test_sequences_step_by_one_per_type_and_symbol(busy_stream: list[Frame]) -> None:
    last: dict[tuple[str, str], int] = {}
    counts: dict[str, int] = {}
    for frame in busy_stream:
        key = (frame["type"], frame["symbol_id"])
        sequence = int(frame["sequence"])
        assert 1 <= sequence <= 2**31 - 1
        if key in last:
            assert sequence == last[key] + 1, f"{key}: sequence {sequence} after {last[key]}"
        last[key] = sequence
        counts[frame["type"]] = counts.get(frame["type"], 0) + 1
    assert set(counts) == {"trade", "quote", "book"}, counts


def test_book_deltas_applied_to_the_snapshot_stay_uncrossed_and_match_quotes(busy_stream: list[Frame]) -> None:
    books = of_type(busy_stream, "book")
    assert books[0]["is_snapshot"] is True
    assert all(frame["is_snapshot"] is False for frame in books[1:])
    asks = {level["price"]: level["size"] for level in books[0]["asks"]}
    bids = {level["price"]: level["size"] for level in books[0]["bids"]}
    top_at: dict[int, tuple[Decimal, Decimal, Decimal, Decimal]] = {}
    for delta in books[1:]:
        for side, levels in ((asks, delta["asks"]), (bids, delta["bids"])):
            for level in levels:
                if level["size"] == 0:
                    assert level["price"] in side, f"delete of a missing level {level} in {delta}"
                    del side[level["price"]]
                else:
                    side[level["price"]] = level["size"]
        assert asks and bids, f"a book side became empty after {delta}"
        best_ask, best_bid = min(asks), max(bids)
        assert best_bid < best_ask, f"crossed after sequence {delta['sequence']}: {best_bid} >= {best_ask}"
        top_at[time_ns(delta["time_exchange"])] = (best_ask, asks[best_ask], best_bid, bids[best_bid])
    snapshot_ns = time_ns(books[0]["time_exchange"])
    quotes = [q for q in of_type(busy_stream, "quote") if time_ns(q["time_exchange"]) > snapshot_ns]
    last_quote_at = {time_ns(q["time_exchange"]): q for q in quotes}
    matched = 0
    for at, quote in last_quote_at.items():
        if at in top_at:
            assert (quote["ask_price"], quote["ask_size"], quote["bid_price"], quote["bid_size"]) == top_at[at], (
                f"quote {quote} differs from the book's top {top_at[at]}"
            )
            matched += 1
    assert matched, "no quote shares a time_exchange with a book delta"


# -- number formatting (PROTOCOL.md §4.3) ------------------------------------------------------------------------

PRICE_FIELDS: Final = ("price", "ask_price", "bid_price", "price_open", "price_high", "price_low", "price_close")
SIZE_FIELDS: Final = ("size", "ask_size", "bid_size", "volume_traded")


def _number_tokens(value: object) -> list[str]:
    if isinstance(value, RawNumber):
        return [str(value)]
    if isinstance(value, dict):
        return [token for item in value.values() for token in _number_tokens(item)]
    if isinstance(value, list):
        return [token for item in value for token in _number_tokens(item)]
    return []


def _multiple_of(token: str, step: Decimal) -> bool:
    return Decimal(token) % step == 0


def test_numbers_are_plain_decimals_at_the_symbols_precision(server: RunningServer, symbols: Symbols) -> None:
    exchanges = ["BINANCE", "BITSTAMP"]

    async def scenario() -> list[str]:
        first = hello(["trade", "quote", "book", "book5", "ohlcv"], exchanges=exchanges, periods=["1SEC"])
        async with ws_connect(server.ws_url(), first) as ws:
            texts: list[str] = []
            await collect_until(ws, count_at_least(1, "ohlcv"), timeout=WAIT_S, what="an ohlcv bar", texts=texts)
            return texts + await collect_texts(ws, seconds=1, limit=5000)

    texts = run(scenario())
    seen_types = set()
    for text in texts:
        frame = parse_raw_numbers(text)
        seen_types.add(frame["type"])
        for token in _number_tokens(frame):
            assert "e" not in token.lower(), f"exponent in {token!r}: {text[:300]}"
        symbol = symbols[frame["symbol_id"]]
        tick = Decimal(repr(symbol["price_precision"]))
        lot = Decimal(repr(symbol["size_precision"]))
        levels = frame.get("asks", []) + frame.get("bids", [])
        prices = [frame[field] for field in PRICE_FIELDS if field in frame] + [level["price"] for level in levels]
        sizes = [frame[field] for field in SIZE_FIELDS if field in frame] + [level["size"] for level in levels]
        for token in prices:
            assert _multiple_of(token, tick), f"price {token} is not a multiple of tick {tick}: {text[:300]}"
        for token in sizes:
            assert _multiple_of(token, lot), f"size {token} is not a multiple of lot {lot}: {text[:300]}"
    assert seen_types == {"trade", "quote", "book", "book5", "ohlcv"}, seen_types


# -- bad input: error + close for the offender, nobody else affected --------------------------------------------

BAD_FIRST_MESSAGES: Final = [
    ('{"type": "hello", ', "Malformed message: invalid JSON"),
    ('["hello"]', "Malformed message: expected a JSON object"),
    (
        json.dumps({"type": "helo", "apikey": API_KEY, "subscribe_data_type": ["trade"]}),
        "Unknown message type 'helo': expected hello, subscribe or unsubscribe",
    ),
    (
        json.dumps({"type": "hello", "apikey": API_KEY, "subscribe_data_type": "trade"}),
        "Invalid field 'subscribe_data_type': expected a non-empty array of strings",
    ),
    (json.dumps(hello(["invalid_type"])), "Unknown data type 'invalid_type'"),
    (
        json.dumps(hello(["book"])),
        "Data type 'book' requires a symbol, exchange or asset filter"
        " (or start the emulator with --allow-unfiltered-books)",
    ),
    (json.dumps(hello(["exrate"])), "Data type 'exrate' requires subscribe_filter_asset_id"),
    (
        json.dumps(client_message("unsubscribe", ["trade"])),
        "First message must be hello or subscribe, got 'unsubscribe'",
    ),
]
BAD_IDS: Final = [
    "malformed-json",
    "json-array",
    "unknown-type",
    "data-type-not-array",
    "unknown-data-type",
    "book-without-filter",
    "exrate-without-asset",
    "unsubscribe-first",
]


class Recorder:
    """Reads a connection in the background and timestamps every frame (loop time)."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.arrivals: list[tuple[float, Frame]] = []
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        async for message in self.ws:
            self.arrivals.append((loop.time(), json.loads(message)))

    async def wait_for(self, condition: Callable[[], bool], what: str) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        while not condition():
            assert not self.task.done(), f"bystander stopped reading: {self.task}"
            assert loop.time() < deadline, f"bystander: timed out waiting for {what}"
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


async def _with_bystander(server: RunningServer, offend: Callable[[], Awaitable[T]]) -> T:
    """Run ``offend()`` while a second client streams trades; assert that client kept receiving afterwards."""
    async with ws_connect(server.ws_url(), hello(["trade"], exchanges=[BUSY_EXCHANGE])) as bystander:
        recorder = Recorder(bystander)
        try:
            await recorder.wait_for(lambda: bool(recorder.arrivals), "a first trade")
            result = await offend()
            done_at = asyncio.get_running_loop().time()
            await recorder.wait_for(
                lambda: sum(1 for at, _ in recorder.arrivals if at > done_at) >= 3, "3 trades after the offender closed"
            )
            assert bystander.close_code is None
        finally:
            await recorder.stop()
    assert {frame["type"] for _, frame in recorder.arrivals} == {"trade"}
    return result


@pytest.mark.parametrize(("raw", "message"), BAD_FIRST_MESSAGES, ids=BAD_IDS)
def test_bad_first_message_gets_error_and_close(server: RunningServer, raw: str, message: str) -> None:
    async def offend() -> tuple[Frame, int | None, list[Frame]]:
        async with ws_connect(server.ws_url()) as ws:
            await ws.send(raw)
            return await expect_error_and_close(ws)

    error, code, before = run(_with_bystander(server, offend))
    assert error == {"type": "error", "message": message}
    assert_valid("error", error)
    assert code == CLOSE_UNSUPPORTED_DATA
    assert before == []


def test_bad_message_after_hello_gets_error_and_close(server: RunningServer) -> None:
    async def offend() -> tuple[Frame, int | None, list[Frame]]:
        async with ws_connect(server.ws_url(), hello(["trade"], exchanges=[BUSY_EXCHANGE])) as ws:
            await collect_until(ws, count_at_least(1), timeout=WAIT_S, what="a trade")
            await send(ws, client_message("subscribe", ["invalid_type"]))
            return await expect_error_and_close(ws)

    error, code, _ = run(_with_bystander(server, offend))
    assert error == {"type": "error", "message": "Unknown data type 'invalid_type'"}
    assert code == CLOSE_UNSUPPORTED_DATA


# -- many clients, other client libraries --------------------------------------------------------------------------


def test_twenty_concurrent_clients_all_receive_trades(server: RunningServer) -> None:
    async def scenario() -> list[list[Frame]]:
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    ws_connect(server.ws_url(), hello(["trade"], exchanges=[BUSY_EXCHANGE]))
                )
                for _ in range(20)
            ]
            return await asyncio.gather(
                *(collect_until(ws, count_at_least(3), timeout=WAIT_S, what="3 trades") for ws in clients)
            )

    results = run(scenario())
    assert len(results) == 20
    for frames in results:
        assert len(frames) >= 3 and {frame["type"] for frame in frames} == {"trade"}
        assert_frames_valid(frames)


def test_python_sdk_example_style_client(keyed_server: RunningServer) -> None:
    """CoinAPI's Python example: ``create_connection(".../v1")`` (no slash), key in hello, no filter."""
    ws = websocket.create_connection(keyed_server.ws_url("/v1"), timeout=10)
    try:
        ws.send(json.dumps({"type": "hello", "apikey": API_KEY, "heartbeat": False, "subscribe_data_type": ["trade"]}))
        frames = [json.loads(ws.recv()) for _ in range(5)]
    finally:
        ws.close()
    assert {frame["type"] for frame in frames} == {"trade"}
    assert_frames_valid(frames)


# -- shutdown (PROTOCOL.md §3.10, ARCHITECTURE.md "Operations") ---------------------------------------------------


def test_graceful_shutdown_sends_reconnect_before_closing(log_dir: Path) -> None:
    """SIGTERM is a planned restart: every client gets a ``reconnect`` notice, then the close."""
    small = ["--exchanges", "3", "--max-symbols-per-exchange", "3", "--start-time", START_TIME]
    with run_server(small, log_dir) as running:

        async def scenario() -> tuple[list[Frame], int | None]:
            first = hello(["trade"], exchanges=["EXCHANGETHATDOESNOTEXISTS"], heartbeat=True)
            async with ws_connect(running.ws_url(), first) as ws:
                await asyncio.sleep(0.3)  # no ack exists (PROTOCOL.md §1.2): give the hello time to be applied
                running.process.send_signal(signal.SIGTERM)
                frames: list[Frame] = []
                try:
                    while True:
                        frames.append(json.loads(await receive_text(ws, WAIT_S)))
                except ConnectionClosed as closed:
                    return frames, closed.rcvd.code if closed.rcvd is not None else None

        frames, code = run(scenario())
    notices = of_type(frames, "reconnect")
    assert notices, f"closed with {code} and no reconnect notice; frames: {frames}"
    assert_frames_valid(notices)
    assert frames[-1]["type"] == "reconnect", "frames after the reconnect notice"


def test_shutdown_refuses_new_connections_and_a_second_signal_cuts_the_grace_short(log_dir: Path) -> None:
    small = ["--exchanges", "3", "--max-symbols-per-exchange", "3", "--start-time", START_TIME]
    with run_server([*small, "--shutdown-grace", "3"], log_dir) as running:
        running.process.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", running.port), timeout=1).close()
        started = time.monotonic()
        running.process.send_signal(signal.SIGTERM)
        running.process.wait(timeout=10)
        assert time.monotonic() - started < 2.0, "the second signal did not cut the 3 s grace short"
        assert running.process.returncode == -signal.SIGTERM
