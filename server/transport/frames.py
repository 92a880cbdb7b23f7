"""WebSocket text frames built once and shared: the server never masks, so one framed buffer serves every client.

RFC 6455 §5.2: FIN + opcode 0x1, then a 7-bit, 16-bit or 64-bit payload length. Frames are built uncompressed
(RSV1 = 0) and shared; ``server/transport/deflate.py`` re-frames them, compressed, for connections that negotiated
permessage-deflate (RFC 7692 §6: RSV1 = 1 marks a compressed message).
"""

from __future__ import annotations

import struct

_FIN_TEXT = 0x81
_RSV1 = 0x40
# headers are built once per market event: a table lookup for short payloads, one C call for the usual
# 126-65535 bytes, instead of building a tuple and two bytes objects
_SHORT_HEADERS = [bytes((_FIN_TEXT, n)) for n in range(126)]
_pack_16 = struct.Struct(">BBH").pack


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked text frame carrying ``payload`` (UTF-8 JSON)."""
    n = len(payload)
    if n < 126:
        return _SHORT_HEADERS[n] + payload
    if n < 65536:
        return _pack_16(_FIN_TEXT, 126, n) + payload
    return _frame(_FIN_TEXT, payload)


def compressed_text_frame(payload: bytes) -> bytes:
    """A text frame whose ``payload`` is a deflated message (RSV1 set, RFC 7692 §6)."""
    return _frame(_FIN_TEXT | _RSV1, payload)


def _frame(first_byte: int, payload: bytes) -> bytes:
    n = len(payload)
    if n < 126:
        return bytes((first_byte, n)) + payload
    if n < 65536:
        return _pack_16(first_byte, 126, n) + payload
    return bytes((first_byte, 127)) + n.to_bytes(8, "big") + payload


class SharedFrames:
    """One tick's frames of a subscription group, handed to the sink of every member: joined at most once.

    A sink that writes the frames as they are takes ``joined()``; one that re-frames them (permessage-deflate,
    whose compression context is per connection) reads ``frames``. Neither may change them.
    """

    __slots__ = ("_joined", "frames")

    def __init__(self, frames: list[bytes]) -> None:
        self.frames = frames
        self._joined: bytes | None = None

    def joined(self) -> bytes:
        """All the frames in one buffer, built by the first sink that asks."""
        if self._joined is None:
            self._joined = b"".join(self.frames)
        return self._joined


def frame_payload(frame: bytes) -> bytes:
    """The payload of a frame made by ``text_frame`` (for transports that frame messages themselves)."""
    return frame[_payload_offset(frame) :]


def payload_starts_with(frame: bytes, prefix: bytes) -> bool:
    """Whether the payload of a frame made by ``text_frame`` starts with ``prefix`` (no copy of the payload)."""
    return frame.startswith(prefix, _payload_offset(frame))


def _payload_offset(frame: bytes) -> int:
    length_code = frame[1] & 0x7F
    if length_code < 126:
        return 2
    return 4 if length_code == 126 else 10
