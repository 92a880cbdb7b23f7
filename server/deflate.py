"""permessage-deflate (RFC 7692) for the raw data plane: one connection's shared frames, compressed for it alone.

Why per connection: with context takeover (the default a client gets unless it asks otherwise) each message is
compressed against the ones before it on the same connection, which is what turns a stream of similar JSON
messages into a few bytes each (~70-90% saved on trades and book updates, against ~25-45% for messages compressed
on their own). That history differs between connections, so the compressed bytes cannot be shared; the frames
stay encoded once, and only connections that negotiated the extension pay for compression.

The negotiation itself is uvicorn's and ``websockets``' (``ServerPerMessageDeflateFactory``): this module reuses
the negotiated parameters and never touches frames from the client, which ``websockets`` inflates.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

from websockets.extensions.permessage_deflate import PerMessageDeflate

from .frames import compressed_text_frame, frame_payload

#: RFC 7692 §7.2.1: a sync flush ends with an empty stored block, which the sender removes
_SYNC_TAIL = b"\x00\x00\xff\xff"


class FrameDeflater:
    """Turns pre-framed text frames into compressed text frames (RSV1 set) for one connection."""

    __slots__ = ("_encoder", "_reset_each_message", "_settings")

    def __init__(self, extension: PerMessageDeflate) -> None:
        self._settings = {"wbits": -extension.local_max_window_bits, **extension.compress_settings}
        #: the client asked for server_no_context_takeover: every message starts from an empty window
        self._reset_each_message = extension.local_no_context_takeover
        self._encoder = zlib.compressobj(**self._settings)

    def compress(self, frames: list[bytes]) -> list[bytes]:
        """The same messages, each one compressed text frame, in order."""
        return [self._compress_one(frame_payload(frame)) for frame in frames]

    def _compress_one(self, payload: bytes) -> bytes:
        encoder = self._encoder
        if self._reset_each_message:
            encoder = self._encoder = zlib.compressobj(**self._settings)
        data = encoder.compress(payload) + encoder.flush(zlib.Z_SYNC_FLUSH)
        return compressed_text_frame(data[: -len(_SYNC_TAIL)])


def deflater_for(extensions: Sequence[object]) -> FrameDeflater | None:
    """A deflater when the handshake negotiated permessage-deflate, else None."""
    for extension in extensions:
        if isinstance(extension, PerMessageDeflate):
            return FrameDeflater(extension)
    return None
