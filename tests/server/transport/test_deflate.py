"""server/transport/deflate.py against websockets' own permessage-deflate decoder (the client side of RFC 7692)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.extensions.permessage_deflate import PerMessageDeflate
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from coinapi_emulator.server.transport.deflate import FrameDeflater, deflater_for
from coinapi_emulator.server.transport.frames import compressed_text_frame, text_frame

WINDOW_BITS = 12
PAYLOADS = st.lists(st.binary(max_size=3000) | st.text(max_size=500).map(str.encode), max_size=12)


def extensions(
    *, no_context_takeover: bool, window_bits: int = WINDOW_BITS, settings: dict[str, int] | None = None
) -> tuple[PerMessageDeflate, PerMessageDeflate]:
    """A negotiated (server, client) pair, as websockets builds them (uvicorn's settings unless told)."""
    server = PerMessageDeflate(False, no_context_takeover, window_bits, window_bits, settings or {"memLevel": 5})
    client = PerMessageDeflate(no_context_takeover, False, window_bits, window_bits)
    return server, client


def receive(client: PerMessageDeflate, wire: bytes) -> list[tuple[Opcode, bytes]]:
    """What the client gets: (opcode, payload after inflate) per frame on the wire, parsed as websockets does.

    A frame without RSV1 would pass through the decoder unchanged and show its compressed bytes.
    """
    reader = StreamReader()
    reader.feed_data(wire)
    received = []
    while reader.buffer:
        parser = Frame.parse(reader.read_exact, mask=False, extensions=[client])
        try:
            next(parser)
        except StopIteration as done:
            received.append((done.value.opcode, bytes(done.value.data)))
    return received


@pytest.mark.parametrize("no_context_takeover", [False, True], ids=["context-takeover", "no-context-takeover"])
# the window sizes a client may ask for (RFC 7692 §7.1.2; websockets cannot compress with 8): zlib-ng must keep
# every back-reference inside the window the client's stock zlib inflates with
@pytest.mark.parametrize("window_bits", [9, WINDOW_BITS, 15])
# generation time depends on how busy the machine is (it failed once on a loaded 2-core machine); not a defect
@settings(suppress_health_check=[HealthCheck.too_slow])
@given(batches=st.lists(PAYLOADS, max_size=4))
def test_every_message_inflates_back_to_its_payload(
    no_context_takeover: bool, window_bits: int, batches: list[list[bytes]]
) -> None:
    server, client = extensions(no_context_takeover=no_context_takeover, window_bits=window_bits)
    deflater = FrameDeflater(server)
    for payloads in batches:
        wire = b"".join(deflater.compress([text_frame(payload) for payload in payloads]))
        assert receive(client, wire) == [(Opcode.TEXT, payload) for payload in payloads]


def stream(n: int) -> list[bytes]:
    """Trade-like JSON messages: the repetitive shape that makes context takeover pay."""
    return [
        json.dumps(
            {
                "type": "trade",
                "symbol_id": "BINANCE_SPOT_BTC_USDT",
                "sequence": i,
                "time_exchange": f"2024-01-01T00:00:{i % 60:02d}.{i * 7919 % 10**7:07d}Z",
                "price": 42000 + i * 37 % 500 / 100,
                "size": i * 13 % 97 / 1000,
                "taker_side": "BUY" if i % 3 else "SELL",
            }
        ).encode()
        for i in range(n)
    ]


def test_context_takeover_saves_more_than_compressing_each_message_alone() -> None:
    frames = [text_frame(payload) for payload in stream(200)]
    plain = sum(map(len, frames))
    with_history = sum(map(len, FrameDeflater(extensions(no_context_takeover=False)[0]).compress(frames)))
    alone = sum(map(len, FrameDeflater(extensions(no_context_takeover=True)[0]).compress(frames)))
    assert with_history < alone < plain
    assert with_history < plain / 3


@pytest.mark.parametrize("no_context_takeover", [False, True], ids=["context-takeover", "no-context-takeover"])
def test_a_long_repetitive_stream_inflates_within_a_small_window(no_context_takeover: bool) -> None:
    # thousands of similar messages: back-references at every distance, far beyond a 512-byte window, and
    # into the message before whenever the encoder kept it (a no-context-takeover client inflates each alone)
    server, client = extensions(no_context_takeover=no_context_takeover, window_bits=9)
    payloads = stream(3000)
    wire = b"".join(FrameDeflater(server).compress([text_frame(payload) for payload in payloads]))
    assert receive(client, wire) == [(Opcode.TEXT, payload) for payload in payloads]


def test_negotiated_compress_settings_override_the_default_level() -> None:
    frames = [text_frame(payload) for payload in stream(50)]
    stored = FrameDeflater(extensions(no_context_takeover=False, settings={"level": 0})[0]).compress(frames)
    assert sum(map(len, stored)) > sum(map(len, frames))  # level 0 stores: a few bytes more per message


def test_no_deflater_without_the_extension() -> None:
    assert deflater_for([]) is None
    assert isinstance(deflater_for([extensions(no_context_takeover=False)[0]]), FrameDeflater)


def test_compressed_frames_set_rsv1_only_when_asked() -> None:
    assert text_frame(b"{}")[0] == 0x81
    assert compressed_text_frame(b"{}")[0] == 0xC1
