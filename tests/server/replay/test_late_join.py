"""late_join.py on its own: the books a replay rebuilds for late subscribers, from recorded payloads."""

from __future__ import annotations

import logging

import pytest

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.replay.late_join import LateJoinState
from coinapi_emulator.server.transport.frames import frame_payload
from tests.l3_replica import SIDES, L3Replica, parse
from tests.server.fakes import FakeSink, open_connection

BTC = "BINANCE_SPOT_BTC_USDT"
L3 = (DataType.BOOK_L3, BTC)
HEAD = '{"type":"book_l3","symbol_id":"BINANCE_SPOT_BTC_USDT","sequence":'
A, B, C = (f"{n}0000000-0000-4000-8000-000000000000" for n in "abc")


def l3(sequence: int, snapshot: bool, asks: str = "", bids: str = "") -> bytes:
    return (
        f'{HEAD}{sequence},"time_exchange":"2024-01-01T00:00:01.0000000Z",'
        f'"time_coinapi":"2024-01-01T00:00:01.0010000Z","is_snapshot":{"true" if snapshot else "false"},'
        f'"asks":[{asks}],"bids":[{bids}]}}'
    ).encode()


def snapshot_of(state: LateJoinState, key: tuple[DataType, str] = L3) -> bytes | None:
    frames = state.initial_frames([key])
    return frame_payload(frames[0]) if frames else None


def test_an_order_book_is_rebuilt_from_the_recorded_snapshot_and_every_update_type() -> None:
    state = LateJoinState()
    state.apply(L3, l3(1, False, f'{{"id":"{A}","price":1,"size":1,"update_type":"ADD"}}'))
    assert snapshot_of(state) is None  # an update before any snapshot has nothing to apply to
    state.apply(
        L3,
        l3(
            7,
            True,
            asks=f'{{"id":"{A}","price":101.10,"size":2.00}},{{"id":"{B}","price":101.10,"size":1}}',
            bids=f'{{"id":"{C}","price":99.5,"size":3}},{{"price":99.4,"size":9}}',
        ),
    )
    state.apply(
        L3,
        l3(
            8,
            False,
            asks=f'{{"id":"{A}","price":101.10,"size":0.5,"update_type":"MATCH"}},'
            f'{{"id":"{B}","price":101.10,"size":1,"update_type":"DELETE"}},'
            f'{{"id":"{B}","price":101.2,"size":4,"update_type":"ADD"}},'
            f'{{"id":"{B}","price":101.2,"size":5,"update_type":"UPDATE"}}',
            bids=f'{{"id":"{C}","price":99.5,"size":3,"update_type":"SUBTRACT"}},'
            f'{{"price":99.4,"size":8,"update_type":"UPDATE"}}',
        ),
    )
    assert (
        snapshot_of(state)
        == (
            f'{HEAD}8,"time_exchange":"2024-01-01T00:00:01.0000000Z","time_coinapi":"2024-01-01T00:00:01.0010000Z",'
            f'"is_snapshot":true,"asks":[{{"id":"{A}","price":101.10,"size":1.50}},'
            f'{{"id":"{B}","price":101.2,"size":5}}],"bids":[{{"price":99.4,"size":8}}]}}'
        ).encode()
    )


@pytest.mark.parametrize(
    "update",
    [
        f'{{"id":"{C}","price":101,"size":1,"update_type":"DELETE"}}',
        f'{{"id":"{A}","price":101,"size":1,"update_type":"CANCEL"}}',
        f'{{"id":"{A}","price":"101","size":1,"update_type":"DELETE"}}',
    ],
    ids=["unknown-order", "unknown-update-type", "price-not-a-number"],
)
def test_an_update_that_cannot_be_applied_leaves_no_snapshot_until_the_next(
    update: str, caplog: pytest.LogCaptureFixture
) -> None:
    state = LateJoinState()
    snapshot = l3(1, True, asks=f'{{"id":"{A}","price":101,"size":1}}')
    state.apply(L3, snapshot)
    with caplog.at_level(logging.WARNING):
        state.apply(L3, l3(2, False, asks=update))
    assert snapshot_of(state) is None
    assert "unreadable book_l3 message for BINANCE_SPOT_BTC_USDT" in caplog.text
    state.apply(L3, snapshot)
    assert snapshot_of(state) == snapshot


def test_a_book_side_that_is_not_a_list_of_objects_is_unreadable() -> None:
    state = LateJoinState()
    key = (DataType.BOOK, BTC)
    state.apply(key, b'{"type":"book","symbol_id":"BINANCE_SPOT_BTC_USDT","is_snapshot":true,"asks":[],"bids":[]}')
    assert (
        snapshot_of(state, key)
        == b'{"type":"book","symbol_id":"BINANCE_SPOT_BTC_USDT","is_snapshot":true,"asks":[],"bids":[]}'
    )
    state.apply(
        key, b'{"type":"book","symbol_id":"BINANCE_SPOT_BTC_USDT","is_snapshot":false,"bids":[{"price":1,"size":2}]}'
    )
    assert snapshot_of(state, key) == (
        b'{"type":"book","symbol_id":"BINANCE_SPOT_BTC_USDT","is_snapshot":true,"asks":[],"bids":[{"price":1,"size":2}]}'
    )
    state.apply(key, b'{"type":"book","symbol_id":"BINANCE_SPOT_BTC_USDT","is_snapshot":false,"asks":[1],"bids":[]}')
    assert snapshot_of(state, key) is None
    state.apply(key, b'{"type":"book","symbol_id":"BINANCE_SPOT_BTC_USDT","is_snapshot":true,"asks":{},"bids":[]}')
    assert snapshot_of(state, key) is None


def test_the_emulators_own_book_l3_stream_rebuilds_to_what_its_client_holds() -> None:
    """Everything a live client got, replayed into the state: a late joiner's snapshot is the client's book."""
    emulator = Emulator(Settings(seed=4, start_time_ns=1_704_067_200_000_000_000, speed=None), monotonic_ns=lambda: 0)
    sink = FakeSink()
    open_connection(
        emulator,
        sink,
        {"type": "hello", "apikey": "k", "subscribe_data_type": ["book_l3"], "subscribe_filter_symbol_id": [BTC]},
    )
    for step in range(1, 31):
        emulator.shared.driver.run_until(1_704_067_200_000_000_000 + step * 100_000_000)
    state, client = LateJoinState(), L3Replica()
    for payload in sink.payloads():
        state.apply(L3, payload)
        client.message(parse(payload))
    late = L3Replica()
    snapshot = snapshot_of(state)
    assert snapshot is not None
    late.message(parse(snapshot))
    assert late.sequence == client.sequence and len(sink.payloads()) > 20
    for side in SIDES:
        assert late.queues(side) == client.queues(side)
