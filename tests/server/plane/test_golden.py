"""Byte-exact protocol output for a fixed seed and virtual clock, compared with tests/golden/*.jsonl.

Regenerate with ``pytest tests/server/plane/test_golden.py --update-golden`` and review the diff: a change here is
a change of what every client of a seeded emulator receives. Each scenario runs with the codec the server uses (the
C one when built, ``server/plane/codec.py``) and with the reference Python one; only the former rewrites the files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.plane import codec, streams
from coinapi_emulator.server.transport.frames import frame_payload
from tests.server.fakes import FakeSink, open_connection

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
START_NS = 1_704_067_200_000_000_000
S = 1_000_000_000

Message = dict[str, object]
SCENARIOS: dict[str, list[Message]] = {
    "btc_all_types": [
        {
            "type": "hello",
            "apikey": "golden",
            "subscribe_data_type": ["trade", "quote", "book", "book5", "book20", "ohlcv"],
            "subscribe_filter_symbol_id": ["BINANCE_SPOT_BTC_USDT$"],
            "subscribe_filter_period_id": ["1SEC", "5SEC"],
        },
        {"type": "subscribe", "subscribe_data_type": ["exrate"], "subscribe_filter_asset_id": ["BTC", "BTC/EUR"]},
    ],
    "coinbase_eth_book_l3": [
        {
            "type": "hello",
            "apikey": "golden",
            "subscribe_data_type": ["trade", "book_l3"],
            "subscribe_filter_symbol_id": ["COINBASE_SPOT_ETH_USD$"],
        }
    ],
    "coinbase_trades": [
        {
            "type": "hello",
            "apikey": "golden",
            "subscribe_data_type": ["trade"],
            "subscribe_filter_exchange_id": ["COINBASE"],
        }
    ],
}


def stream(messages: list[Message], seconds: int) -> list[bytes]:
    emulator = Emulator(
        Settings(seed=42, start_time_ns=START_NS, speed=None), monotonic_ns=lambda: 0, epoch_ns=lambda: START_NS
    )
    sink = FakeSink()
    open_connection(emulator, sink, *messages, peer="golden")
    for step in range(1, seconds * 10 + 1):
        emulator.shared.driver.run_until(START_NS + step * S // 10)
    return [frame_payload(frame) for write in sink.writes for frame in write]


@pytest.mark.parametrize(
    "codec_type", [codec.SymbolCodec, codec.ReferenceCodec], ids=["server-codec", "reference-codec"]
)
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_stream_matches_golden_file(
    name: str, codec_type: type[codec.ReferenceCodec], request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "SymbolCodec", codec_type)
    frames = stream(SCENARIOS[name], seconds=6)
    golden = GOLDEN / f"{name}.jsonl"
    if request.config.getoption("--update-golden") and codec_type is codec.SymbolCodec:
        golden.write_bytes(b"".join(frame + b"\n" for frame in frames))
    expected = golden.read_bytes().splitlines()
    assert len(frames) == len(expected)
    for index, (got, want) in enumerate(zip(frames, expected, strict=True)):
        assert got == want, f"frame {index} differs"


def test_the_same_run_twice_gives_the_same_bytes() -> None:
    assert stream(SCENARIOS["btc_all_types"], seconds=2) == stream(SCENARIOS["btc_all_types"], seconds=2)
