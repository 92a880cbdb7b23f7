"""Frame injection: a test sends any text frame, or any CoinAPI message built from a type and fields, to one
connection or to all of them (admin ``POST /admin/inject``).

An injected frame joins the connection's stream where it is when injected: after what was queued before, before
what comes next (``Hub.send``). A message built from fields gets ``type`` first, then the fields as given, then
what the test left out of a market message and the emulator can fill in: ``time_exchange`` and ``time_coinapi``
(the connection's virtual now) and a trade's ``uuid``. Nothing else is checked: a test may want a wrong message.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.encode import format_time

#: the ``type`` values of the messages the server sends (PROTOCOL.md §3): a built message must have one of them
MESSAGE_TYPES: Final = (*(data_type.value for data_type in DataType), "hearbeat", "error", "reconnect")
#: the types stamped with ``time_exchange`` and ``time_coinapi`` when the test gives none
_STAMPED: Final = frozenset(t.value for t in DataType if t.is_symbol_stream and t is not DataType.OHLCV)
_FIELDS: Final = frozenset({"connections", "text", "message"})


class InjectionError(ValueError):
    """An injection request that cannot be carried out; the text says why."""


@dataclass(frozen=True, slots=True)
class Injection:
    """One validated injection: either ``text`` as it is, or ``message`` built by ``payload``."""

    #: connection ids to send to (the admin API's); empty = every connection
    connections: frozenset[int] = frozenset()
    text: str | None = None
    #: the message's fields, ``type`` among them
    message: Mapping[str, Any] = field(default_factory=dict)

    def payload(self, now_ns: int) -> bytes:
        """The frame's bytes for a connection whose virtual time is ``now_ns``."""
        if self.text is not None:
            return self.text.encode()
        fields = dict(self.message)
        message_type = fields.pop("type")
        if message_type in _STAMPED:
            stamp = format_time(now_ns)
            fields.setdefault("time_exchange", stamp)
            fields.setdefault("time_coinapi", stamp)
        if message_type == "trade":
            fields.setdefault("uuid", str(uuid.uuid4()))
        return orjson.dumps({"type": message_type, **fields})


def parse_injection(body: Mapping[str, Any]) -> Injection:
    """Validate ``{"text": "..."}`` or ``{"message": {"type": ..., ...}}``, with optional ``connections``."""
    unknown = sorted(set(body) - _FIELDS)
    if unknown:
        raise InjectionError(f"unknown field(s) {', '.join(unknown)}: expected text or message, and connections")
    connections = _connections(body.get("connections", []))
    text, message = body.get("text"), body.get("message")
    if (text is None) == (message is None):
        raise InjectionError("give exactly one of 'text' (a frame sent as it is) and 'message' (type and fields)")
    if text is not None:
        if not isinstance(text, str):
            raise InjectionError("'text' must be a string: the text frame to send")
        return Injection(connections, text=text)
    if not isinstance(message, dict):
        raise InjectionError("'message' must be an object: the message's type and fields")
    if message.get("type") not in MESSAGE_TYPES:
        raise InjectionError(f"'message' needs a 'type', one of {', '.join(MESSAGE_TYPES)} (or send it as 'text')")
    return Injection(connections, message=message)


def _connections(value: object) -> frozenset[int]:
    if not isinstance(value, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        raise InjectionError("'connections' must be a list of connection ids (GET /admin/status lists them)")
    return frozenset(value)
