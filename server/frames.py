"""WebSocket text frames built once and shared: the server never masks, so one framed buffer serves every client.

RFC 6455 §5.2: FIN + opcode 0x1, then a 7-bit, 16-bit or 64-bit payload length. Compression is never applied
here (RSV1 = 0), which RFC 7692 allows per message even when permessage-deflate was negotiated.
"""

from __future__ import annotations

_FIN_TEXT = 0x81


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked text frame carrying ``payload`` (UTF-8 JSON)."""
    n = len(payload)
    if n < 126:
        return bytes((_FIN_TEXT, n)) + payload
    if n < 65536:
        return bytes((_FIN_TEXT, 126)) + n.to_bytes(2, "big") + payload
    return bytes((_FIN_TEXT, 127)) + n.to_bytes(8, "big") + payload


def frame_payload(frame: bytes) -> bytes:
    """The payload of a frame made by ``text_frame`` (for transports that frame messages themselves)."""
    length_code = frame[1] & 0x7F
    if length_code < 126:
        return frame[2:]
    if length_code == 126:
        return frame[4:]
    return frame[10:]
