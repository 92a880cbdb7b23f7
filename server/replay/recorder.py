"""Recording a CoinAPI-compatible WebSocket stream to a file (``recording.py``); ``coinapi-emulator record`` runs it.

Connects with the websockets asyncio client (the API key, if given, goes in the ``X-CoinAPI-Key`` upgrade
header and never into the file), sends one hello, then writes every message with its receive time until one of:
``--duration`` has passed, ``--max-messages`` messages arrived, the server closed the connection, the server
sent an ``error`` message (recorded, then exit code 1 with its message), or Ctrl-C / SIGTERM. The file is
complete and readable whichever way the recording stops. Progress goes to stderr: one updating line on a
terminal, a line every few seconds otherwise.

The command (``server/cli/record.py``) exits 0 when it stopped as asked (or the server closed), 1 when the server
sent an ``error`` or could not be reached, 2 for bad arguments.
"""

from __future__ import annotations

import asyncio
import enum
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from coinapi_emulator.server.replay.recording import RecordingHeader, RecordingWriter, redact_hello, redact_url

DEFAULT_URL: Final = "ws://127.0.0.1:8765/v1/"
#: seconds between two progress lines when stderr is not a terminal, and between redraws when it is
LOG_INTERVAL_S: Final = 5.0
TTY_INTERVAL_S: Final = 0.25
_CLOSE_TIMEOUT_S: Final = 3.0
_OPEN_TIMEOUT_S: Final = 10.0
#: messages the client buffers before it stops reading the socket (websockets' default of 16 is for apps)
_MAX_QUEUE: Final = 4096


class StopReason(enum.Enum):
    """Why a recording ended."""

    DURATION = "duration reached"
    MAX_MESSAGES = "message limit reached"
    INTERRUPTED = "interrupted"
    SERVER_CLOSED = "server closed the connection"
    SERVER_ERROR = "server sent an error"


@dataclass(frozen=True, slots=True)
class RecordOptions:
    """What to record and when to stop."""

    url: str
    #: the first message, as a JSON object (sent as given, ``apikey`` included; written without it)
    hello: dict[str, Any]
    out: Path
    #: sent as the ``X-CoinAPI-Key`` upgrade header
    api_key: str | None = None
    duration_s: float | None = None
    max_messages: int | None = None


@dataclass(frozen=True, slots=True)
class RecordResult:
    """How a recording went."""

    messages: int
    #: characters of message text received (CoinAPI messages are ASCII, so this is also bytes)
    text_bytes: int
    elapsed_s: float
    stop: StopReason
    #: close code and reason (server close) or the text of the ``error`` message (server error)
    detail: str = ""


class Progress:
    """Messages, MB, msgs/s and elapsed time on ``stream``: a redrawn line on a terminal, else a line per interval."""

    def __init__(self, stream: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._interval_s = TTY_INTERVAL_S if self._tty else LOG_INTERVAL_S
        self._clock = clock
        self._start_s = clock()
        self._next_s = self._start_s + self._interval_s
        self._drawn = False

    def started(self, url: str, out: Path) -> None:
        """Say that recording has begun (once connected, with Ctrl-C handled)."""
        self._stream.write(f"recording {url} to {out} (Ctrl-C to stop)\n")
        self._stream.flush()

    def due(self) -> bool:
        """Whether it is time for the next update (cheap: call it per message)."""
        return self._clock() >= self._next_s

    def update(self, messages: int, text_bytes: int) -> None:
        """Show the current counts."""
        now_s = self._clock()
        self._next_s = now_s + self._interval_s
        line = status_line(messages, text_bytes, now_s - self._start_s)
        if self._tty:
            self._stream.write(f"\r{line}\x1b[K")
            self._drawn = True
        else:
            self._stream.write(line + "\n")
        self._stream.flush()

    def finish(self) -> None:
        """End the redrawn line, so that what follows starts on its own line."""
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False


def status_line(messages: int, text_bytes: int, elapsed_s: float) -> str:
    """Messages, MB, msgs/s and elapsed time in one line."""
    rate = messages / elapsed_s if elapsed_s > 0 else 0.0
    return f"{messages:,} messages, {text_bytes / 1e6:.1f} MB, {rate:,.0f} msgs/s, {elapsed_s:.1f} s"


class _StopSignals:
    """Ctrl-C / SIGTERM cancel the recording task, which then ends the recording cleanly."""

    def __init__(self) -> None:
        self.requested = False
        self._installed: list[signal.Signals] = []

    def install(self, task: asyncio.Task[Any]) -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(signum, self._stop, task)
            except (NotImplementedError, RuntimeError):  # not on this platform / not the main thread
                continue
            self._installed.append(signum)

    def _stop(self, task: asyncio.Task[Any]) -> None:
        self.requested = True
        task.cancel()

    def uninstall(self) -> None:
        loop = asyncio.get_running_loop()
        for signum in self._installed:
            loop.remove_signal_handler(signum)


async def record(
    options: RecordOptions, progress: Progress | None = None, *, epoch_ns: Callable[[], int] = time.time_ns
) -> RecordResult:
    """Record until a stop condition (module docstring).

    Raises ``OSError``, ``TimeoutError`` or websockets' ``InvalidHandshake`` when it cannot connect.
    """
    headers = {"X-CoinAPI-Key": options.api_key} if options.api_key else None
    started_s = time.monotonic()
    async with connect(
        options.url,
        additional_headers=headers,
        open_timeout=_OPEN_TIMEOUT_S,
        close_timeout=_CLOSE_TIMEOUT_S,
        max_size=None,
        max_queue=_MAX_QUEUE,
    ) as ws:
        header = RecordingHeader(
            source_url=redact_url(options.url), hello=redact_hello(options.hello), start_time_ns=epoch_ns()
        )
        with RecordingWriter(options.out, header) as writer:
            await ws.send(orjson.dumps(options.hello).decode())
            stop, detail, text_bytes = await _receive(ws, writer, options, progress, epoch_ns)
    if progress is not None:
        progress.finish()
    return RecordResult(writer.messages, text_bytes, time.monotonic() - started_s, stop, detail)


async def _receive(
    ws: ClientConnection,
    writer: RecordingWriter,
    options: RecordOptions,
    progress: Progress | None,
    epoch_ns: Callable[[], int],
) -> tuple[StopReason, str, int]:
    """Write messages until a stop condition; (why it stopped, detail, characters received)."""
    signals = _StopSignals()
    task = asyncio.current_task()
    assert task is not None
    signals.install(task)
    if progress is not None:
        progress.started(redact_url(options.url), options.out)
    text_bytes = 0
    max_messages = options.max_messages
    try:
        async with asyncio.timeout(options.duration_s):
            while True:
                message = await ws.recv()
                received_ns = epoch_ns()
                # CoinAPI sends only text frames (PROTOCOL.md top); a binary one is kept as its UTF-8 text.
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                writer.write(received_ns, text)
                text_bytes += len(text)
                if progress is not None and progress.due():
                    progress.update(writer.messages, text_bytes)
                # A cheap substring test first: only a message that could be an error is parsed.
                if "error" in text and (error := _error_message(text)) is not None:
                    return StopReason.SERVER_ERROR, error, text_bytes
                if max_messages is not None and writer.messages >= max_messages:
                    return StopReason.MAX_MESSAGES, "", text_bytes
    except TimeoutError:
        return StopReason.DURATION, "", text_bytes
    except ConnectionClosed as closed:
        received = closed.rcvd
        detail = f"code {received.code} {received.reason}".strip() if received is not None else "no close frame"
        return StopReason.SERVER_CLOSED, detail, text_bytes
    except asyncio.CancelledError:
        if not signals.requested:
            raise
        task.uncancel()
        return StopReason.INTERRUPTED, "", text_bytes
    finally:
        signals.uninstall()


def _error_message(text: str) -> str | None:
    """The text of an ``error`` message (PROTOCOL.md §3.11), or None if ``text`` is not one."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(message, dict) or message.get("type") != "error":
        return None
    return str(message.get("message", ""))
