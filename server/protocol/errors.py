"""Every error the server reports to a client, with its wire text and WebSocket close code (PROTOCOL.md §3.11).

This is the one place error messages are encoded: ``ProtocolError.payload()`` gives the ``error`` message and
``close_code`` / ``close_reason`` give the close that follows it (every ``error`` is terminal, §1.4).
session.py and the hub raise these; the endpoint only sends ``payload()`` and closes.

=========================== ===================================================================== =====
class                       message (``{value}`` = client-supplied text, shortened past 64 chars) close
=========================== ===================================================================== =====
InvalidApiKey               ``Invalid API key``  (verbatim, real service)                          1008
SlowConsumer                ``Reached maximum allowed buffered messages for this connection.``     1013
                            (verbatim, real service)
MalformedMessage            ``Malformed message: invalid JSON``                                    1003
                            ``Malformed message: expected a JSON object``
MissingField                ``Missing field '{field}'``                                            1003
InvalidField                ``Invalid field '{field}': expected {expected}``                       1003
UnknownMessageType          ``Unknown message type '{value}': expected hello, subscribe or         1003
                            unsubscribe``
FirstMessageNotHello        ``First message must be hello or subscribe, got '{value}'``            1003
UnknownDataType             ``Unknown data type '{value}'``                                        1003
UnsupportedDataType         ``Data type '{value}' is not streamed by the emulator``                1003
MissingFilter               ``Data type 'book' requires a symbol, exchange or asset filter        1003
                            (or start the emulator with --allow-unfiltered-books)``
                            ``Data type 'exrate' requires subscribe_filter_asset_id``
UnknownFilterValue          ``Unknown value '{value}' in '{field}': it matches nothing in the      1003
                            catalogue``  (strict mode only)
RateLimited                 ``Too many hello messages: rate limit exceeded, retry later`` (fault)  1013
QuotaExceeded               ``API key quota exceeded`` (fault)                                     1008
InjectedError               the fault's own text and code (fault)
MessageTooBig               ``Message too big: {size} characters, at most {limit}``                1009
TooManyFilterValues         ``Too many filter values: {count}, at most {limit}``                   1009
BinaryMessage               ``Binary messages are not accepted: send JSON text``                   1003
TooManyMessages             ``More than {limit} messages a second: rate limit exceeded, retry      1013
                            later``
MarketFailed                ``The market failed and stopped: reconnect``                           1011
HelloTimeout                ``No hello or subscribe within {seconds} s``                           1008
TooManyPrivateMarkets       ``Too many private markets open ({limit}, --max-private-markets): try  1013
                            again later``
=========================== ===================================================================== =====

Only the first two texts are known from the real service; every other text and every close code is an
emulator choice (UNVERIFIED, PROTOCOL.md §10 items 1-2), kept stable because tests assert them.
Close codes: 1008 (policy violation) for a refused key; 1003 for a request the server cannot serve, because
the Java SDK's reconnect handler gives up only on 1003 and resending the same bad request cannot succeed
(PROTOCOL.md §1.4, §9); 1013 (try again later) for a slow consumer, which may well succeed on reconnect.
"""

from __future__ import annotations

from typing import Final, assert_never

import orjson

from coinapi_emulator.server.protocol.datatypes import DataType, FilterRequirement

CLOSE_UNSUPPORTED_DATA: Final = 1003
CLOSE_POLICY_VIOLATION: Final = 1008
CLOSE_MESSAGE_TOO_BIG: Final = 1009
CLOSE_INTERNAL_ERROR: Final = 1011
CLOSE_TRY_AGAIN_LATER: Final = 1013

#: RFC 6455 §5.5: a close frame's payload is at most 125 bytes, 2 of which are the code.
MAX_CLOSE_REASON_BYTES: Final = 123
#: longest client-supplied value echoed in an error text; a client could send megabytes as a data type name
_MAX_SHOWN_CHARS: Final = 64


def _shown(value: str) -> str:
    """A client-supplied value as it appears inside an error text: shortened so a message stays small."""
    if len(value) <= _MAX_SHOWN_CHARS:
        return value
    return value[:_MAX_SHOWN_CHARS] + "..."


class ProtocolError(Exception):
    """Base of all errors sent to a client. ``message`` is the wire text; the session closes with ``close_code``."""

    close_code: int = CLOSE_UNSUPPORTED_DATA

    def __init__(self, message: str) -> None:
        super().__init__(message)
        #: the text sent as ``message`` in the ``error`` message
        self.message = message

    def payload(self) -> bytes:
        """The encoded ``{"type":"error","message":...}`` message for this error."""
        return orjson.dumps({"type": "error", "message": self.message})

    @property
    def close_reason(self) -> str:
        """``message`` cut to fit a WebSocket close frame (123 UTF-8 bytes), never splitting a character."""
        return self.message.encode()[:MAX_CLOSE_REASON_BYTES].decode(errors="ignore")


class InvalidApiKey(ProtocolError):
    """The key is missing, empty or not accepted. Never carries the key itself: keys are not echoed."""

    close_code = CLOSE_POLICY_VIOLATION

    def __init__(self) -> None:
        # Verbatim text of the real service (PROTOCOL.md §1.4).
        super().__init__("Invalid API key")


class SlowConsumer(ProtocolError):
    """The connection's send queue is full (raised by the hub, not by the session)."""

    close_code = CLOSE_TRY_AGAIN_LATER

    def __init__(self, pending_messages: int, pending_bytes: int) -> None:
        # Verbatim text of the real service (PROTOCOL.md §6); the counts are for logs, not for the client.
        super().__init__("Reached maximum allowed buffered messages for this connection.")
        self.pending_messages = pending_messages
        self.pending_bytes = pending_bytes


class MalformedMessage(ProtocolError):
    """The message is not a JSON object. ``detail`` says what was wrong (``invalid JSON``, ...)."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Malformed message: {detail}")  # UNVERIFIED text
        self.detail = detail


class MissingField(ProtocolError):
    """A required field is absent or null (``type``, or ``subscribe_data_type`` of hello/subscribe)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"Missing field '{field}'")  # UNVERIFIED text
        self.field = field


class InvalidField(ProtocolError):
    """A field has the wrong JSON type or value. ``expected`` reads after "expected", e.g. ``a boolean or null``."""

    def __init__(self, field: str, expected: str) -> None:
        super().__init__(f"Invalid field '{field}': expected {expected}")  # UNVERIFIED text
        self.field = field
        self.expected = expected


class UnknownMessageType(ProtocolError):
    """``type`` is a string other than hello, subscribe or unsubscribe."""

    def __init__(self, message_type: str) -> None:
        # UNVERIFIED text
        super().__init__(f"Unknown message type '{_shown(message_type)}': expected hello, subscribe or unsubscribe")
        self.message_type = message_type


class FirstMessageNotHello(ProtocolError):
    """The first message of a connection is not hello or subscribe (PROTOCOL.md §2.2)."""

    def __init__(self, message_type: str) -> None:
        super().__init__(f"First message must be hello or subscribe, got '{_shown(message_type)}'")  # UNVERIFIED text
        self.message_type = message_type


class UnknownDataType(ProtocolError):
    """A ``subscribe_data_type`` entry names no data type (the Java SDK's test sends ``invalid_type``)."""

    def __init__(self, data_type: str) -> None:
        super().__init__(f"Unknown data type '{_shown(data_type)}'")  # UNVERIFIED text
        self.data_type = data_type


class UnsupportedDataType(ProtocolError):
    """A ``subscribe_data_type`` entry names a real data type the emulator does not stream (``volume``, ``ticker``)."""

    def __init__(self, data_type: str) -> None:
        super().__init__(f"Data type '{_shown(data_type)}' is not streamed by the emulator")  # UNVERIFIED text
        self.data_type = data_type


class MissingFilter(ProtocolError):
    """A data type that needs a filter (book types, exrate; PROTOCOL.md §2.3) is in scope without one."""

    def __init__(self, data_type: DataType) -> None:
        self.data_type = data_type
        #: the filter the type needs, as named in the text
        self.which = _required_filter_text(data_type)
        super().__init__(f"Data type '{data_type.value}' requires {self.which}")  # UNVERIFIED text


def _required_filter_text(data_type: DataType) -> str:
    requirement = data_type.filter_requirement
    match requirement:
        case FilterRequirement.INSTRUMENT:
            # The hint matters: CoinAPI's own Python example subscribes book20 without a filter.
            return "a symbol, exchange or asset filter (or start the emulator with --allow-unfiltered-books)"
        case FilterRequirement.ASSET:
            return "subscribe_filter_asset_id"
        case FilterRequirement.NONE:
            raise ValueError(f"data type {data_type.value!r} needs no filter")
        case _:
            assert_never(requirement)


class UnknownFilterValue(ProtocolError):
    """Strict mode only: a filter value matches nothing in the catalogue (by default these pass silently, §2.4)."""

    def __init__(self, field: str, value: str) -> None:
        # UNVERIFIED text
        super().__init__(f"Unknown value '{_shown(value)}' in '{field}': it matches nothing in the catalogue")
        self.field = field
        self.value = value


class RateLimited(ProtocolError):
    """Injected fault: the real service's per-IP hello limit (PROTOCOL.md §6), as an ``error`` and a close."""

    close_code = CLOSE_TRY_AGAIN_LATER

    def __init__(self) -> None:
        # UNVERIFIED text: the real limit is documented only through X-WsHelloPerIpLimit-* headers
        super().__init__("Too many hello messages: rate limit exceeded, retry later")


class QuotaExceeded(ProtocolError):
    """Injected fault: the API key's usage quota is used up."""

    close_code = CLOSE_POLICY_VIOLATION

    def __init__(self) -> None:
        # UNVERIFIED text
        super().__init__("API key quota exceeded")


class InjectedError(ProtocolError):
    """Injected fault: an ``error`` with a text and close code chosen by the test author."""

    def __init__(self, message: str, close_code: int) -> None:
        super().__init__(message)
        self.close_code = close_code


class MarketFailed(ProtocolError):
    """The market plane a connection listens to stopped after repeated failures (it is not coming back)."""

    close_code = CLOSE_INTERNAL_ERROR

    def __init__(self) -> None:
        super().__init__("The market failed and stopped: reconnect")


class MarketUnavailable(ProtocolError):
    """A gateway could not get what a subscription needs from the market's simulator (a book snapshot) in time."""

    close_code = CLOSE_TRY_AGAIN_LATER

    def __init__(self, what: str) -> None:
        super().__init__(f"The market is unavailable ({what}): try again later")


class TooManyPrivateMarkets(ProtocolError):
    """A ``?seed=N`` hello while ``--max-private-markets`` private markets are open."""

    close_code = CLOSE_TRY_AGAIN_LATER

    def __init__(self, limit: int) -> None:
        super().__init__(f"Too many private markets open ({limit}, --max-private-markets): try again later")
        self.limit = limit


class HelloTimeout(ProtocolError):
    """A connection sent no accepted hello or subscribe within ``--hello-timeout`` of its upgrade."""

    close_code = CLOSE_POLICY_VIOLATION

    def __init__(self, seconds: float) -> None:
        super().__init__(f"No hello or subscribe within {seconds:g} s")


class MessageTooBig(ProtocolError):
    """A client message longer than ``--max-message-size`` (one over four times that never gets this far: the
    WebSocket layer refuses it at its frame header with close 1009)."""

    close_code = CLOSE_MESSAGE_TOO_BIG

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"Message too big: {size} characters, at most {limit}")


class TooManyFilterValues(ProtocolError):
    """A message with more ``subscribe_filter_*`` entries in all than ``--max-filter-values``."""

    close_code = CLOSE_MESSAGE_TOO_BIG

    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"Too many filter values: {count}, at most {limit}")


class BinaryMessage(ProtocolError):
    """A binary WebSocket message: CoinAPI's messages are JSON text (RFC 6455 close 1003, unsupported data)."""

    def __init__(self) -> None:
        super().__init__("Binary messages are not accepted: send JSON text")


class TooManyMessages(ProtocolError):
    """More client messages in one second than ``--max-messages-per-second``."""

    close_code = CLOSE_TRY_AGAIN_LATER

    def __init__(self, limit: int) -> None:
        super().__init__(f"More than {limit} messages a second: rate limit exceeded, retry later")
