"""An HTTP request's head against a real server: its size, its header count and its time (issue 14, items 5, 6).

Before: a 100 MiB header was read whole, unfinished heads stayed open, and an upgrade with more headers than the
WebSocket library takes was never answered nor closed. Each case now gets its status and a closed socket.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from .processes import START_TIME, RunningServer, run_server
from .support import raw_http_answer, read_to_close, websocket_handshake

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    args = ["--start-time", START_TIME, "--exchanges", "3", "--max-symbols-per-exchange", "3"]
    args += ["--header-timeout", str(HEADER_TIMEOUT_S)]
    with run_server(args, tmp_path_factory.mktemp("heads")) as running:
        yield running


def _headers(count: int) -> str:
    return "".join(f"X-Filler-{i}: {i}\r\n" for i in range(count))


def test_a_head_over_16_kib_gets_431_before_the_rest_is_read(server: RunningServer) -> None:
    request = f"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {'a' * (64 << 20)}\r\n\r\n".encode()
    answer = raw_http_answer(server.port, request)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert answer.endswith(b'{"error":"the request\'s head is over 16384 bytes"}')


def test_more_than_100_header_fields_get_431(server: RunningServer) -> None:
    answer = raw_http_answer(server.port, f"GET /health HTTP/1.1\r\nHost: x\r\n{_headers(101)}\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"over 100 header fields" in answer


def test_an_upgrade_with_more_than_128_header_fields_is_answered_and_closed(server: RunningServer) -> None:
    answer = raw_http_answer(server.port, websocket_handshake(server.port, extra_headers=_headers(130)))
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_an_upgrade_the_websocket_library_refuses_is_answered_and_closed(server: RunningServer) -> None:
    # within the head limit, over the WebSocket library's 8 KiB line: refused there, and now answered
    long_line = f"X-Long: {'a' * 9000}\r\n"
    answer = raw_http_answer(server.port, websocket_handshake(server.port, extra_headers=long_line))
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b"expected no more than 8192 bytes" in answer


def test_an_unfinished_head_gets_408_after_the_header_timeout(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        answer = read_to_close(sock)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert HEADER_TIMEOUT_S * 0.9 <= waited < HEADER_TIMEOUT_S + 5


def test_a_connection_that_sends_nothing_is_closed_after_the_header_timeout(server: RunningServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        assert read_to_close(sock).startswith(b"HTTP/1.1 408 ")


def test_keep_alive_requests_and_a_body_past_the_head_limit_are_served(server: RunningServer) -> None:
    body = b"x" * (64 << 10)
    first = f"GET /health HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
    second = f"GET /health HTTP/1.1\r\nHost: x\r\n{_headers(90)}Connection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(first)
        # more than the header timeout passes between the two requests: the timer covers heads only
        time.sleep(HEADER_TIMEOUT_S * 1.5)
        sock.sendall(second)
        answer = read_to_close(sock)
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 2, answer[:300]
