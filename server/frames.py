"""WebSocket text frames built once and shared: the server never masks, so one framed buffer serves every client.

RFC 6455 §5.2: FIN + opcode 0x1, then a 7-bit, 16-bit or 64-bit payload length. Frames are built uncompressed
(RSV1 = 0) and shared; ``server/deflate.py`` re-frames them, compressed, for connections that negotiated
permessage-deflate (RFC 7692 §6: RSV1 = 1 marks a compressed message).
"""

from __future__ import annotations

_FIN_TEXT = 0x81
_RSV1 = 0x40


def text_frame(payload: bytes, *, compressed: bool = False) -> bytes:
    """One unfragmented, unmasked text frame carrying ``payload`` (UTF-8 JSON, or its deflated form)."""
    first = _FIN_TEXT | _RSV1 if compressed else _FIN_TEXT
    n = len(payload)
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65536:
        return bytes((first, 126)) + n.to_bytes(2, "big") + payload
    return bytes((first, 127)) + n.to_bytes(8, "big") + payload


def frame_payload(frame: bytes) -> bytes:
    """The payload of a frame made by ``text_frame`` (for transports that frame messages themselves)."""
    length_code = frame[1] & 0x7F
    if length_code < 126:
        return frame[2:]
    if length_code == 126:
        return frame[4:]
    return frame[10:]
