"""Logging for ``serve``: uvicorn's setup extended to this package, in text or JSON lines, with API keys redacted.

``--log-format json`` writes one JSON object a line (python-json-logger) for log shippers such as Loki, Fluent Bit
or CloudWatch: ``time``, ``level``, ``logger`` and ``message`` on every line, and on access lines the request's
parts as fields of their own (``client``, ``method``, ``path``, ``http_version``, ``status``).
"""

from __future__ import annotations

import copy
import logging
from typing import Any, Final

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.orjson import OrjsonFormatter
from uvicorn.config import LOGGING_CONFIG

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.protocol.keys import redact

#: the loggers of this package, configured beside uvicorn's
PACKAGE_LOGGER: Final = "coinapi_emulator"
#: uvicorn's access line arguments, in the order its formatter takes them
_ACCESS_FIELDS: Final = ("client", "method", "path", "http_version", "status")


class RedactKeys(logging.Filter):
    """Replaces the API keys in a log line with ``***``: uvicorn's access and upgrade lines quote the request target
    (``?apikey=``, ``/APIKEY-``), and at debug level the WebSocket library logs handshake headers and messages."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.access" and isinstance(record.args, tuple):
            # its formatter takes the request's parts from ``args``; the target is one of them
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        else:
            # a header's name and value may be two arguments: the whole line is redacted
            record.msg, record.args = redact(record.getMessage()), None
        return True


class JsonLinesFormatter(OrjsonFormatter):
    """One JSON object a line; an access line also carries the request's parts as fields."""

    def __init__(self) -> None:
        super().__init__(
            "%(levelname)s %(name)s %(message)s",
            timestamp="time",
            rename_fields={"levelname": "level", "name": "logger"},
            # uvicorn adds a coloured copy of some messages for its terminal formatter
            reserved_attrs=[*RESERVED_ATTRS, "color_message"],
        )

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]) -> None:
        super().add_fields(log_data, record, message_dict)
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            log_data.update(zip(_ACCESS_FIELDS, record.args, strict=True))


def log_config(settings: Settings) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` for ``settings``: its level, format and access log."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_keys": {"()": RedactKeys}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact_keys"]
    if settings.log_format == "json":
        config["formatters"] = {name: {"()": JsonLinesFormatter} for name in config["formatters"]}
    level = settings.log_level.upper() if settings.log_level != "trace" else "DEBUG"
    config["loggers"][PACKAGE_LOGGER] = {"handlers": ["default"], "level": level, "propagate": False}
    return config
