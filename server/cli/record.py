"""``coinapi-emulator record``: the command line of ``server/replay/recorder.py``.

Exit codes: 0 stopped as asked (or the server closed), 1 the server sent an ``error`` or could not be reached,
2 bad arguments.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import click
import orjson
from websockets.exceptions import InvalidHandshake, InvalidURI

from coinapi_emulator.server.cli.options import env_option, file_option, recording_out_option
from coinapi_emulator.server.replay.recorder import (
    DEFAULT_URL,
    Progress,
    RecordOptions,
    StopReason,
    record,
    status_line,
)
from coinapi_emulator.server.replay.recording import redact_url


def _hello(text: str | None, file: Path | None) -> dict[str, Any]:
    if (text is None) == (file is None):
        raise click.UsageError("give exactly one of --hello and --hello-file")
    source, raw = ("--hello", text) if text is not None else (f"--hello-file {file}", _read(file))
    try:
        hello = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise click.UsageError(f"{source} is not valid JSON: {error}") from None
    if not isinstance(hello, dict):
        raise click.UsageError(f'{source} must be a JSON object such as {{"type":"hello",...}}')
    return hello


def _read(file: Path | None) -> str:
    assert file is not None
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise click.UsageError(f"cannot read --hello-file {file}: {error}") from None


def _url(ctx: click.Context, param: click.Parameter, value: str) -> str:
    if not value.startswith(("ws://", "wss://")):
        raise click.BadParameter(f"{value!r} is not a ws:// or wss:// URL", ctx, param)
    return value


@click.command("record")
@env_option("--url", default=DEFAULT_URL, callback=_url, help="WebSocket URL of the emulator or of CoinAPI.")
@env_option("--hello", default=None, help="The first message to send, as JSON (or use --hello-file).")
@file_option("--hello-file", help="A file holding the first message.")
@env_option("--api-key", default=None, help="Sent as the X-CoinAPI-Key upgrade header; never written to the recording.")
@recording_out_option
@env_option(
    "--duration",
    default=None,
    type=click.FloatRange(min=0, min_open=True),
    help="Stop after this many seconds. Default: until Ctrl-C or the server closes.",
)
@env_option(
    "--max-messages", default=None, type=click.IntRange(min=1), help="Stop after this many messages. Default: no limit."
)
def record_command(**options: Any) -> None:
    """Record a CoinAPI-compatible stream (this emulator's or the real feed's) to a compressed JSON-lines file."""
    record_options = RecordOptions(
        url=options["url"],
        hello=_hello(options["hello"], options["hello_file"]),
        out=options["out"],
        api_key=options["api_key"],
        duration_s=options["duration"],
        max_messages=options["max_messages"],
    )
    url = redact_url(record_options.url)
    try:
        result = asyncio.run(record(record_options, Progress(sys.stderr)))
    except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as error:
        raise click.ClickException(f"cannot record from {url}: {error}") from None
    except KeyboardInterrupt:  # Ctrl-C while connecting, before the recording's own handler is in place
        raise click.Abort() from None
    detail = f" ({result.detail})" if result.detail and result.stop is not StopReason.SERVER_ERROR else ""
    click.echo(
        f"recorded {status_line(result.messages, result.text_bytes, result.elapsed_s)} to {record_options.out}: "
        f"{result.stop.value}{detail}",
        err=True,
    )
    if result.stop is StopReason.SERVER_ERROR:
        raise click.ClickException(f"the server sent an error: {result.detail}")
