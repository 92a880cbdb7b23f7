"""At ``--speed max`` the market waits for its readers (``server/fanout/hub.py``, "Readers at --speed max"): a
slow reader gets every message, and one that stops reading holds the market for about ``STALLED_READER_S`` only,
then is served as a slow client. Real server processes, bare socket clients that read at their own pace."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from coinapi_emulator.server.fanout.hub import STALLED_READER_S

from .processes import START_TIME, RunningServer, run_server
from .rawws import OP_CLOSE, OP_TEXT, frame, open_websocket, read_frame
from .support import hello

#: every trade and quote of three exchanges: far more than a reader in Python takes at speed max
UPDATES = json.dumps(hello(["trade", "quote"])).encode()


@pytest.fixture
def max_speed_server(log_dir: Path) -> Iterator[RunningServer]:
    args = ["--start-time", START_TIME, "--speed", "max", "--exchanges", "3", "--max-buffered-messages", "5000"]
    with run_server(args, log_dir) as running:
        yield running


def subscribed(server: RunningServer) -> socket.socket:
    sock = open_websocket(server.port)
    sock.sendall(frame(OP_TEXT, UPDATES))
    return sock


def counter(server: RunningServer, name: str) -> float:
    """A counter of the shared market from ``/metrics``."""
    text = httpx.get(f"{server.http_url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == f"coinapi_emulator_{name}_total" and sample.labels.get("market") == "shared":
                return sample.value
    raise AssertionError(f"no {name} in /metrics")


def test_a_slow_reader_gets_every_quote_and_trade_in_sequence(max_speed_server: RunningServer) -> None:
    sock = subscribed(max_speed_server)
    last: dict[tuple[str, str], int] = {}
    gaps, received = [], 0
    deadline = time.monotonic() + 4.0
    while time.monotonic() < deadline:
        opcode, payload = read_frame(sock)
        assert opcode == OP_TEXT
        message = json.loads(payload)
        stream = (message["type"], message["symbol_id"])
        if stream in last and message["sequence"] != last[stream] + 1:
            gaps.append((stream, last[stream], message["sequence"]))
        last[stream] = message["sequence"]
        received += 1
        if received % 50 == 0:
            time.sleep(0.005)  # a reader far slower than the market: ~10k messages a second at most
    sock.close()
    assert received > 5_000
    assert gaps == [], f"{len(gaps)} gaps, first {gaps[:3]}"
    # it was behind all along (its socket full), yet nothing was conflated or given up
    assert counter(max_speed_server, "conflated_messages") == 0
    assert counter(max_speed_server, "reader_waits_given_up") == 0


def test_a_reader_that_stops_is_no_longer_waited_for_and_is_closed_as_slow(max_speed_server: RunningServer) -> None:
    stalled = subscribed(max_speed_server)
    reader = subscribed(max_speed_server)
    reader.settimeout(10)
    deadline = time.monotonic() + 10 * STALLED_READER_S + 10
    # The market waits for the stalled socket for STALLED_READER_S, gives it up, and goes on: the reader keeps
    # getting messages, and the stalled socket's backlog passes --max-buffered-messages (1013).
    while counter(max_speed_server, "slow_consumer_closes") < 1:
        assert time.monotonic() < deadline, "the stalled reader was never given up and closed"
        for _ in range(1_000):
            assert read_frame(reader)[0] == OP_TEXT
    assert counter(max_speed_server, "reader_waits_given_up") >= 1
    stalled.settimeout(10)
    while True:
        opcode, payload = read_frame(stalled)
        if opcode == OP_CLOSE:
            assert int.from_bytes(payload[:2], "big") == 1013
            break
    stalled.close()
    reader.close()
