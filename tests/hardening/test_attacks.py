"""Every case of issue 14 as an attack on one real server while the good client watches (``harness.attack``
checks its lag and sequence, then the server's memory and file descriptors). Each test also checks what the
attacker is told: the limit is visible, in the protocol's own form."""

from __future__ import annotations

import asyncio
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.e2e.processes import RunningServer
from tests.e2e.rawws import OP_BINARY, OP_TEXT, frame, open_websocket, read_until_close
from tests.e2e.support import API_KEY, raw_http_answer, websocket_handshake

from .conftest import HEADER_TIMEOUT_S, HELLO_TIMEOUT_S
from .harness import Harness, open_fds

pytestmark = pytest.mark.hardening

MIB = 1 << 20
KEY = {"X-CoinAPI-Key": API_KEY}


def _hello(**fields: Any) -> str:
    return orjson.dumps({"type": "hello", "apikey": API_KEY, "subscribe_data_type": ["trade"], **fields}).decode()


async def _close_code(
    url: str, *messages: str | bytes, headers: dict[str, str] | None = None, wait_s: float = 15
) -> int:
    """Send ``messages`` and read until the server closes; its close code (-1: still open after ``wait_s``)."""
    async with connect(url, additional_headers=headers, max_size=None, max_queue=None, open_timeout=10) as ws:
        try:
            for message in messages:
                await ws.send(message)
            async with asyncio.timeout(wait_s):
                async for _ in ws:
                    pass
        except ConnectionClosed:
            pass
        except TimeoutError:
            return -1
        return ws.close_code if ws.close_code is not None else -2


def _gather(*calls: Awaitable[int]) -> list[int]:
    async def run() -> list[int]:
        return list(await asyncio.gather(*calls))

    return asyncio.run(run())


def _http(port: int, method: str, path: str, body: bytes | None = None, **headers: str) -> tuple[int, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


# -- items 1 and 8: client scopes and big messages ---------------------------------------------------------------


def test_big_and_many_scopes_are_bounded(target: RunningServer, harness: Harness) -> None:
    url = target.ws_url()

    def scope(i: int, values: int) -> str:
        return _hello(subscribe_filter_symbol_id=[f"NOWHERE{i}_SPOT_{j}_USD" for j in range(values)])

    with harness.attack("1, 8: 12 hellos of 9,999 filters, 10,001 filters, 2, 5 and 14 MB hellos"):
        accepted = _gather(*(_close_code(url, scope(i, 9_999), wait_s=1) for i in range(12)))
        refused = _gather(
            _close_code(url, scope(99, 10_001)),
            *(_close_code(url, "x" * (2 * MIB)) for _ in range(3)),
            *(_close_code(url, "x" * (5 * MIB)) for _ in range(6)),
            _close_code(url, "x" * (14 * MIB)),
        )
        harness.sample()
    assert accepted == [-1] * 12, "under the limits a scope is accepted"
    assert refused == [1009] * 11


# -- item 2: private markets -----------------------------------------------------------------------------------


def test_seed_connections_build_nothing_before_an_accepted_hello(target: RunningServer, harness: Harness) -> None:
    url = target.ws_url("/v1/?seed=")
    with harness.attack("2: 30 keyless ?seed= connections that never say hello"):
        codes = _gather(*(_close_code(url + str(seed), wait_s=HELLO_TIMEOUT_S + 10) for seed in range(30)))
    assert codes == [1008] * 30, "closed by the hello timeout, no market built"


def test_private_markets_are_capped(target: RunningServer, harness: Harness) -> None:
    async def private(seed: int) -> int:
        return await _close_code(target.ws_url(f"/v1/?seed={seed}"), _hello(), wait_s=4)

    with harness.attack("2: 3 authenticated ?seed= hellos, --max-private-markets 2"):
        codes = _gather(*(private(seed) for seed in (1, 2, 3)))
        harness.sample()
    assert sorted(codes) == [-1, -1, 1013]


# -- items 3 and 9: numbers through the admin API ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        ("/admin/clock/speed", b'{"speed": 1e308}', "application/json"),
        ("/admin/clock/step", b'{"seconds": "' + b"9" * 400 + b's"}', "application/json"),
        ("/admin/scenario", b"[[events]]\nat = 1e308\ntype = 'close'", "application/toml"),
        (
            "/admin/scenario",
            b"[[events]]\nat = 1\ntype = 'volatility'\nasset = 'BTC'\nmultiplier = 1e308\nduration = 1",
            "application/toml",
        ),
    ],
)
def test_numbers_that_stopped_the_market_get_400(
    target: RunningServer, harness: Harness, path: str, body: bytes, content_type: str
) -> None:
    with harness.attack(f"3, 9: POST {path} {body[:40].decode()}".replace("\n", " ")):
        status, answer = _http(target.port, "POST", path, body, **{"Content-Type": content_type})
        time.sleep(2)  # the market goes on: the watcher's window must hold messages
    assert status == 400 and b"error" in answer
    assert _http(target.port, "GET", "/ready")[0] == 200


def test_the_admin_api_refuses_cross_site_and_rebound_requests(target: RunningServer, harness: Harness) -> None:
    with harness.attack("9: cross-site text/plain POST, rebound Host, a 300 s step"):
        cross_site = _http(
            target.port,
            "POST",
            "/admin/clock/pause",
            b"{}",
            Origin="https://evil.example",
            **{"Content-Type": "text/plain"},
        )
        rebound = _http(target.port, "GET", "/admin/status", Host="evil.example:80")
        step = _http(
            target.port, "POST", "/admin/clock/step", b'{"seconds": 300}', **{"Content-Type": "application/json"}
        )
        time.sleep(1)
    assert cross_site[0] == 403 and rebound[0] == 403
    assert step[0] == 200 and orjson.loads(step[1])["paused"] is False


# -- item 4: clients that do not read ---------------------------------------------------------------------------


def test_clients_that_do_not_read_are_closed_and_their_sockets_aborted(target: RunningServer, harness: Harness) -> None:
    everything = _hello(subscribe_data_type=["trade", "quote"])
    with harness.attack("4: 10 clients that never read a busy stream"):
        fds_before = open_fds(target.process.pid)
        sockets = []
        for _ in range(10):
            sock = open_websocket(target.port)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(frame(OP_TEXT, everything.encode()))
            sockets.append(sock)
        # the server closes them (1013) and, as they never answer the close, aborts their sockets
        deadline = time.monotonic() + 60
        while open_fds(target.process.pid) > fds_before + 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        closed_by_server = open_fds(target.process.pid) <= fds_before + 2
        for sock in sockets:
            sock.close()
    assert closed_by_server, "the server still holds the sockets of clients that do not read"


# -- items 5 and 6: request heads and timeouts ------------------------------------------------------------------


def test_a_100_mib_header_is_refused_early(target: RunningServer, harness: Harness) -> None:
    with harness.attack("5: a 100 MiB header"):
        answer = raw_http_answer(
            target.port, b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (100 * MIB) + b"\r\n\r\n"
        )
        harness.sample()
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_slow_and_silent_connections_are_closed(target: RunningServer, harness: Harness) -> None:
    too_many_headers = websocket_handshake(target.port, extra_headers="".join(f"X-{i}: {i}\r\n" for i in range(130)))

    async def answer(request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", target.port)
        writer.write(request)
        async with asyncio.timeout(HEADER_TIMEOUT_S + 10):
            received = await reader.read()
        writer.close()
        return received

    async def attack() -> list[bytes]:
        partial = [answer(b"GET /health HTTP/1.1\r\nHost: x\r\n") for _ in range(50)]
        silent = [answer(b"") for _ in range(50)]
        upgrades = [answer(too_many_headers) for _ in range(20)]
        return list(await asyncio.gather(*partial, *silent, *upgrades))

    with harness.attack("6: 50 unfinished heads, 50 silent sockets, 20 upgrades with 130 headers, 20 mute WebSockets"):
        answers = asyncio.run(attack())
        mute = _gather(*(_close_code(target.ws_url(), headers=KEY, wait_s=HELLO_TIMEOUT_S + 10) for _ in range(20)))
    assert all(a.startswith(b"HTTP/1.1 408 ") for a in answers[:100])
    assert all(a.startswith(b"HTTP/1.1 431 ") for a in answers[100:])
    assert mute == [1008] * 20


# -- item 7: REST filters ---------------------------------------------------------------------------------------


def test_rest_filters_cost_matches_not_symbols_times_prefixes(target: RunningServer, harness: Harness) -> None:
    # as many prefixes as a request head takes (16 KiB); --max-filter-values (10,000) is the cap past a larger head
    prefixes = ",".join(f"BINANCE_{i}" for i in range(1_000))
    issue_attack = ",".join(f"P{i}" for i in range(7_000))

    async def attack() -> tuple[list[int], list[float]]:
        async def get(path: str) -> int:
            return (await asyncio.to_thread(_http, target.port, "GET", path, None, **KEY))[0]

        async def health() -> list[float]:
            latencies = []
            for _ in range(40):
                started = time.monotonic()
                await asyncio.to_thread(_http, target.port, "GET", "/health")
                latencies.append(time.monotonic() - started)
            return latencies

        big = [get(f"/v1/symbols?filter_symbol_id={prefixes}") for _ in range(4)]
        statuses, latencies = await asyncio.gather(asyncio.gather(*big), health())
        return list(statuses), latencies

    with harness.attack("7: 4 REST requests of 1,000 prefixes while /health is timed, 7,000 prefixes"):
        statuses, latencies = asyncio.run(attack())
        request = f"GET /v1/symbols?filter_symbol_id={issue_attack} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        too_long = raw_http_answer(target.port, request)
    assert statuses == [200, 200, 200, 200]
    assert too_long.startswith(b"HTTP/1.1 431 "), "7,000 prefixes do not fit in a request head any more"
    assert max(latencies) < 0.25, f"/health took {max(latencies) * 1000:.0f} ms"


# -- item 10: keys in logs --------------------------------------------------------------------------------------


def test_keys_never_reach_the_log(target: RunningServer, harness: Harness) -> None:
    with harness.attack("10: keys in the query, the path, a header and a hello"):
        _gather(
            _close_code(target.ws_url("/v1/?apikey=SECRET-QUERY"), wait_s=2),
            _close_code(target.ws_url("/v1/APIKEY-SECRET-PATH"), wait_s=2),
            _close_code(target.ws_url(), _hello(apikey="SECRET-HELLO"), headers={"X-CoinAPI-Key": "SECRET-HEADER"}),
        )
        _http(target.port, "GET", "/v1/exchanges?apikey=SECRET-REST")
    assert "SECRET" not in target.log()


# -- item 12: RFC 6455 -------------------------------------------------------------------------------------------


def test_conformance_cases_get_their_close_codes(target: RunningServer, harness: Harness) -> None:
    def code_for(payload: bytes) -> int | None:
        with open_websocket(target.port) as sock:
            sock.sendall(payload)
            return read_until_close(sock)[1]

    with harness.attack("12: invalid UTF-8, a binary hello, a 20 MiB frame, version 8"):
        codes = [
            code_for(frame(OP_TEXT, b'{"type":"hello","apikey":"\xff"}')),
            code_for(frame(OP_BINARY, _hello().encode())),
            code_for(frame(OP_TEXT, b"x" * (20 * MIB))),
        ]
        version = raw_http_answer(target.port, websocket_handshake(target.port, version="8"))
    assert codes == [1007, 1003, 1009]
    assert version.startswith(b"HTTP/1.1 426 ") and b"Sec-WebSocket-Version: 13" in version


# -- connections ------------------------------------------------------------------------------------------------


def test_connections_past_the_per_address_limit_get_429(target: RunningServer, harness: Harness) -> None:
    async def attack() -> tuple[int, int]:
        async def one() -> Callable[[], Awaitable[None]] | int:
            try:
                ws = await connect(target.ws_url(), additional_headers=KEY, open_timeout=20)
            except InvalidStatus as refused:
                return refused.response.status_code
            return ws.close

        results = await asyncio.gather(*(one() for _ in range(400)))
        for result in results:
            if not isinstance(result, int):
                await result()
        refused = [r for r in results if isinstance(r, int)]
        return len(results) - len(refused), sum(1 for r in refused if r == 429)

    with harness.attack("connections: 400 from one address, --max-connections-per-ip 300"):
        opened, refused = asyncio.run(attack())
    assert opened == 300 - 1 and refused == 100 + 1, "the watcher holds one of the 300"
