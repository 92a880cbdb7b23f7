"""uvicorn's httptools protocol with limits on a request's head: its size, its header count and its time.

Why: uvicorn bounds none of them. A 100 MiB header was read whole (RSS peak 240 MB, every client 12.7 s late),
unfinished heads stayed open for good, and an upgrade with more headers than the WebSocket library takes (128) was
never answered nor closed (issue 14, items 5 and 6). Past a limit the client gets the status RFC 9110 and RFC 6585
name (431, 408) with ``Connection: close``, and the socket closes. The head is counted as it arrives, so a refused
one costs at most the limit plus one read.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@dataclass(frozen=True, slots=True)
class HeadLimits:
    """What one request's head (request line and headers) may take."""

    #: bytes of the request line and headers together
    max_bytes: int = 16 * 1024
    #: header fields (the WebSocket library behind the upgrade takes at most 128)
    max_headers: int = 100
    #: seconds from a connection's start, or a request's first byte, to the end of its head
    timeout_s: float = 10.0


class _HeaderFieldsTooLarge(Exception):
    """Raised from the parser's callback; uvicorn turns a callback's exception into ``send_400_response``."""


class HeadLimitedProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` refusing heads past ``limits``; build one with ``head_limited_protocol``."""

    limits: ClassVar[HeadLimits] = HeadLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: True from a connection's start, or the end of a request, to the end of the next head
        self._reading_head = True
        self._head_bytes = 0
        self._header_count = 0
        self._too_large = False
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._reading_head:
            super().data_received(data)
            return
        # At most one byte past the limit goes to the parser: enough to know the head is too big.
        room = self.limits.max_bytes - self._head_bytes + 1
        head, rest = data[:room], data[room:]
        self._head_bytes += len(head)
        super().data_received(head)
        if self.transport.is_closing():
            return
        if self._reading_head and self._head_bytes > self.limits.max_bytes:
            self._refuse_too_large(f"the request's head is over {self.limits.max_bytes} bytes")
        elif rest:
            # The head ended within the limit; what follows is the body, the next request or WebSocket frames.
            self.transport.get_protocol().data_received(rest)  # type: ignore[attr-defined]

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_count = 0
        self._arm_head_timer()

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_count += 1
        if self._header_count > self.limits.max_headers:
            self._too_large = True
            raise _HeaderFieldsTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._cancel_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._reading_head = True
        self._head_bytes = 0

    def handle_websocket_upgrade(self) -> None:
        self._cancel_head_timer()
        super().handle_websocket_upgrade()

    def send_400_response(self, msg: str) -> None:
        if self._too_large:
            self._refuse_too_large(f"the request has over {self.limits.max_headers} header fields")
        else:
            super().send_400_response(msg)

    def _refuse_too_large(self, reason: str) -> None:
        self.logger.warning("Refused a request: %s.", reason)
        self._refuse(b"431 Request Header Fields Too Large", reason)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self._reading_head and not self.transport.is_closing():
            self._refuse(b"408 Request Timeout", f"no complete request head within {self.limits.timeout_s:g} s")

    def _refuse(self, status: bytes, reason: str) -> None:
        self._cancel_head_timer()
        body = b'{"error":"' + reason.encode("ascii") + b'"}'
        self.transport.write(
            b"HTTP/1.1 "
            + status
            + b"\r\ncontent-type: application/json\r\ncontent-length: "
            + str(len(body)).encode("ascii")
            + b"\r\nconnection: close\r\n\r\n"
            + body
        )
        self.transport.close()

    def _arm_head_timer(self) -> None:
        if self._head_timer is None and self.limits.timeout_s > 0:
            self._head_timer = self.loop.call_later(self.limits.timeout_s, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None


def head_limited_protocol(limits: HeadLimits) -> type[HeadLimitedProtocol]:
    """The protocol class to pass as ``uvicorn.Config(http=...)``: uvicorn builds one per connection."""
    return type("HeadLimitedProtocol", (HeadLimitedProtocol,), {"limits": limits})
