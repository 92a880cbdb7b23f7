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


#: Tardis.dev CSV files of a few rows each (docs.tardis.dev, "Downloadable CSV files")
TARDIS_TRADES = (
    "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
    "binance,BTCUSDT,1704067200100000,1704067200105000,100,buy,42000.10,0.5\n"
    "binance,BTCUSDT,,1704067200206000,,unknown,41999.9,0.00100000\n"
)
TARDIS_BOOK = (
    "exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount\n"
    "binance,BTCUSDT,1704067200040000,1704067200040000,false,bid,41000,1\n"
    "binance,BTCUSDT,1704067200000000,1704067200050000,true,ask,42000.3,2\n"
    "binance,BTCUSDT,1704067200000000,1704067200050000,true,ask,42000.2,1.5\n"
    "binance,BTCUSDT,1704067200000000,1704067200050000,true,bid,41999.8,3\n"
    "binance,BTCUSDT,1704067200000000,1704067200050000,true,bid,41999.7,0\n"
    "binance,BTCUSDT,1704067200150000,1704067200151000,false,ask,42000.2,0\n"
    "binance,BTCUSDT,1704067200150000,1704067200151000,false,bid,41999.9,0.7\n"
    "binance,BTCUSDT,1704067200150000,1704067200151000,false,bid,41999.95,0.1\n"
    "binance,BTCUSDT,1704067200160000,1704067200161000,false,bid,41999.9,0\n"
    "binance,BTCUSDT,1704067200170000,1704067200171000,true,ask,42001,1\n"
    "binance,BTCUSDT,1704067200170000,1704067200171000,true,bid,42000,1\n"
)
TARDIS_QUOTES = (
    "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n"
    "coinbase,BTC-USD,1704067200120000,1704067200121000,0.4,42001.5,42001.49,1.25\n"
    "coinbase,BTC-USD,1704067200130000,1704067200131000,,,42001.49,1.25\n"
)
TARDIS_SNAPSHOT_5 = (
    "exchange,symbol,timestamp,local_timestamp,"
    + ",".join(f"asks[{i}].price,asks[{i}].amount,bids[{i}].price,bids[{i}].amount" for i in range(5))
    + "\nkraken,XBT/USD,1704067200300000,1704067200301000,42010,1,42009,2,42011,3,42008,4"
    + "," * 12
    + "\n"
)
