from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from coinapi_emulator.server.transport.frames import frame_payload, text_frame


def parse(data: bytes) -> Frame:
    reader = StreamReader()
    reader.feed_data(data)
    parser = Frame.parse(reader.read_exact, mask=False)
    try:
        next(parser)
    except StopIteration as done:
        frame: Frame = done.value
        return frame
    raise AssertionError("incomplete frame")


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70000], ids=lambda n: f"{n}B")
def test_text_frame_round_trips_through_websockets_parser(size: int) -> None:
    payload = b"x" * size
    frame = parse(text_frame(payload))
    assert (frame.opcode, frame.fin, frame.rsv1, bytes(frame.data)) == (Opcode.TEXT, True, False, payload)


@given(st.binary(max_size=70_000))
def test_frame_payload_inverts_text_frame(payload: bytes) -> None:
    assert frame_payload(text_frame(payload)) == payload
