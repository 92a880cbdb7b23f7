"""RFC 6455 cases against a real server, as the Autobahn|Testsuite groups them (framing, reserved bits, opcodes,
control frames, fragmentation, UTF-8, close). The suite itself runs on Python 2.7 only and cannot be installed
from the registries for this project's Python, so its cases that this server's code touches are written here."""

from __future__ import annotations

import struct

import pytest

from .processes import RunningServer
from .rawws import (
    OP_BINARY,
    OP_CLOSE,
    OP_CONT,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    frame,
    open_websocket,
    read_frame,
    read_until_close,
)

pytestmark = pytest.mark.e2e

HELLO = b'{"type":"hello","apikey":"k","heartbeat":true,"subscribe_data_type":["trade"]}'


@pytest.mark.parametrize(
    ("sent", "code"),
    [
        pytest.param(frame(OP_TEXT, HELLO, rsv=0b100), 1002, id="2.x reserved bit without an extension"),
        pytest.param(frame(0x3, b"x"), 1002, id="4.1 reserved data opcode"),
        pytest.param(frame(0xB, b"x"), 1002, id="4.2 reserved control opcode"),
        pytest.param(frame(OP_PING, b"x", fin=False), 1002, id="5.1 fragmented ping"),
        pytest.param(frame(OP_PING, b"x" * 126), 1002, id="2.5 control payload over 125 bytes"),
        pytest.param(frame(OP_CONT, b"x"), 1002, id="5.9 continuation without a start"),
        pytest.param(frame(OP_TEXT, HELLO, masked=False), 1002, id="unmasked client frame"),
        pytest.param(frame(OP_CLOSE, struct.pack("!H", 1005)), 1002, id="7.9 reserved close code"),
        pytest.param(frame(OP_CLOSE, struct.pack("!H", 1000) + b"\xff"), 1007, id="7.5 close reason not UTF-8"),
        pytest.param(frame(OP_TEXT, b"\xce\xba\xe1\xbd", fin=False) + frame(OP_CONT, b"\xff"), 1007, id="6.x split"),
        pytest.param(frame(OP_CLOSE, struct.pack("!H", 1000)), 1000, id="7.1 close is echoed"),
        pytest.param(frame(OP_BINARY, HELLO), 1003, id="binary message (the feed takes JSON text)"),
    ],
)
def test_a_frame_gets_the_close_code_rfc_6455_names(server: RunningServer, sent: bytes, code: int) -> None:
    with open_websocket(server.port) as sock:
        sock.sendall(sent)
        _, received = read_until_close(sock)
    assert received == code


def test_a_ping_is_answered_with_its_payload(server: RunningServer) -> None:
    with open_websocket(server.port) as sock:
        sock.sendall(frame(OP_PING, b"payload-123"))
        assert read_frame(sock) == (OP_PONG, b"payload-123")


def test_a_fragmented_hello_with_a_ping_between_fragments_is_taken(server: RunningServer) -> None:
    with open_websocket(server.port) as sock:
        sock.sendall(
            frame(OP_TEXT, HELLO[:10], fin=False) + frame(OP_PING, b"p") + frame(OP_CONT, HELLO[10:40], fin=False)
        )
        assert read_frame(sock) == (OP_PONG, b"p")
        sock.sendall(frame(OP_CONT, HELLO[40:]))
        opcode, payload = read_frame(sock)
    assert opcode == OP_TEXT and payload.startswith(b'{"type":"'), payload[:80]
