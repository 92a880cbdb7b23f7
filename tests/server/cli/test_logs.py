"""``--log-format json`` and ``--no-access-log`` without a server: the formatter's lines and the logging setup."""

from __future__ import annotations

import logging
import logging.config

import orjson
import pytest

from coinapi_emulator.server.cli.logs import PACKAGE_LOGGER, JsonLinesFormatter, RedactKeys, log_config
from coinapi_emulator.server.config import Settings

ACCESS_ARGS = ("1.2.3.4:5", "GET", "/v1/exchanges?apikey=SECRET", "1.1", 200)


def _record(name: str, message: str, args: tuple[object, ...] | None = None, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord(name, logging.INFO, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


def test_a_json_line_has_time_level_logger_and_message_and_no_terminal_colours() -> None:
    record = _record("uvicorn.error", "Started server process [%d]", (7,), color_message="\x1b[1mStarted\x1b[0m")
    line = orjson.loads(JsonLinesFormatter().format(record))
    assert set(line) == {"time", "level", "logger", "message"}
    assert (line["level"], line["logger"], line["message"]) == ("INFO", "uvicorn.error", "Started server process [7]")
    assert line["time"].endswith("+00:00")


def test_an_access_line_carries_the_request_as_fields_with_keys_redacted() -> None:
    record = _record("uvicorn.access", '%s - "%s %s HTTP/%s" %d', ACCESS_ARGS)
    assert RedactKeys().filter(record)
    line = orjson.loads(JsonLinesFormatter().format(record))
    assert line["message"] == '1.2.3.4:5 - "GET /v1/exchanges?apikey=*** HTTP/1.1" 200'
    assert {key: line[key] for key in ("client", "method", "path", "http_version", "status")} == {
        "client": "1.2.3.4:5",
        "method": "GET",
        "path": "/v1/exchanges?apikey=***",
        "http_version": "1.1",
        "status": 200,
    }


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_setup_covers_uvicorn_and_this_package_with_keys_redacted(log_format: str) -> None:
    config = log_config(Settings(log_format=log_format, log_level="trace"))  # type: ignore[arg-type]
    formatters = {spec.get("()") for spec in config["formatters"].values()}
    assert (JsonLinesFormatter in formatters) == (log_format == "json")
    assert all(handler["filters"] == ["redact_keys"] for handler in config["handlers"].values())
    assert config["loggers"][PACKAGE_LOGGER]["level"] == "DEBUG"  # uvicorn's "trace" is finer than logging knows
    logging.config.dictConfig(config)  # a valid configuration
