"""The ``SymbolCodec`` the feed encodes with: one symbol's messages as WebSocket text frames, ready to share.

``ReferenceCodec`` composes the protocol's payload encoders (``server/protocol/encode.py``) with the framing of
``server/transport/frames.py``. Its C twin (``_speedups.c``) writes the frame header and the payload in one pass,
which halves the cost of a frame (2026-12-04: a trade 203 ns against 455 ns, a book delta 927 ns against
1,840 ns): the frame itself is the hot path's output. This is the one place that chooses; both give the same
bytes (tests/server/plane/test_codec_speedups.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.encode import SymbolEncoder
from coinapi_emulator.server.transport.frames import text_frame
from coinapi_emulator.simulator.events import Bar, BookDelta, Level, Quote, Trade

__all__ = ["ReferenceCodec", "SymbolCodec"]


class ReferenceCodec(SymbolEncoder):
    """The payload encoders plus a ``*_frame`` twin of each that returns the payload in a text frame."""

    __slots__ = ()

    def trade_frame(self, trade: Trade, sequence: int, time_coinapi_ns: int) -> bytes:
        """``trade`` in a text frame."""
        return text_frame(self.trade(trade, sequence, time_coinapi_ns))

    def quote_frame(self, quote: Quote, sequence: int, time_coinapi_ns: int) -> bytes:
        """``quote`` in a text frame."""
        return text_frame(self.quote(quote, sequence, time_coinapi_ns))

    def book_frame(
        self,
        data_type: DataType,
        asks: Iterable[Level],
        bids: Iterable[Level],
        sequence: int,
        time_exchange_ns: int,
        time_coinapi_ns: int,
        *,
        is_snapshot: bool | None = None,
    ) -> bytes:
        """``book`` in a text frame."""
        payload = self.book(data_type, asks, bids, sequence, time_exchange_ns, time_coinapi_ns, is_snapshot=is_snapshot)
        return text_frame(payload)

    def book_delta_frame(self, delta: BookDelta, sequence: int, time_coinapi_ns: int) -> bytes:
        """``book_delta`` in a text frame."""
        return text_frame(self.book_delta(delta, sequence, time_coinapi_ns))

    def bar_frame(self, bar: Bar, sequence: int) -> bytes:
        """``bar`` in a text frame."""
        return text_frame(self.bar(bar, sequence))


def _fastest() -> type[ReferenceCodec]:
    try:  # _speedups.c: the same bytes, about twice as fast
        from coinapi_emulator.server.plane._speedups import SymbolCodec
    except ImportError:  # built without a C compiler
        return ReferenceCodec
    return SymbolCodec


#: the codec class the feed uses
SymbolCodec = _fastest()
