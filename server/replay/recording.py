"""Recording files: the one module that knows their format. Written by ``record``, read by ``replay``.

A recording is gzip-compressed JSON lines, UTF-8, one JSON object per line:

* line 1, the header: ``{"format": "coinapi-emulator-recording", "version": 1, "source_url": "ws://...",
  "hello": {...}, "start_time_ns": 1704067200000000000}``. ``source_url`` and ``hello`` never hold the API key
  (see ``redact_url``/``redact_hello``); ``start_time_ns`` is the recorder's wall clock when it connected.
* then one line per received message, in receive order: ``{"received_ns": 1704067200123456789, "text": "..."}``.
  ``received_ns`` is the wall clock (ns since the epoch) when the recorder read the message; ``text`` is the
  message exactly as received, as a JSON string, so ``text.encode()`` gives back the original bytes.

Both sides stream: the writer buffers about 64 KiB before compressing, the reader decompresses line by line,
and neither ever holds a whole file. Anything that is not such a file (not gzip, cut short, a line that is
not one of the two shapes, another format version) raises ``RecordingError`` naming the file and the line.
It subclasses ``ValueError`` so that ``coinapi-emulator serve`` reports it like any other bad setting
(exit code 2 with the message).
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeGuard
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson

from coinapi_emulator.server.protocol.keys import KEY_PATH_PREFIX, KEY_QUERY_NAMES

FORMAT_NAME: Final = "coinapi-emulator-recording"
FORMAT_VERSION: Final = 1

#: compressed output is flushed to the gzip stream in chunks of about this many bytes
_WRITE_CHUNK_BYTES: Final = 64 * 1024
#: query parameters and path segments that carry an API key (PROTOCOL.md §1.3)

JsonObject = dict[str, Any]


class RecordingError(ValueError):
    """A file that is not a readable recording; the text names the file and, where it helps, the line."""


@dataclass(frozen=True, slots=True)
class RecordingHeader:
    """The first line of a recording."""

    #: where the messages came from, without any API key
    source_url: str
    #: the first message the recorder sent, without ``apikey``
    hello: JsonObject
    #: wall clock when the recorder connected, ns since the epoch
    start_time_ns: int
    version: int = FORMAT_VERSION


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """One recorded message."""

    #: wall clock when the recorder read the message, ns since the epoch
    received_ns: int
    #: the message's text exactly as received
    text: str


def redact_url(url: str) -> str:
    """``url`` without an API key: drops user info, ``apikey``-style query parameters and ``/APIKEY-...`` segments."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k.lower() not in KEY_QUERY_NAMES]
    )
    segments = [segment for segment in parts.path.split("/") if not segment.startswith(KEY_PATH_PREFIX)]
    return urlunsplit((parts.scheme, netloc, "/".join(segments), query, ""))


def redact_hello(hello: Mapping[str, Any]) -> JsonObject:
    """``hello`` without its ``apikey`` field (the key is never written to a recording)."""
    return {name: value for name, value in hello.items() if name != "apikey"}


class RecordingWriter:
    """Writes a new recording: the header at once, then ``write`` per message; ``close`` ends the gzip stream.

    Use it as a context manager so that the file is complete (readable to the end) however recording stops.
    """

    def __init__(self, path: Path, header: RecordingHeader, *, compresslevel: int = 6) -> None:
        self.path = path
        self._file = gzip.open(path, "wb", compresslevel=compresslevel)  # noqa: SIM115 (closed in close())
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.messages = 0
        self._append(
            orjson.dumps(
                {
                    "format": FORMAT_NAME,
                    "version": header.version,
                    "source_url": header.source_url,
                    "hello": header.hello,
                    "start_time_ns": header.start_time_ns,
                }
            )
        )

    def write(self, received_ns: int, text: str) -> None:
        """Append one message received at ``received_ns`` (wall clock, ns since the epoch)."""
        self._append(orjson.dumps({"received_ns": received_ns, "text": text}))
        self.messages += 1

    def _append(self, line: bytes) -> None:
        self._pending.append(line)
        self._pending.append(b"\n")
        self._pending_bytes += len(line) + 1
        # One compress call per ~64 KiB instead of per message: gzip's per-call overhead dominates small writes.
        if self._pending_bytes >= _WRITE_CHUNK_BYTES:
            self._flush()

    def _flush(self) -> None:
        self._file.write(b"".join(self._pending))
        self._pending.clear()
        self._pending_bytes = 0

    def close(self) -> None:
        """Write what is buffered and finish the gzip stream (idempotent)."""
        if self._file.closed:
            return
        self._flush()
        self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


class RecordingReader:
    """Reads a recording: ``header`` is parsed on open, iterating yields the messages, one line at a time.

    Raises ``RecordingError`` on open for a file that is missing, not gzip or has a bad header, and while
    iterating at the first bad line or where the file is cut short. Iterate once; use it as a context manager.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self._file = gzip.open(path, "rb")  # noqa: SIM115 (closed in close())
        except OSError as error:
            raise RecordingError(f"cannot open recording {path}: {error.strerror or error}") from error
        self._line_number = 0
        try:
            self.header = self._read_header()
        except BaseException:
            self.close()
            raise

    def _read_header(self) -> RecordingHeader:
        line = self._next_line()
        if line is None:
            raise RecordingError(f"{self.path} is empty: a recording starts with a header line")
        fields = self._parse(line)
        if fields.get("format") != FORMAT_NAME:
            raise RecordingError(f"{self.path} is not a coinapi-emulator recording (no {FORMAT_NAME!r} header)")
        version = fields.get("version")
        if version != FORMAT_VERSION:
            raise RecordingError(
                f"{self.path} has recording format version {version!r}; "
                f"this coinapi-emulator reads version {FORMAT_VERSION}"
            )
        source_url, hello, start_time_ns = fields.get("source_url"), fields.get("hello"), fields.get("start_time_ns")
        if not isinstance(source_url, str) or not isinstance(hello, dict) or not _is_int(start_time_ns):
            raise RecordingError(
                f"{self.path} line 1: the header needs source_url (string), hello (object) and start_time_ns (integer)"
            )
        return RecordingHeader(source_url=source_url, hello=hello, start_time_ns=start_time_ns, version=version)

    def __iter__(self) -> Iterator[ReceivedMessage]:
        while (line := self._next_line()) is not None:
            fields = self._parse(line)
            received_ns, text = fields.get("received_ns"), fields.get("text")
            if not _is_int(received_ns) or not isinstance(text, str):
                raise RecordingError(
                    f'{self.path} line {self._line_number}: expected {{"received_ns": <integer>, "text": <string>}}'
                )
            yield ReceivedMessage(received_ns, text)

    def _next_line(self) -> bytes | None:
        """The next line without its newline, or None at the end of the file."""
        try:
            line = self._file.readline()
        except EOFError as error:
            raise RecordingError(
                f"{self.path} is truncated after line {self._line_number} (the recorder did not finish writing it)"
            ) from error
        except (OSError, zlib.error) as error:  # gzip.BadGzipFile is an OSError
            raise RecordingError(f"{self.path} is not a readable gzip file: {error}") from error
        if not line:
            return None
        self._line_number += 1
        if not line.endswith(b"\n"):
            raise RecordingError(f"{self.path} is truncated in line {self._line_number} (no end of line)")
        return line

    def _parse(self, line: bytes) -> JsonObject:
        try:
            fields = orjson.loads(line)
        except orjson.JSONDecodeError as error:
            raise RecordingError(f"{self.path} line {self._line_number} is not valid JSON: {error}") from error
        if not isinstance(fields, dict):
            raise RecordingError(f"{self.path} line {self._line_number} is not a JSON object")
        return fields

    def close(self) -> None:
        """Close the file (idempotent)."""
        self._file.close()

    def __enter__(self) -> RecordingReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()


def _is_int(value: object) -> TypeGuard[int]:
    # bool is an int subclass; true/false is never a valid time.
    return isinstance(value, int) and not isinstance(value, bool)
