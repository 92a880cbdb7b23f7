"""The recorder (server/replay/recorder.py) against a scripted WebSocket server in a thread: stop conditions, the key,
the command line's exit codes, and the progress display."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import orjson
import pytest
from click.testing import CliRunner
from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve

from coinapi_emulator.server.cli import main as cli
from coinapi_emulator.server.replay.recorder import Progress, RecordOptions, RecordResult, StopReason, record
from coinapi_emulator.server.replay.recording import RecordingReader
from tests.server.replay.factories import make_quote, make_trade

KEY = "SECRET-KEY-0000"
HELLO: dict[str, Any] = {"type": "hello", "apikey": KEY, "subscribe_data_type": ["trade", "quote"]}
ERROR = '{"type":"error","message":"Invalid API key"}'


@dataclass
class ScriptedServer:
    """What a scripted server saw."""

    url: str
    hellos: list[str] = field(default_factory=list)
    key_headers: list[str | None] = field(default_factory=list)


@contextlib.contextmanager
def scripted_server(frames: list[str], then: Literal["close", "wait"] = "close") -> Iterator[ScriptedServer]:
    """A server that reads one hello, sends ``frames``, then closes (1000) or waits for the client to close."""
    seen = ScriptedServer(url="")

    def handler(ws: ServerConnection) -> None:
        seen.hellos.append(str(ws.recv()))
        assert ws.request is not None
        seen.key_headers.append(ws.request.headers.get("X-CoinAPI-Key"))
        for frame in frames:
            ws.send(frame)
        if then == "wait":
            with contextlib.suppress(ConnectionClosed):
                ws.recv()

    with serve(handler, "127.0.0.1", 0) as server:
        seen.url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/v1/?apikey={KEY}"
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield seen
        finally:
            server.shutdown()
            thread.join(10)


def run_record(url: str, out: Path, progress: Progress | None = None, **options: Any) -> RecordResult:
    ticks = iter(range(1_000_000))
    return asyncio.run(
        record(
            RecordOptions(url=url, hello=HELLO, out=out, api_key=KEY, **options),
            progress,
            epoch_ns=lambda: 1_000 + next(ticks),
        )
    )


def recorded_texts(path: Path) -> list[str]:
    with RecordingReader(path) as reader:
        return [frame.text for frame in reader]


def test_records_every_frame_until_the_server_closes(tmp_path: Path) -> None:
    frames = [make_trade(sequence=1), make_quote(sequence=1), make_trade(sequence=2)]
    out = tmp_path / "a.jsonl.gz"
    with scripted_server(frames) as server:
        result = run_record(server.url, out)
    assert (result.stop, result.messages, result.detail) == (StopReason.SERVER_CLOSED, 3, "code 1000")
    assert recorded_texts(out) == frames
    with RecordingReader(out) as reader:
        # receive times come from the wall clock at each frame (here a counting fake)
        assert [frame.received_ns for frame in reader] == [1_001, 1_002, 1_003]


def test_the_key_is_sent_but_never_written(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl.gz"
    with scripted_server([make_trade()]) as server:
        run_record(server.url, out)
    assert orjson.loads(server.hellos[0]) == HELLO  # the hello goes out as given
    assert server.key_headers == [KEY]
    with RecordingReader(out) as reader:
        assert reader.header.hello == {"type": "hello", "subscribe_data_type": ["trade", "quote"]}
        assert reader.header.source_url == server.url.split("?")[0]
    assert KEY.encode() not in gzip.decompress(out.read_bytes())


def test_stops_at_max_messages(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl.gz"
    with scripted_server([make_trade(sequence=n) for n in range(10)], then="wait") as server:
        result = run_record(server.url, out, max_messages=4)
    assert (result.stop, result.messages) == (StopReason.MAX_MESSAGES, 4)
    assert recorded_texts(out) == [make_trade(sequence=n) for n in range(4)]


def test_stops_after_the_duration(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl.gz"
    with scripted_server([make_trade(sequence=1), make_trade(sequence=2)], then="wait") as server:
        result = run_record(server.url, out, duration_s=0.3)
    assert (result.stop, result.messages) == (StopReason.DURATION, 2)
    assert len(recorded_texts(out)) == 2


def test_an_error_frame_is_recorded_and_ends_the_recording(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl.gz"
    with scripted_server([make_trade(), ERROR, make_trade(sequence=2)], then="wait") as server:
        result = run_record(server.url, out)
    assert (result.stop, result.detail) == (StopReason.SERVER_ERROR, "Invalid API key")
    assert recorded_texts(out) == [make_trade(), ERROR]


def test_a_frame_merely_mentioning_error_does_not_stop(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl.gz"
    frames = [make_trade("ERRORX_SPOT_BTC_USD"), '{"type":"exchange","exchange_id":"X","name":"error"}']
    with scripted_server(frames) as server:
        assert run_record(server.url, out).stop is StopReason.SERVER_CLOSED
    assert recorded_texts(out) == frames


class _InterruptOnStart(Progress):
    """Sends this process SIGINT as soon as the recorder says it is recording (its handler is in place)."""

    def started(self, url: str, out: Path) -> None:
        super().started(url, out)
        asyncio.get_running_loop().call_later(0.1, os.kill, os.getpid(), signal.SIGINT)


def test_ctrl_c_ends_the_recording_cleanly(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl.gz"
    with scripted_server([make_trade()], then="wait") as server:
        result = run_record(server.url, out, _InterruptOnStart(io.StringIO()))
    assert (result.stop, result.messages) == (StopReason.INTERRUPTED, 1)
    assert recorded_texts(out) == [make_trade()]  # a complete, readable file


# -- command line -----------------------------------------------------------------------------------------------


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli.main, ["record", *args], env=env)
    return result.exit_code, result.output


def test_command_records_and_reports_the_count(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl.gz"
    with scripted_server([make_trade(), make_quote()]) as server:
        code, output = invoke("--url", server.url, "--hello", orjson.dumps(HELLO).decode(), "--out", str(out))
    assert code == 0, output
    assert "recording ws://127.0.0.1:" in output and KEY not in output
    assert "recorded 2 messages" in output and "server closed the connection (code 1000)" in output
    assert len(recorded_texts(out)) == 2


def test_command_exits_1_with_the_servers_error(tmp_path: Path) -> None:
    hello_file = tmp_path / "hello.json"
    hello_file.write_text(orjson.dumps(HELLO).decode(), encoding="utf-8")
    out = tmp_path / "a.jsonl.gz"
    with scripted_server([ERROR]) as server:
        code, output = invoke("--url", server.url, "--hello-file", str(hello_file), "--out", str(out))
    assert code == 1
    assert "Error: the server sent an error: Invalid API key" in output
    assert recorded_texts(out) == [ERROR]


def test_api_key_env_var_is_sent_as_header(tmp_path: Path) -> None:
    out = tmp_path / "a.jsonl.gz"
    with scripted_server([make_trade()]) as server:
        code, _ = invoke(
            "--hello",
            '{"type":"hello","subscribe_data_type":["trade"]}',
            env={"COINAPI_EMULATOR_URL": server.url.split("?")[0], "COINAPI_EMULATOR_API_KEY": "from-env",
                 "COINAPI_EMULATOR_OUT": str(out), "COINAPI_EMULATOR_MAX_MESSAGES": "1"},
        )  # fmt: skip
    assert code == 0
    assert server.key_headers == ["from-env"]


def test_command_exits_1_when_it_cannot_connect(tmp_path: Path) -> None:
    code, output = invoke("--url", "ws://127.0.0.1:1/v1/", "--hello", "{}", "--out", str(tmp_path / "a.jsonl.gz"))
    assert code == 1
    assert "Error: cannot record from ws://127.0.0.1:1/v1/" in output
    assert not (tmp_path / "a.jsonl.gz").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give exactly one of --hello and --hello-file"),
        (["--hello", "{}", "--hello-file", __file__], "give exactly one of --hello and --hello-file"),
        (["--hello", "{nope"], "--hello is not valid JSON"),
        (["--hello", "[]"], "--hello must be a JSON object"),
        (["--hello", "{}", "--url", "http://x/"], "'http://x/' is not a ws:// or wss:// URL"),
        (["--hello", "{}", "--duration", "0"], "--duration"),
        (["--hello", "{}", "--max-messages", "0"], "--max-messages"),
    ],
    ids=["no-hello", "two-hellos", "bad-json", "not-object", "bad-url", "zero-duration", "zero-max"],
)
def test_bad_arguments_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = invoke(*args, "--out", str(tmp_path / "a.jsonl.gz"))
    assert code == 2, output
    assert message in output


# -- progress ---------------------------------------------------------------------------------------------------


class _Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_progress_on_a_terminal_redraws_one_line() -> None:
    now = [0.0]
    stream = _Stream(tty=True)
    progress = Progress(stream, clock=lambda: now[0])
    assert not progress.due()
    now[0] = 2.0
    assert progress.due()
    progress.update(2_000, 1_500_000)
    now[0] = 4.0
    progress.update(5_000, 3_000_000)
    progress.finish()
    assert stream.getvalue() == (
        "\r2,000 messages, 1.5 MB, 1,000 msgs/s, 2.0 s\x1b[K\r5,000 messages, 3.0 MB, 1,250 msgs/s, 4.0 s\x1b[K\n"
    )


def test_progress_elsewhere_writes_a_line_every_few_seconds() -> None:
    now = [0.0]
    stream = _Stream(tty=False)
    progress = Progress(stream, clock=lambda: now[0])
    now[0] = 4.9
    assert not progress.due()
    now[0] = 5.0
    assert progress.due()
    progress.update(10, 1000)
    progress.finish()
    assert stream.getvalue() == "10 messages, 0.0 MB, 2 msgs/s, 5.0 s\n"
