"""Replay in-process (server/replay/: source.py, late_join.py, catalog.py, and their wiring in the shared plane).

Time is virtual throughout: the feed is driven with ``run_until`` and the clock with explicit wall times, as in
test_golden.py, so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.cli import main as cli
from coinapi_emulator.server.cli import serve
from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.replay.catalog import routing_catalog
from coinapi_emulator.server.replay.recording import RecordingError
from coinapi_emulator.server.replay.source import RecordedMessage, ReplaySource, route_key, scan_recording
from coinapi_emulator.simulator.catalog import CatalogConfig, build_catalog
from coinapi_emulator.simulator.clock import VirtualClock
from tests.server.fakes import FakeSink, open_connection
from tests.server.replay.factories import (
    BTC,
    ETH,
    MS,
    RECEIVED_BASE_NS,
    START_NS,
    frame_text,
    make_book,
    make_quote,
    make_trade,
    write_recording,
)

S = 1_000_000_000


# -- helpers ----------------------------------------------------------------------------------------------------


@pytest.fixture
def emulators() -> Iterator[list[Emulator]]:
    """Emulators a test builds; stopped (recording closed) afterwards."""
    built: list[Emulator] = []
    yield built
    for emulator in built:
        emulator.stop()


def replay_emulator(emulators: list[Emulator], path: Path, **settings: Any) -> Emulator:
    emulator = Emulator(
        Settings(replay_file=path, start_time_ns=START_NS, exchanges=5, **settings),
        monotonic_ns=lambda: 0,
        epoch_ns=lambda: START_NS,
    )
    emulators.append(emulator)
    return emulator


def connect(emulator: Emulator, **hello: Any) -> FakeSink:
    """A connection that sent one hello (key included)."""
    sink = FakeSink()
    open_connection(emulator, sink, {"type": "hello", "apikey": "k", **hello})
    return sink


def texts(sink: FakeSink) -> list[str]:
    return [payload.decode() for payload in sink.payloads()]


# -- route keys -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "key"),
    [
        ({"type": "trade", "symbol_id": BTC}, (DataType.TRADE, BTC)),
        ({"type": "quote", "symbol_id": BTC}, (DataType.QUOTE, BTC)),
        ({"type": "book", "symbol_id": BTC, "is_snapshot": True}, (DataType.BOOK, BTC)),
        ({"type": "book5", "symbol_id": BTC}, (DataType.BOOK5, BTC)),
        ({"type": "book20", "symbol_id": BTC}, (DataType.BOOK20, BTC)),
        ({"type": "book50", "symbol_id": BTC}, (DataType.BOOK50, BTC)),
        ({"type": "ohlcv", "symbol_id": BTC, "period_id": "1MIN"}, (DataType.OHLCV, f"{BTC}.1MIN")),
        ({"type": "exrate", "asset_id_base": "BTC", "asset_id_quote": "EUR"}, (DataType.EXRATE, "BTC/EUR")),
        ({"type": "asset", "asset_id": "BTC"}, (DataType.ASSET, "BTC")),
        ({"type": "exchange", "exchange_id": "KRAKEN"}, (DataType.EXCHANGE, "KRAKEN")),
        ({"type": "symbol", "symbol_id": BTC, "exchange_id": "BINANCE"}, (DataType.SYMBOL, BTC)),
        ({"type": "hearbeat"}, None),
        ({"type": "error", "message": "Invalid API key"}, None),
        ({"type": "reconnect", "within_seconds": 10}, None),
        ({"type": "book_l3", "symbol_id": BTC}, (DataType.BOOK_L3, BTC)),
        ({"type": "volume", "symbol_id": BTC}, None),
        ({"type": "trade"}, None),
        ({"type": "trade", "symbol_id": ""}, None),
        ({"type": "trade", "symbol_id": 7}, None),
        ({"type": "ohlcv", "symbol_id": BTC}, None),
        ({"type": "exrate", "asset_id_base": "BTC"}, None),
        ({"symbol_id": BTC}, None),
    ],
    ids=lambda value: None if isinstance(value, dict) else str(value),
)
def test_route_key_per_frame_type(message: dict[str, Any], key: tuple[DataType, str] | None) -> None:
    assert route_key(message) == key


_ids = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF), min_size=1, max_size=30)


@given(data_type=st.sampled_from([t for t in DataType if t.is_symbol_stream and t is not DataType.OHLCV]), sid=_ids)
def test_symbol_streams_route_by_symbol_id(data_type: DataType, sid: str) -> None:
    assert route_key({"type": data_type.value, "symbol_id": sid, "sequence": 1}) == (data_type, sid)


@given(sid=_ids, period=_ids, base=_ids, quote=_ids)
def test_ohlcv_and_exrate_topics_follow_routes_py(sid: str, period: str, base: str, quote: str) -> None:
    assert route_key({"type": "ohlcv", "symbol_id": sid, "period_id": period}) == (DataType.OHLCV, f"{sid}.{period}")
    assert route_key({"type": "exrate", "asset_id_base": base, "asset_id_quote": quote}) == (
        DataType.EXRATE,
        f"{base}/{quote}",
    )


@given(type_name=st.text(max_size=12).filter(lambda name: name not in {t.value for t in DataType}))
def test_types_the_emulator_does_not_stream_are_not_replayed(type_name: str) -> None:
    assert route_key({"type": type_name, "symbol_id": BTC}) is None


def test_every_frame_the_emulator_sends_routes_back_to_the_subscription() -> None:
    """The live emulator's own output, every data type: each frame's derived key is one of the client's routes."""
    emulator = Emulator(Settings(seed=3, start_time_ns=START_NS, speed=None, exchanges=5), monotonic_ns=lambda: 0)
    sink = FakeSink()
    messages = (
        {
            "type": "hello",
            "apikey": "k",
            "subscribe_data_type": [t.value for t in DataType if t.is_symbol_stream] + ["symbol"],
            "subscribe_filter_symbol_id": [BTC + "$"],
        },
        {"type": "subscribe", "subscribe_data_type": ["exrate", "asset"], "subscribe_filter_asset_id": ["BTC"]},
        {"type": "subscribe", "subscribe_data_type": ["exchange"], "subscribe_filter_exchange_id": ["BINANCE"]},
    )
    connection = open_connection(emulator, sink, *messages, peer="all")
    for step in range(1, 31):
        emulator.shared.driver.run_until(START_NS + step * S // 10)
    seen = {route_key(orjson.loads(payload)) for payload in sink.payloads()}
    assert seen <= connection.subscriber.routes
    assert {key[0] for key in seen if key is not None} == set(DataType)


# -- pacing -----------------------------------------------------------------------------------------------------


def paced_recording(tmp_path: Path) -> Path:
    return write_recording(
        tmp_path / "paced.jsonl.gz",
        [(0, make_trade(sequence=1)), (100 * MS, make_trade(sequence=2)), (S, make_trade(sequence=3)),
         (2500 * MS, make_trade(sequence=4))],
    )  # fmt: skip


@pytest.mark.parametrize(("speed", "due"), [(1.0, 2), (10.0, 3)], ids=["speed-1", "speed-10"])
def test_original_pacing_scaled_by_the_clock_speed(tmp_path: Path, speed: float, due: int) -> None:
    source = ReplaySource.open(paced_recording(tmp_path), start_ns=START_NS)
    clock = VirtualClock(anchor_virtual_ns=START_NS, anchor_wall_ns=0, speed=speed)
    frames = list(source.advance(clock.now_ns(150 * MS)))  # 150 ms of wall time
    assert [frame.payload.decode() for frame in frames] == [make_trade(sequence=n) for n in range(1, due + 1)]
    # The first recorded frame is at the start time; the others keep their recorded distance, at any speed.
    assert [frame.time_ns - START_NS for frame in frames] == [0, 100 * MS, S][:due]
    source.close()


def test_advance_yields_each_frame_once_and_moves_now(tmp_path: Path) -> None:
    source = ReplaySource.open(paced_recording(tmp_path), start_ns=START_NS)
    assert len(list(source.advance(START_NS))) == 1
    assert list(source.advance(START_NS + 50 * MS)) == []
    assert source.now_ns == START_NS + 50 * MS
    assert len(list(source.advance(START_NS + 3 * S))) == 3
    with pytest.raises(ValueError, match="before now"):
        list(source.advance(START_NS))
    source.close()


def test_receive_times_going_backwards_keep_file_order(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "a.jsonl.gz", [(0, make_trade(sequence=1)), (-5 * MS, make_trade(sequence=2))])
    source = ReplaySource.open(path, start_ns=START_NS)
    assert [(frame.payload, frame.time_ns) for frame in source.advance(START_NS)] == [
        (make_trade(sequence=1).encode(), START_NS),
        (make_trade(sequence=2).encode(), START_NS),
    ]
    source.close()


def test_end_of_recording_is_logged_once_and_the_stream_just_stops(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = ReplaySource.open(paced_recording(tmp_path), start_ns=START_NS)
    with caplog.at_level(logging.INFO, logger="coinapi_emulator.server.replay.source"):
        assert len(list(source.advance(START_NS + 10 * S))) == 4
        assert list(source.advance(START_NS + 20 * S)) == []
    assert source.finished and source.now_ns == START_NS + 20 * S
    assert [record.getMessage() for record in caplog.records if "end of recording" in record.getMessage()] == [
        f"replay {source.path}: end of recording after 4 messages; the stream ends here, connections stay open"
    ]


def test_notices_and_unroutable_frames_are_counted_and_skipped(tmp_path: Path) -> None:
    path = write_recording(
        tmp_path / "a.jsonl.gz",
        [
            (0, '{"type":"hearbeat"}'),
            (1, make_trade()),
            (2, '{"type":"reconnect","within_seconds":1,"before_time":"2024-01-01T00:00:01.0000000Z"}'),
            (3, '{"type":"ticker","symbol_id":"X"}'),
            (4, "not json"),
            (5, '{"type":"error","message":"bye"}'),
        ],
    )
    inventory = scan_recording(path)
    assert (inventory.messages, inventory.routable) == (6, 1)
    assert inventory.skipped == {"hearbeat": 1, "reconnect": 1, "ticker": 1, "?": 1, "error": 1}
    source = ReplaySource(path, inventory, start_ns=START_NS)
    # Re-based on the recording's first frame (the heartbeat), not on the first replayed one.
    assert [(frame.payload.decode(), frame.time_ns) for frame in source.advance(START_NS + S)] == [
        (make_trade(), START_NS + 1)
    ]
    assert source.summary().endswith(
        "6 messages over 0.0 s from ws://127.0.0.1:8765/v1/, 1 symbols; "
        "1 to replay, skipped: 1 ?, 1 error, 1 hearbeat, 1 reconnect, 1 ticker"
    )
    source.close()


# -- the emulator in replay mode: filtering, routing, late joiners ------------------------------------------------


def test_a_client_gets_only_its_symbols_recorded_frames_verbatim(tmp_path: Path, emulators: list[Emulator]) -> None:
    recorded = [make_trade(BTC, 7), make_trade(ETH, 3), make_quote(BTC, 9), make_trade(BTC, 8), make_quote(ETH, 4)]
    path = write_recording(tmp_path / "a.jsonl.gz", [(n * 10 * MS, text) for n, text in enumerate(recorded)])
    emulator = replay_emulator(emulators, path)
    btc = connect(emulator, subscribe_data_type=["trade", "quote"], subscribe_filter_symbol_id=[BTC + "$"])
    eth_trades = connect(emulator, subscribe_data_type=["trade"], subscribe_filter_asset_id=["ETH"])
    emulator.shared.driver.run_until(START_NS + S)
    assert texts(btc) == [recorded[0], recorded[2], recorded[3]]
    assert texts(eth_trades) == [recorded[1]]


def test_the_replay_waits_for_the_first_subscription(tmp_path: Path, emulators: list[Emulator]) -> None:
    emulator = replay_emulator(emulators, write_recording(tmp_path / "a.jsonl.gz", [(0, make_trade())]))
    assert emulator.shared.clock.paused and emulator.shared.clock.now_ns(123 * S) == START_NS
    connect(emulator, subscribe_data_type=["trade"])
    assert not emulator.shared.clock.paused


def test_a_paused_replay_waits_for_resume(tmp_path: Path, emulators: list[Emulator]) -> None:
    emulator = replay_emulator(emulators, write_recording(tmp_path / "a.jsonl.gz", [(0, make_trade())]), paused=True)
    connect(emulator, subscribe_data_type=["trade"])
    assert emulator.shared.clock.paused
    emulator.shared.resume()
    assert not emulator.shared.clock.paused


def test_recorded_symbols_missing_from_the_catalogue_are_routable(tmp_path: Path, emulators: list[Emulator]) -> None:
    odd = "ODD-INDEX"  # not CoinAPI's id pattern: its exchange and assets come from its recorded symbol frame
    symbol_frame = frame_text(
        {"type": "symbol", "symbol_id": odd, "exchange_id": "ODDX", "asset_id_base": "AAA", "asset_id_quote": "BBB"}
    )
    recorded = [symbol_frame, make_trade("NEWEX_SPOT_FOO_USD", 1), make_trade(odd, 1)]
    path = write_recording(tmp_path / "a.jsonl.gz", [(n, text) for n, text in enumerate(recorded)])
    emulator = replay_emulator(emulators, path)
    by_exchange = connect(emulator, subscribe_data_type=["trade"], subscribe_filter_exchange_id=["NEWEX"])
    by_asset = connect(emulator, subscribe_data_type=["trade"], subscribe_filter_asset_id=["FOO/USD", "AAA"])
    by_prefix = connect(emulator, subscribe_data_type=["trade"], subscribe_filter_symbol_id=["ODD-"])
    emulator.shared.driver.run_until(START_NS + S)
    assert texts(by_exchange) == [recorded[1]]
    assert texts(by_asset) == [recorded[1], recorded[2]]
    assert texts(by_prefix) == [recorded[2]]
    assert emulator.catalog.symbol(odd) is None  # REST and the feed keep the synthetic catalogue


def test_no_synthetic_book_snapshot_in_replay_mode(tmp_path: Path, emulators: list[Emulator]) -> None:
    emulator = replay_emulator(emulators, write_recording(tmp_path / "a.jsonl.gz", [(0, make_trade(BTC))]))
    sink = connect(emulator, subscribe_data_type=["book"], subscribe_filter_symbol_id=[BTC + "$"])
    emulator.shared.driver.run_until(START_NS + S)
    assert sink.payloads() == []


def test_late_book_subscriber_gets_the_recorded_book_so_far(tmp_path: Path, emulators: list[Emulator]) -> None:
    snapshot = make_book(
        sequence=10,
        is_snapshot=True,
        asks='{"price":101.10,"size":1},{"price":102,"size":2}',
        bids='{"price":100.0,"size":3},{"price":99.50,"size":4}',
    )
    delete_and_add = make_book(
        sequence=11, is_snapshot=False, asks='{"price":102,"size":0},{"price":101.5,"size":0.10}', bids=""
    )
    improve_bid = make_book(
        sequence=12, is_snapshot=False, bids='{"price":100.5,"size":7}', time_exchange="2024-01-01T00:00:02.0000000Z"
    )
    later = make_book(sequence=13, is_snapshot=False, asks='{"price":101.10,"size":0}')
    recorded = [snapshot, delete_and_add, improve_bid, later]
    path = write_recording(tmp_path / "a.jsonl.gz", [(0, recorded[0]), (1, recorded[1]), (2, recorded[2]), (S, later)])
    emulator = replay_emulator(emulators, path)
    hello = {"subscribe_data_type": ["book"], "subscribe_filter_symbol_id": [BTC + "$"]}
    early = connect(emulator, **hello)
    emulator.shared.driver.run_until(START_NS + 10 * MS)
    late = connect(emulator, **hello)
    emulator.shared.driver.run_until(START_NS + 2 * S)
    assert texts(early) == recorded  # from the start: the recorded snapshot, nothing made up
    assert texts(late) == [
        '{"type":"book","symbol_id":"BINANCE_SPOT_BTC_USDT","sequence":12,'
        '"time_exchange":"2024-01-01T00:00:02.0000000Z","time_coinapi":"2024-01-01T00:00:01.0010000Z",'
        '"is_snapshot":true,"asks":[{"price":101.10,"size":1},{"price":101.5,"size":0.10}],'
        '"bids":[{"price":100.5,"size":7},{"price":100.0,"size":3},{"price":99.50,"size":4}]}',
        later,
    ]


def test_late_metadata_subscriber_gets_the_latest_recorded_frame(tmp_path: Path, emulators: list[Emulator]) -> None:
    old = frame_text({"type": "exchange", "exchange_id": "KRAKEN", "name": "old"})
    new = frame_text({"type": "exchange", "exchange_id": "KRAKEN", "name": "new"})
    path = write_recording(tmp_path / "a.jsonl.gz", [(0, old), (1, new)])
    emulator = replay_emulator(emulators, path)
    connect(emulator, subscribe_data_type=["trade"])  # starts the replay
    emulator.shared.driver.run_until(START_NS + S)
    late = connect(emulator, subscribe_data_type=["exchange"], subscribe_filter_exchange_id=["KRAKEN", "BINANCE"])
    assert texts(late) == [new]  # BINANCE: nothing recorded, so nothing synthetic either


def test_a_bad_recording_fails_emulator_start_up(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"not gzip")
    with pytest.raises(RecordingError, match=r"bad\.jsonl\.gz is not a readable gzip file"):
        Emulator(Settings(replay_file=bad, exchanges=5))


def test_serve_with_a_bad_recording_exits_2_with_the_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl.gz"
    bad.write_bytes(b"not gzip")
    result = CliRunner().invoke(cli.main, ["serve", "--replay", str(bad), "--exchanges", "5"])
    assert result.exit_code == 2
    assert "bad.jsonl.gz is not a readable gzip file" in result.output


def test_replay_flag_and_env_var_fill_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_recording(tmp_path / "a.jsonl.gz", [])
    captured: list[Settings] = []
    monkeypatch.setattr(serve, "run", captured.append)
    CliRunner().invoke(cli.main, ["serve", "--replay", str(path)])
    CliRunner().invoke(cli.main, ["serve"], env={"COINAPI_EMULATOR_REPLAY": str(path)})
    assert [settings.replay_file for settings in captured] == [path, path]


# -- the routing catalogue --------------------------------------------------------------------------------------


def test_routing_catalogue_adds_stand_ins_only_for_missing_ids(tmp_path: Path) -> None:
    catalog = build_catalog(CatalogConfig(exchanges=3))
    path = write_recording(
        tmp_path / "a.jsonl.gz",
        [
            (0, make_trade(BTC)),
            (1, make_trade("NEWEX_PERP_FOO_USDT")),
            (2, make_trade("WEIRD")),
            (3, frame_text({"type": "exrate", "asset_id_base": "ZZZ", "asset_id_quote": "USD", "rate": 1})),
        ],
    )
    extended = routing_catalog(catalog, scan_recording(path))
    assert len(extended.symbols) == len(catalog.symbols) + 2
    perp = extended.symbol("NEWEX_PERP_FOO_USDT")
    assert perp is not None and (perp.exchange_id, perp.asset_id_base, perp.asset_id_quote) == ("NEWEX", "FOO", "USDT")
    assert perp.symbol_type.value == "PERPETUAL"
    weird = extended.symbol("WEIRD")
    assert weird is not None and (weird.exchange_id, weird.asset_id_base) == ("WEIRD", "WEIRD")
    assert extended.exchange("NEWEX") is not None and extended.asset("ZZZ") is not None
    assert extended.asset("FOO") is not None


def test_routing_catalogue_is_the_catalogue_when_nothing_is_missing(tmp_path: Path) -> None:
    catalog = build_catalog(CatalogConfig(exchanges=3))
    path = write_recording(tmp_path / "a.jsonl.gz", [(0, make_trade(BTC))])
    assert routing_catalog(catalog, scan_recording(path)) is catalog


def test_recorded_frame_is_a_frozen_value() -> None:
    frame = RecordedMessage((DataType.TRADE, BTC), b"{}", RECEIVED_BASE_NS)
    with pytest.raises(AttributeError):
        frame.time_ns = 0  # type: ignore[misc]
