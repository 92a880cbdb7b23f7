"""Import: market-data files of other sources made into one recording, so that ``serve --replay`` streams them.

``import_files`` opens each file (``.csv``, ``.csv.gz``, or a ``.zip`` holding one ``.csv``), tells its source from
its first row and name (``formats/``: Tardis.dev, data.binance.vision, CoinAPI flat files and JSON), merges every file's
messages by the time they were received, numbers each (type, symbol) stream from 1 as the real service would for
a client that got all of it, and writes the recording (``recording.py``) with those times as the pacing. Nothing
is held in memory but one message a file: a day of a busy symbol's book streams through.

Every file is read once for the format before anything is written, so that a file of an unknown format fails
before the output is touched; a bad row fails the import with its file and line (``ImportFailed``) and removes
the half-written output.
"""

from __future__ import annotations

import csv
import gzip
import heapq
import io
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import IO, cast

import orjson

from coinapi_emulator.server.replay.formats import binance, coinapi, coinapi_json, tardis
from coinapi_emulator.server.replay.formats.rows import Imported, ImportFailed, SymbolNames
from coinapi_emulator.server.replay.recording import RecordingHeader, RecordingWriter

__all__ = ["ImportFailed", "ImportSummary", "import_files"]


@dataclass(slots=True)
class ImportSummary:
    """What an import wrote."""

    #: messages written per ``type``
    messages: Counter[str] = field(default_factory=Counter)
    symbols: set[str] = field(default_factory=set)
    #: rows left out, by reason
    skipped: Counter[str] = field(default_factory=Counter)
    first_ns: int | None = None
    last_ns: int | None = None

    def line(self) -> str:
        """One line for people: the counts, the symbols, the span, what was skipped."""
        counts = ", ".join(f"{count:,} {name}" for name, count in sorted(self.messages.items()))
        span = 0.0 if self.first_ns is None or self.last_ns is None else (self.last_ns - self.first_ns) / 1e9
        text = f"{sum(self.messages.values()):,} messages ({counts or 'none'}) of {len(self.symbols)} symbols"
        text += f" over {span:,.1f} s"
        if self.skipped:
            text += "; skipped " + ", ".join(f"{count:,} {reason}" for reason, count in sorted(self.skipped.items()))
        return text


@dataclass(frozen=True, slots=True)
class _Source:
    """One opened input: its format's messages and the types they have."""

    messages: Iterator[Imported]
    data_types: list[str]


def import_files(paths: Sequence[Path], out: Path, names: SymbolNames) -> ImportSummary:
    """Write the recording ``out`` from the files ``paths``; ``ImportFailed`` for a file that cannot be read."""
    summary = ImportSummary()
    with ExitStack() as files:
        sources = [_open_source(path, files, names, summary.skipped) for path in paths]
        merged = heapq.merge(*(source.messages for source in sources), key=_received_ns)
        first = next(merged, None)
        if first is None:
            raise ImportFailed(f"nothing to import: no row in {', '.join(str(path) for path in paths)}")
        data_types = sorted({data_type for source in sources for data_type in source.data_types})
        header = RecordingHeader(
            source_url="import:" + ",".join(path.name for path in paths),
            hello={"type": "hello", "subscribe_data_type": data_types},
            start_time_ns=first.received_ns,
        )
        try:
            with RecordingWriter(out, header) as writer:
                _write(writer, chain([first], merged), summary)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
    return summary


def _write(writer: RecordingWriter, messages: Iterator[Imported], summary: ImportSummary) -> None:
    sequences: Counter[tuple[str, str]] = Counter()
    for message in messages:
        if message.verbatim is not None:
            writer.write(message.received_ns, message.verbatim)
        else:
            stream = (message.data_type, message.symbol_id)
            sequences[stream] += 1
            head = {"type": message.data_type, "symbol_id": message.symbol_id, "sequence": sequences[stream]}
            writer.write(message.received_ns, orjson.dumps(head | dict(message.fields)).decode())
        summary.messages[message.data_type] += 1
        if message.symbol_id:
            summary.symbols.add(message.symbol_id)
        if summary.first_ns is None:
            summary.first_ns = message.received_ns
        summary.last_ns = message.received_ns


def _received_ns(message: Imported) -> int:
    return message.received_ns


def _open_source(path: Path, files: ExitStack, names: SymbolNames, skipped: Counter[str]) -> _Source:
    """The file's reader, by its first row and name; ``ImportFailed`` for a file of no format read here."""
    text, name = _open_text(path, files)
    lines = _lines(text, path)
    first_line = next(lines, "")
    if not first_line:
        return _Source(iter(()), [])  # an empty file: Tardis serves one for a day without data
    if coinapi_json.matches(first_line):
        return _Source(coinapi_json.read(first_line, lines, name, skipped), [])
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    rows = csv.reader(chain([first_line], lines), delimiter=delimiter)
    first_row = next(rows)
    if tardis.matches(first_row):
        return _Source(tardis.read(rows, first_row, name, names, skipped), tardis.data_types(first_row))
    if coinapi.matches(first_row):
        return _Source(coinapi.read(rows, first_row, name, names), coinapi.data_types(first_row))
    if binance.matches(name):
        return _Source(binance.read(rows, first_row, name, names), ["trade"])
    raise ImportFailed(
        f"{path}: not a file this command reads (Tardis.dev CSV, a data.binance.vision trades or aggTrades file, "
        f"a CoinAPI flat file of trades or quotes, CoinAPI JSON); its first line: {first_line[:100].rstrip()!r}"
    )


def _open_text(path: Path, files: ExitStack) -> tuple[IO[str], str]:
    """The file's text (gzip and zip undone) and the name its rows are reported under."""
    try:
        if path.suffix == ".zip":
            archive = files.enter_context(zipfile.ZipFile(path))
            members = [member for member in archive.namelist() if member.endswith(".csv")]
            if len(members) != 1:
                raise ImportFailed(f"{path}: a zip file must hold exactly one .csv, this one holds {len(members)}")
            raw: IO[bytes] = files.enter_context(archive.open(members[0]))
            name = members[0]
        else:
            raw = files.enter_context(_open_bytes(path))
            name = path.name
        text = files.enter_context(io.TextIOWrapper(raw, encoding="utf-8", newline=""))
    except (OSError, zipfile.BadZipFile) as error:
        raise ImportFailed(f"cannot read {path}: {error}") from None
    return text, name


def _open_bytes(path: Path) -> IO[bytes]:
    """The file's bytes, gunzipped if its name ends in ``.gz``."""
    # a GzipFile is an IO[bytes] at run time; typeshed declares it only a BufferedIOBase
    return cast(IO[bytes], gzip.open(path)) if path.suffix == ".gz" else path.open("rb")


def _lines(text: IO[str], path: Path) -> Iterator[str]:
    """The file's lines; one that is not gzip, cut short or not UTF-8 ends the import with ``ImportFailed``."""
    while True:
        try:
            line = text.readline()
        except (OSError, EOFError, UnicodeDecodeError) as error:
            raise ImportFailed(f"cannot read {path}: {error}") from None
        if not line:
            return
        yield line
