"""The recording file format (server/replay/recording.py): round trips, key redaction, clear errors for bad files."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coinapi_emulator.server.replay.recording import (
    FORMAT_NAME,
    ReceivedMessage,
    RecordingError,
    RecordingReader,
    RecordingWriter,
    redact_hello,
    redact_url,
)
from tests.server.replay.factories import RECEIVED_BASE_NS, make_header, make_trade, write_recording


def read_all(path: Path) -> list[ReceivedMessage]:
    with RecordingReader(path) as reader:
        return list(reader)


def write_lines(path: Path, *lines: bytes) -> Path:
    with gzip.open(path, "wb") as file:
        file.write(b"".join(lines))
    return path


HEADER_LINE = orjson.dumps(
    {"format": FORMAT_NAME, "version": 1, "source_url": "ws://x/v1/", "hello": {}, "start_time_ns": 1}
)


def test_header_and_frames_round_trip(tmp_path: Path) -> None:
    header = make_header(hello={"type": "hello", "subscribe_data_type": ["trade", "quote"]})
    texts = [make_trade(sequence=1), make_trade(sequence=2), '{"type":"hearbeat"}']
    path = tmp_path / "a.jsonl.gz"
    with RecordingWriter(path, header) as writer:
        for n, text in enumerate(texts):
            writer.write(RECEIVED_BASE_NS + n, text)
    assert writer.messages == 3
    with RecordingReader(path) as reader:
        assert reader.header == header
        assert list(reader) == [ReceivedMessage(RECEIVED_BASE_NS + n, text) for n, text in enumerate(texts)]


def test_file_is_gzip_json_lines_with_the_text_as_a_json_string(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "a.jsonl.gz", [(5, make_trade())])
    lines = gzip.decompress(path.read_bytes()).splitlines()
    assert orjson.loads(lines[0])["format"] == FORMAT_NAME
    assert orjson.loads(lines[1]) == {"received_ns": RECEIVED_BASE_NS + 5, "text": make_trade()}


def test_more_than_one_write_chunk_round_trips(tmp_path: Path) -> None:
    texts = [make_trade(sequence=n) for n in range(3000)]  # ~800 KB: many 64 KiB chunks
    path = write_recording(tmp_path / "big.jsonl.gz", [(n, text) for n, text in enumerate(texts)])
    assert [frame.text for frame in read_all(path)] == texts


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(st.text(), max_size=5), received=st.integers(min_value=0, max_value=2**63))
def test_any_text_comes_back_byte_for_byte(
    tmp_path_factory: pytest.TempPathFactory, texts: list[str], received: int
) -> None:
    path = tmp_path_factory.mktemp("any") / "a.jsonl.gz"
    with RecordingWriter(path, make_header()) as writer:
        for text in texts:
            writer.write(received, text)
    assert [frame.text.encode() for frame in read_all(path)] == [text.encode() for text in texts]


def test_close_is_idempotent(tmp_path: Path) -> None:
    writer = RecordingWriter(tmp_path / "a.jsonl.gz", make_header())
    writer.close()
    writer.close()
    assert read_all(tmp_path / "a.jsonl.gz") == []


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("ws://127.0.0.1:8765/v1/", "ws://127.0.0.1:8765/v1/"),
        ("wss://ws.coinapi.io/v1/?apikey=SECRET", "wss://ws.coinapi.io/v1/"),
        ("wss://ws.coinapi.io/v1/?x=1&APIKEY=SECRET", "wss://ws.coinapi.io/v1/?x=1"),
        ("wss://ws.coinapi.io/v1/APIKEY-SECRET", "wss://ws.coinapi.io/v1"),
        ("wss://coinapi:SECRET@ws.coinapi.io/", "wss://ws.coinapi.io/"),
    ],
    ids=["no-key", "query", "query-kept-others", "path-segment", "user-info"],
)
def test_redact_url_drops_every_key_form(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


def test_redact_hello_drops_only_the_key() -> None:
    hello = {"type": "hello", "apikey": "SECRET", "heartbeat": False}
    assert redact_hello(hello) == {"type": "hello", "heartbeat": False}


# -- bad files ------------------------------------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match=r"cannot open recording .*nope\.jsonl\.gz"):
        RecordingReader(tmp_path / "nope.jsonl.gz")


def test_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "plain.jsonl"
    path.write_bytes(HEADER_LINE + b"\n")
    with pytest.raises(RecordingError, match="is not a readable gzip file"):
        RecordingReader(path)


def test_empty(tmp_path: Path) -> None:
    with pytest.raises(RecordingError, match="is empty"):
        RecordingReader(write_lines(tmp_path / "empty.jsonl.gz"))


def test_not_a_recording(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "other.jsonl.gz", b'{"some":"json"}\n')
    with pytest.raises(RecordingError, match="is not a coinapi-emulator recording"):
        RecordingReader(path)


def test_wrong_version(tmp_path: Path) -> None:
    header = orjson.dumps({"format": FORMAT_NAME, "version": 2, "source_url": "", "hello": {}, "start_time_ns": 1})
    path = write_lines(tmp_path / "v2.jsonl.gz", header + b"\n")
    with pytest.raises(RecordingError, match="format version 2; this coinapi-emulator reads version 1"):
        RecordingReader(path)


def test_header_missing_fields(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "h.jsonl.gz", orjson.dumps({"format": FORMAT_NAME, "version": 1}) + b"\n")
    with pytest.raises(RecordingError, match="line 1: the header needs source_url"):
        RecordingReader(path)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"{not json", "line 2 is not valid JSON"),
        (b"[1, 2]", "line 2 is not a JSON object"),
        (b'{"received_ns": 1}', 'line 2: expected {"received_ns": <integer>, "text": <string>}'),
        (b'{"received_ns": true, "text": "x"}', "line 2: expected"),
        (b'{"received_ns": "1", "text": "x"}', "line 2: expected"),
    ],
    ids=["not-json", "not-object", "no-text", "bool-time", "string-time"],
)
def test_bad_frame_line_names_the_line(tmp_path: Path, line: bytes, message: str) -> None:
    path = write_lines(tmp_path / "bad.jsonl.gz", HEADER_LINE + b"\n", line + b"\n")
    with pytest.raises(RecordingError, match=message.replace("{", r"\{").replace("}", r"\}")):
        read_all(path)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    path = write_recording(tmp_path / "a.jsonl.gz", [(n, make_trade(sequence=n)) for n in range(500)])
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RecordingError, match=r"cut\.jsonl\.gz is truncated after line"):
        read_all(cut)


def test_last_line_without_newline_is_truncated(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.jsonl.gz", HEADER_LINE + b"\n", b'{"received_ns": 1, "text": "x"}')
    with pytest.raises(RecordingError, match="truncated in line 2"):
        read_all(path)


def test_recording_error_is_a_value_error() -> None:
    # ``serve`` turns ValueError from loading settings into exit code 2 with the message.
    assert issubclass(RecordingError, ValueError)
