"""Named factories for recordings and recorded frames (the replay and recording tests share them)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import orjson

from coinapi_emulator.server.replay.recording import RecordingHeader, RecordingWriter

#: 2024-01-01T00:00:00Z, ns since the epoch
START_NS: Final = 1_704_067_200_000_000_000
#: a receive time (wall clock of a recorder) far from START_NS, so re-basing shows
RECEIVED_BASE_NS: Final = 1_800_000_000_000_000_000
MS: Final = 1_000_000
BTC: Final = "BINANCE_SPOT_BTC_USDT"
ETH: Final = "COINBASE_SPOT_ETH_USD"


def make_header(**overrides: Any) -> RecordingHeader:
    fields: dict[str, Any] = {
        "source_url": "ws://127.0.0.1:8765/v1/",
        "hello": {"type": "hello", "subscribe_data_type": ["trade"]},
        "start_time_ns": RECEIVED_BASE_NS,
        **overrides,
    }
    return RecordingHeader(**fields)


def write_recording(path: Path, frames: Iterable[tuple[int, str]], header: RecordingHeader | None = None) -> Path:
    """A recording of ``(offset ns from RECEIVED_BASE_NS, frame text)`` pairs."""
    with RecordingWriter(path, header or make_header()) as writer:
        for offset_ns, text in frames:
            writer.write(RECEIVED_BASE_NS + offset_ns, text)
    return path


def frame_text(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def make_trade(symbol_id: str = BTC, sequence: int = 1, price: str = "42000.5") -> str:
    """A trade frame as the emulator writes it (a raw price token, so number formatting is kept)."""
    return (
        f'{{"type":"trade","symbol_id":"{symbol_id}","sequence":{sequence},'
        f'"time_exchange":"2024-01-01T00:00:01.0000000Z","time_coinapi":"2024-01-01T00:00:01.0010000Z",'
        f'"uuid":"3f1c2a9e-8d4b-4c61-9a2e-1b7d5e0c4f11","price":{price},"size":0.0125,"taker_side":"SELL"}}'
    )


def make_quote(symbol_id: str = BTC, sequence: int = 1) -> str:
    return (
        f'{{"type":"quote","symbol_id":"{symbol_id}","sequence":{sequence},'
        f'"time_exchange":"2024-01-01T00:00:01.0000000Z","time_coinapi":"2024-01-01T00:00:01.0010000Z",'
        f'"ask_price":42001,"ask_size":0.5,"bid_price":42000,"bid_size":1.25}}'
    )


def make_book(
    symbol_id: str = BTC,
    sequence: int = 1,
    *,
    is_snapshot: bool,
    asks: str = "",
    bids: str = "",
    time_exchange: str = "2024-01-01T00:00:01.0000000Z",
) -> str:
    """A ``book`` frame; ``asks``/``bids`` are the raw level lists, e.g. ``'{"price":1.10,"size":2}'``."""
    return (
        f'{{"type":"book","symbol_id":"{symbol_id}","sequence":{sequence},"time_exchange":"{time_exchange}",'
        f'"time_coinapi":"2024-01-01T00:00:01.0010000Z","is_snapshot":{"true" if is_snapshot else "false"},'
        f'"asks":[{asks}],"bids":[{bids}]}}'
    )
