"""permessage-deflate (RFC 7692) for the raw data plane: one connection's shared frames, compressed for it alone.

Why per connection: with context takeover (the default a client gets unless it asks otherwise) each message is
compressed against the ones before it on the same connection, which is what turns a stream of similar JSON
messages into a few bytes each (~70-90% saved on trades and book updates, against ~25-45% for messages compressed
on their own). That history differs between connections, so the compressed bytes cannot be shared; the frames
stay encoded once, and only connections that negotiated the extension pay for compression.

Why zlib-ng at level 1: a permessage-deflate message ends with a sync flush, and for messages of a few hundred
bytes that fixed cost dominates. On the emulator's trade + book stream (12-bit window, memLevel 5, as uvicorn
negotiates) zlib took 4.9-5.4 us per message at levels 1 and 6 alike, zlib-ng's level 1 ("deflate_quick")
1.2 us, for 78.5% fewer bytes against 82.5% at zlib's default level (2026-12-01, ``docs/PERFORMANCE.md``). An
emulator's clients mostly sit on the same host: CPU per message matters more than the last few percent of
bytes. The output is a standard deflate stream; clients inflate it with any zlib.

The negotiation itself is uvicorn's and ``websockets``' (``ServerPerMessageDeflateFactory``): this module reuses
the negotiated parameters and never touches frames from the client, which ``websockets`` inflates.
"""

from __future__ import annotations

from collections.abc import Sequence

from websockets.extensions.permessage_deflate import PerMessageDeflate
from zlib_ng import zlib_ng

from coinapi_emulator.server.transport.frames import compressed_text_frame, frame_payload

#: zlib-ng's fastest level (see the module docstring); the negotiated ``compress_settings`` may override it
_LEVEL = 1
#: RFC 7692 §7.2.1: a sync (or full) flush ends with an empty stored block, which the sender removes
_SYNC_TAIL = b"\x00\x00\xff\xff"


class FrameDeflater:
    """Turns pre-framed text frames into compressed text frames (RSV1 set) for one connection."""

    __slots__ = ("_encoder", "_flush_mode", "_settings")

    def __init__(self, extension: PerMessageDeflate) -> None:
        self._settings = {"level": _LEVEL, "wbits": -extension.local_max_window_bits, **extension.compress_settings}
        # The client asked for server_no_context_takeover: no message may refer to an earlier one. A full flush
        # ends each message with the same empty stored block as a sync flush and also forgets the window, so
        # the encoder is kept instead of rebuilt (and its 128 KiB hash table cleared) for every message.
        no_takeover = extension.local_no_context_takeover
        self._flush_mode = zlib_ng.Z_FULL_FLUSH if no_takeover else zlib_ng.Z_SYNC_FLUSH
        #: made on first use: ~160 KiB of zlib-ng state that a connection never sent data does not need
        self._encoder: zlib_ng._Compress | None = None

    def compress(self, frames: list[bytes]) -> list[bytes]:
        """The same messages, each one compressed text frame, in order."""
        return [self._compress_one(frame_payload(frame)) for frame in frames]

    def _compress_one(self, payload: bytes) -> bytes:
        encoder = self._encoder
        if encoder is None:
            encoder = self._encoder = zlib_ng.compressobj(**self._settings)
        data = encoder.compress(payload) + encoder.flush(self._flush_mode)
        return compressed_text_frame(data[: -len(_SYNC_TAIL)])


def deflater_for(extensions: Sequence[object]) -> FrameDeflater | None:
    """A deflater when the handshake negotiated permessage-deflate, else None."""
    for extension in extensions:
        if isinstance(extension, PerMessageDeflate):
            return FrameDeflater(extension)
    return None
