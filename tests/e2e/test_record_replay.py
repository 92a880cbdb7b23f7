"""Record and replay with real processes: ``coinapi-emulator record`` as the client, ``serve`` (live and
``--replay``) as the servers.

The round trip: record ~3 s of a live emulator to file A, serve A with ``--replay A --speed 10``, record that
with the same hello to file B: the frame texts of A and B are identical, from the first frame to the last.
No trimming is needed at the start because a replay waits for its first subscription before its clock runs
(so B's recorder, which subscribes first, gets the recording from frame one). At the end, the replay's stream
stops but the connection stays open (as documented), so B's recorder stops at ``--max-messages len(A)``; a
generous ``--duration`` only guards against a hang. Nothing here asserts on timing.
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any, Final

import pytest

from coinapi_emulator.server.replay.recording import RecordingReader
from tests.server.replay.factories import TARDIS_BOOK, TARDIS_TRADES

from .processes import START_TIME, RunningServer, emulator_executable, run_server, serve_argv
from .support import API_KEY, BAD_KEY

pytestmark = pytest.mark.e2e

SYMBOLS: Final = ["BINANCE_SPOT_BTC_USDT$", "COINBASE_SPOT_BTC_USD$", "KRAKEN_SPOT_ETH_USD$", "BITSTAMP_SPOT_BTC_USD$"]
HELLO: Final[dict[str, Any]] = {
    "type": "hello",
    "apikey": API_KEY,
    "heartbeat": False,
    "subscribe_data_type": ["trade", "quote"],
    "subscribe_filter_symbol_id": SYMBOLS,
}
#: a small market for servers started by these tests, so they come up quickly (the hello's symbols are in it)
SMALL: Final = ["--exchanges", "5"]
RECORD_TIMEOUT_S: Final = 90


def record(*args: str, timeout: float = RECORD_TIMEOUT_S) -> subprocess.CompletedProcess[str]:
    """Run ``coinapi-emulator record <args>`` to completion, without any COINAPI_EMULATOR_* from the environment."""
    return subprocess.run(
        [str(emulator_executable()), "record", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=_clean_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _clean_env() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if not key.startswith("COINAPI_EMULATOR_")}


def texts(path: Path) -> list[str]:
    with RecordingReader(path) as reader:
        return [frame.text for frame in reader]


def test_record_replay_record_round_trips(log_dir: Path) -> None:
    a, b = log_dir / "a.jsonl.gz", log_dir / "b.jsonl.gz"
    hello = json.dumps(HELLO)
    with run_server(["--start-time", START_TIME, *SMALL], log_dir) as live:
        done = record("--url", live.ws_url(), "--hello", hello, "--out", str(a), "--duration", "3")
    assert done.returncode == 0, done.stderr
    assert "duration reached" in done.stderr
    recorded = texts(a)
    messages = [json.loads(text) for text in recorded]
    assert {message["type"] for message in messages} == {"trade", "quote"}
    assert len({message["symbol_id"] for message in messages}) >= 3, "a few symbols, so filtering matters"

    with run_server(["--replay", str(a), "--speed", "10", *SMALL], log_dir) as replay:
        done = record(
            "--url", replay.ws_url(), "--hello", hello, "--out", str(b),
            "--max-messages", str(len(recorded)), "--duration", "60",
        )  # fmt: skip
        log = replay.log()
    assert done.returncode == 0, done.stderr
    assert "message limit reached" in done.stderr
    assert texts(b) == recorded
    assert "replay: first subscription" in log and "end of recording" in log


def test_record_exits_1_with_the_servers_error(keyed_server: RunningServer, log_dir: Path) -> None:
    out = log_dir / "rejected.jsonl.gz"
    hello = {key: value for key, value in HELLO.items() if key != "apikey"}
    done = record(
        "--url", keyed_server.ws_url(), "--api-key", BAD_KEY, "--hello", json.dumps(hello), "--out", str(out)
    )  # fmt: skip
    assert done.returncode == 1
    assert "Error: the server sent an error: Invalid API key" in done.stderr
    assert [json.loads(text) for text in texts(out)] == [{"type": "error", "message": "Invalid API key"}]


def test_ctrl_c_stops_recording_with_a_complete_file(server: RunningServer, log_dir: Path) -> None:
    out, stderr_path = log_dir / "interrupted.jsonl.gz", log_dir / "record.err"
    argv = [str(emulator_executable()), "record", "--url", server.ws_url(), "--hello", json.dumps(HELLO)]
    with stderr_path.open("w", encoding="utf-8") as stderr:
        process = subprocess.Popen(
            [*argv, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=stderr, env=_clean_env()
        )
    try:
        # "recording ..." is written once connected, with the Ctrl-C handler in place.
        deadline = time.monotonic() + 30
        while "recording ws://" not in stderr_path.read_text(encoding="utf-8"):
            assert process.poll() is None, stderr_path.read_text(encoding="utf-8")
            assert time.monotonic() < deadline, "the recorder never started"
            time.sleep(0.05)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0, stderr_path.read_text(encoding="utf-8")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "interrupted" in stderr_path.read_text(encoding="utf-8")
    texts(out)  # complete: reads to the end without a RecordingError


def test_serve_replay_of_a_bad_file_exits_2(log_dir: Path) -> None:
    bad = log_dir / "bad.jsonl.gz"
    bad.write_bytes(b"this is not gzip")
    done = subprocess.run(
        serve_argv("--replay", str(bad), *SMALL),
        capture_output=True,
        text=True,
        timeout=RECORD_TIMEOUT_S,
        env=_clean_env(),
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 2
    assert "bad.jsonl.gz is not a readable gzip file" in done.stderr


def test_imported_files_stream_through_serve_replay(log_dir: Path) -> None:
    """Tardis.dev trades and book files made into a recording by ``coinapi-emulator import``: a client of
    ``serve --replay`` gets every imported message as written, and a late book subscriber a snapshot."""
    trades = log_dir / "binance_trades_2024-01-01_BTCUSDT.csv.gz"
    book = log_dir / "binance_incremental_book_L2_2024-01-01_BTCUSDT.csv.gz"
    for path, text in ((trades, TARDIS_TRADES), (book, TARDIS_BOOK)):
        with gzip.open(path, "wt", encoding="utf-8") as file:
            file.write(text)
    out = log_dir / "imported.jsonl.gz"
    done = subprocess.run(
        [str(emulator_executable()), "import", str(trades), str(book), "--out", str(out)],
        capture_output=True, text=True, timeout=RECORD_TIMEOUT_S, env=_clean_env(), stdin=subprocess.DEVNULL,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "6 messages (4 book, 2 trade) of 1 symbols" in done.stderr
    imported = texts(out)
    hello = {
        **HELLO,
        "subscribe_data_type": ["trade", "book"],
        "subscribe_filter_symbol_id": ["BINANCE_SPOT_BTC_USDT$"],
    }
    with run_server(["--replay", str(out), "--speed", "10", *SMALL], log_dir) as replay:
        got = log_dir / "got.jsonl.gz"
        done = record(
            "--url", replay.ws_url(), "--hello", json.dumps(hello), "--out", str(got),
            "--max-messages", str(len(imported)), "--duration", "60",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        late = log_dir / "late.jsonl.gz"
        done = record("--url", replay.ws_url(), "--hello", json.dumps(hello), "--out", str(late), "--duration", "1")
    assert texts(got) == imported
    [snapshot] = [json.loads(text) for text in texts(late)]
    assert snapshot["is_snapshot"] and snapshot["sequence"] == 4
    assert snapshot["asks"] == [{"price": 42001, "size": 1}] and snapshot["bids"] == [{"price": 42000, "size": 1}]
