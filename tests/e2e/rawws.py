"""A bare WebSocket client over a plain socket, for what a library client refuses to send (RFC 6455 cases)."""

from __future__ import annotations

import os
import socket
import struct

from .support import websocket_handshake

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def open_websocket(port: int, timeout_s: float = 5) -> socket.socket:
    """A socket past the server's 101 answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout_s)
    sock.sendall(websocket_handshake(port))
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(4096)
        assert chunk, f"closed during the handshake: {response!r}"
        response += chunk
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def frame(opcode: int, payload: bytes, *, fin: bool = True, rsv: int = 0, masked: bool = True) -> bytes:
    """One frame as a client sends it (masked unless told otherwise); ``rsv``: the three reserved bits."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mask_bit = 0x80 if masked else 0
    size = len(payload)
    if size < 126:
        head += bytes([mask_bit | size])
    elif size < 1 << 16:
        head += bytes([mask_bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([mask_bit | 127]) + struct.pack("!Q", size)
    if not masked:
        return head + payload
    mask = os.urandom(4)
    # XOR by whole 4-byte words through int: fast enough for payloads of megabytes
    padded = payload + b"\0" * (-size % 4)
    key = int.from_bytes(mask * (len(padded) // 4), "big") if padded else 0
    body = (int.from_bytes(padded, "big") ^ key).to_bytes(len(padded), "big")[:size] if padded else b""
    return head + mask + body


def read_frame(sock: socket.socket) -> tuple[int, bytes]:
    """The next frame from the server (never masked): its opcode and payload."""
    head = read_exactly(sock, 2)
    size = head[1] & 0x7F
    if size == 126:
        size = struct.unpack("!H", read_exactly(sock, 2))[0]
    elif size == 127:
        size = struct.unpack("!Q", read_exactly(sock, 8))[0]
    return head[0] & 0x0F, read_exactly(sock, size)


def read_until_close(sock: socket.socket) -> tuple[list[tuple[int, bytes]], int | None]:
    """Frames up to and with the server's close frame, and the close code it carries (None: no code)."""
    frames = []
    while True:
        opcode, payload = read_frame(sock)
        frames.append((opcode, payload))
        if opcode == OP_CLOSE:
            return frames, struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


def read_exactly(sock: socket.socket, size: int) -> bytes:
    """``size`` bytes, or an assertion error if the server closes first."""
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "connection closed early"
        data += chunk
    return data
