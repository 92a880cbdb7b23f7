"""The bus's sans-I/O format: batches and gateway messages read back as written, and bad input is refused."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.bus.wire import (
    CONTROL_ACTIONS,
    MAX_MESSAGE_BYTES,
    Ack,
    BatchBuilder,
    BatchHeader,
    Control,
    Interest,
    MarketDescription,
    MarketRequest,
    RestRequest,
    ScenarioAnswer,
    ScenarioLoad,
    SnapshotRequest,
    UpMessage,
    decode_rest_part,
    decode_up,
    encode_rest_reply,
    encode_up,
    key_text,
    parse_key,
    read_frames,
    read_header,
)
from coinapi_emulator.server.protocol.datatypes import DataType

topics = st.text(st.characters(min_codepoint=33, max_codepoint=0x2FFF, exclude_characters=" "), min_size=1, max_size=40)
keys = st.tuples(st.sampled_from(list(DataType)), topics)
entries = st.lists(st.tuples(keys, st.binary(max_size=300), st.integers(-(2**63), 2**63 - 1)), max_size=40)
headers = st.builds(
    BatchHeader,
    instance=st.integers(0, 2**64 - 1),
    shard=st.integers(0, 2**16 - 1),
    stream_seq=st.integers(0, 2**64 - 1),
    pass_number=st.integers(0, 2**64 - 1),
    time_ns=st.integers(-(2**63), 2**63 - 1),
    sent_ns=st.integers(-(2**63), 2**63 - 1),
    speed=st.floats(0, 1e6),
    paused=st.booleans(),
)


@given(headers, entries)
def test_a_batch_reads_back_as_built_in_order(header: BatchHeader, frames: list) -> None:
    builder = BatchBuilder()
    for key, frame, time_ns in frames:
        builder.add(key, frame, time_ns)
    assert builder.count == len(frames)
    assert builder.size == sum(len(frame) for _, frame, _ in frames)
    message = builder.build(header)
    assert read_header(message) == header
    assert list(read_frames(message, {})) == frames
    assert builder.count == builder.size == 0  # emptied for the next pass


def test_the_route_cache_is_filled_and_reused() -> None:
    builder = BatchBuilder()
    key = (DataType.TRADE, "BINANCE_SPOT_BTC_USDT")
    builder.add(key, b"a", 1)
    builder.add(key, b"b", 2)
    cache: dict = {}
    frames = list(read_frames(builder.build(BatchHeader(1, 0, 1, 1, 0, 0)), cache))
    assert [frame for _, frame, _ in frames] == [b"a", b"b"]
    assert list(cache.values()) == [key]
    assert frames[0][0] is frames[1][0]


@pytest.mark.parametrize("message", [b"", b"XXXX" + bytes(60), b"CAE1"])
def test_what_is_not_a_batch_is_refused(message: bytes) -> None:
    with pytest.raises(ValueError, match="not a frame batch"):
        read_header(message)


@given(keys)
def test_a_route_reads_back_from_its_text(key: tuple[DataType, str]) -> None:
    assert parse_key(key_text(key)) == key


@pytest.mark.parametrize("text", ["trade", "trade ", "nothing BTC", " BTC", ""])
def test_what_is_not_a_route_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a route"):
        parse_key(text)


@given(
    st.one_of(
        st.builds(
            Interest,
            gateway=st.text(min_size=1, max_size=12),
            add=st.frozensets(keys, max_size=5),
            remove=st.frozensets(keys, max_size=5),
            full=st.booleans(),
        ),
        st.builds(
            SnapshotRequest,
            gateway=st.text(min_size=1, max_size=12),
            shard=st.integers(0, 64),
            keys=st.lists(keys, max_size=5).map(tuple),
        ),
        st.just(MarketRequest()),
        st.builds(Control, action=st.sampled_from(sorted(CONTROL_ACTIONS)), value=st.floats(0, 1e12)),
        st.builds(
            Ack,
            gateway=st.text(min_size=1, max_size=12),
            shard=st.integers(0, 64),
            stream_seq=st.integers(0, 2**64 - 1),
        ),
        st.builds(
            RestRequest,
            shard=st.integers(0, 64),
            path=st.text(max_size=40).map(lambda tail: "/" + tail),
            query=st.text(max_size=40),
        ),
        st.builds(ScenarioLoad, text=st.text(max_size=80), source=st.text(max_size=20), start_ns=st.integers(0, 2**63)),
    )
)
def test_gateway_messages_read_back(message: UpMessage) -> None:
    assert decode_up(encode_up(message)) == message


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (b"{}", "neither interest, snapshot, market, control, ack, rest nor scenario"),
        (b'{"control": "stop"}', "'control' must be one of pause, resume, speed, step"),
        (b'{"control": "speed", "value": true}', "'control' must be one of"),
        (b'{"interest": ""}', "'interest' must be a gateway id"),
        (b'{"interest": "g", "add": "trade X"}', "'add' must be a list of routes"),
        (b'{"interest": "g", "add": ["trade"]}', "not a route"),
        (b'{"snapshot": "g", "shard": -1, "keys": []}', "'shard' must be a number from 0"),
        (b'{"ack": "g", "shard": 0, "seq": true}', "'seq' must be a number from 0"),
        (b'{"market": false}', "neither interest, snapshot, market, control, ack, rest nor scenario"),
        (b'{"rest": "v1/quotes/current", "shard": 0}', "'rest' must be a path from '/'"),
        (b'{"rest": "/v1/quotes/current", "shard": 0, "query": 1}', "'rest' must be a path from '/'"),
        (b'{"rest": "/v1/quotes/current"}', "'shard' must be a number from 0"),
        (b'{"scenario": 1, "source": "x", "start_ns": 0}', "'scenario' and 'source' must be text"),
        (b'{"scenario": "", "source": "x"}', "'start_ns' must be a number from 0"),
    ],
)
def test_bad_gateway_messages_say_what_is_wrong(data: bytes, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        decode_up(data)


def read_reply(messages: list[bytes]) -> tuple[int, bytes]:
    parts = [decode_rest_part(message) for message in messages]
    assert [last for _, last, _ in parts] == [False] * (len(parts) - 1) + [True]
    assert len({status for status, _, _ in parts}) == 1
    return parts[0][0], b"".join(part for _, _, part in parts)


@given(st.integers(100, 999), st.binary(max_size=64))
def test_rest_replies_read_back(status: int, body: bytes) -> None:
    assert read_reply(encode_rest_reply(status, body)) == (status, body)


@pytest.mark.parametrize("size", [0, 1, MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES + 1, 5 * MAX_MESSAGE_BYTES - 3])
def test_a_large_rest_reply_comes_in_messages_nats_takes(size: int) -> None:
    body = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    messages = encode_rest_reply(200, body)
    assert len(messages) == max(1, -(-size // MAX_MESSAGE_BYTES))
    assert all(len(message) <= MAX_MESSAGE_BYTES + 4 for message in messages)
    assert read_reply(messages) == (200, body)


@pytest.mark.parametrize("data", [b"", b"20", b"ok {}", b"2x0.[]", b"200[]", b"200-[]"])
def test_what_is_not_a_rest_reply_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="three-digit status and"):
        decode_rest_part(data)


@given(st.integers(0, 64), st.integers(0, 1000), st.one_of(st.none(), st.text(max_size=40)))
def test_scenario_answers_read_back(shard: int, steps: int, error: str | None) -> None:
    answer = ScenarioAnswer(shard, steps, error)
    assert ScenarioAnswer.decode(answer.encode()) == answer


@pytest.mark.parametrize("garbage", [b"{", b"[]", b"{}", b'{"shard": 0, "steps": 1, "error": 5}'])
def test_what_is_not_a_scenario_answer_is_refused(garbage: bytes) -> None:
    with pytest.raises(ValueError, match="not a scenario answer"):
        ScenarioAnswer.decode(garbage)


def test_the_market_description_reads_back_and_refuses_garbage() -> None:
    description = MarketDescription(seed=3, start_ns=10**18, exchanges=20, max_symbols_per_exchange=60, shards=2)
    assert MarketDescription.decode(description.encode()) == description
    for garbage in (b"{", b"{}", b'{"seed": "x"}', b"[]"):
        with pytest.raises(ValueError, match="not a market description"):
            MarketDescription.decode(garbage)
