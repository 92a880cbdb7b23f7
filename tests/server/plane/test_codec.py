"""The reference frame codec: each ``*_frame`` method is its payload encoder's output in one text frame."""

from __future__ import annotations

from coinapi_emulator.server.plane.codec import ReferenceCodec
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.transport.frames import text_frame
from coinapi_emulator.simulator.events import Bar, BookDelta, Level, Quote, TakerSide, Trade
from tests.server.protocol.factories import make_symbol

T0 = 1_704_067_200_000_000_000


def test_frame_twins_are_the_payloads_in_text_frames() -> None:
    codec = ReferenceCodec(make_symbol("BITSTAMP", "BTC", "USD"))
    trade = Trade("BITSTAMP_SPOT_BTC_USD", T0, 4_215_025, 1_250_000, TakerSide.BUY, "u")
    quote = Quote("BITSTAMP_SPOT_BTC_USD", T0, 228_140, 350, 228_110, 75)
    delta = BookDelta("BITSTAMP_SPOT_BTC_USD", T0, (Level(100, 5),), ())
    bar = Bar("BITSTAMP_SPOT_BTC_USD", "1SEC", T0, T0 + 10**9, T0, T0, 1, 1, 1, 1, 1, 1, True, T0 + 10**9, 1)
    pairs = [
        (codec.trade_frame(trade, 1, T0), codec.trade(trade, 1, T0)),
        (codec.quote_frame(quote, 2, T0), codec.quote(quote, 2, T0)),
        (codec.book_delta_frame(delta, 3, T0), codec.book_delta(delta, 3, T0)),
        (codec.bar_frame(bar, 4), codec.bar(bar, 4)),
        (
            codec.book_frame(DataType.BOOK, delta.asks, (), 5, T0, T0, is_snapshot=True),
            codec.book(DataType.BOOK, delta.asks, (), 5, T0, T0, is_snapshot=True),
        ),
    ]
    for frame, payload in pairs:
        assert frame == text_frame(payload)
