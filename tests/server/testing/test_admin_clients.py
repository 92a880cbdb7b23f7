"""The blocking and the asyncio admin clients wait the same way; the asyncio one never blocks its event loop.

A fake ``status`` stands in for the server (its HTTP calls are tested on real servers: tests/e2e).
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from coinapi_emulator.server.testing.admin_client import AdminClient, scenario_text
from coinapi_emulator.server.testing.async_admin_client import AsyncAdminClient


class ScriptedServer(AdminClient):
    """Answers ``GET /status`` from a script of (messages sent, connections subscribed), repeating the last answer,
    and ``GET /journal?...`` with as many journals as connections are subscribed; each answer takes ``latency_s``."""

    def __init__(self, script: list[tuple[int, int]], latency_s: float = 0.0) -> None:
        super().__init__("http://127.0.0.1:1")
        self.script = script
        self.latency_s = latency_s
        self.calls = 0

    def _call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json") -> Any:
        time.sleep(self.latency_s)
        sent, subscribed = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        if path.startswith("/journal?"):
            return {"connections": [{"id": n, "path": path} for n in range(subscribed)]}
        assert (method, path) == ("GET", "/status")
        routes = [1] * subscribed + [0]  # and one connection whose hello has not come yet
        return {"messages_sent": sent, "clients": [{"routes": count} for count in routes]}


def test_waits_return_the_first_status_that_meets_the_count() -> None:
    server = ScriptedServer([(0, 0), (4, 0), (9, 2), (12, 2)])
    assert server.wait_for_messages(9, poll_s=0)["messages_sent"] == 9
    assert server.wait_for_subscribers(2, poll_s=0)["messages_sent"] == 12
    assert server.calls == 4


@pytest.mark.parametrize("is_async", [False, True])
def test_a_subscription_wait_returns_the_newest_matching_journal(is_async: bool) -> None:
    server = ScriptedServer([(0, 0), (0, 0), (0, 2)])
    if is_async:
        found = asyncio.run(AsyncAdminClient(server).wait_for_subscription("ohlcv", "A_B", poll_s=0))
    else:
        found = server.wait_for_subscription("ohlcv", "A_B", poll_s=0)
    assert found == {"id": 1, "path": "/journal?data_type=ohlcv&symbol_id=A_B"} and server.calls == 3
    with pytest.raises(TimeoutError, match=r"^0 of 1 connection receiving trade after 0.02 s$"):
        ScriptedServer([(0, 0)]).wait_for_subscription("trade", timeout_s=0.02, poll_s=0.01)


def test_async_waits_return_the_same_statuses() -> None:
    async def waits(client: AsyncAdminClient) -> tuple[int, int]:
        sent = (await client.wait_for_messages(9, poll_s=0))["messages_sent"]
        return sent, (await client.wait_for_subscribers(2, poll_s=0))["messages_sent"]

    assert asyncio.run(waits(AsyncAdminClient(ScriptedServer([(0, 0), (4, 0), (9, 2), (12, 2)])))) == (9, 12)


@pytest.mark.parametrize("is_async", [False, True])
def test_a_wait_that_runs_out_says_how_far_it_got(is_async: bool) -> None:
    server = ScriptedServer([(3, 1)])
    with pytest.raises(TimeoutError, match=r"^3 of 5 messages sent after 0.05 s$"):
        if is_async:
            asyncio.run(AsyncAdminClient(server).wait_for_messages(5, 0.05, poll_s=0.01))
        else:
            server.wait_for_messages(5, 0.05, poll_s=0.01)
    with pytest.raises(TimeoutError, match=r"^1 of 2 connections subscribed after 0.05 s$"):
        server.wait_for_subscribers(2, 0.05)


def test_the_event_loop_runs_on_while_a_slow_call_or_a_wait_is_awaited() -> None:
    server = ScriptedServer([(0, 0), (0, 0), (0, 0), (50, 0)], latency_s=0.05)
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    async def run() -> dict[str, Any]:
        ticker = asyncio.create_task(tick())
        try:
            return await AsyncAdminClient(server).wait_for_messages(50, poll_s=0.05)
        finally:
            ticker.cancel()

    started = time.monotonic()
    assert asyncio.run(run())["messages_sent"] == 50
    # four status calls of 50 ms and three polls of 50 ms: ~0.35 s, during which the ticker ran all along
    assert ticks >= (time.monotonic() - started) / 0.005 / 3


def test_calls_run_on_worker_threads() -> None:
    seen: list[str] = []

    class Recorder(AdminClient):
        def _call(
            self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
        ) -> Any:
            seen.append(f"{method} {path} {body!r} {content_type} {threading.current_thread() is main}")
            return {"connections": 2}

    main = threading.current_thread()
    client = AsyncAdminClient(Recorder("http://127.0.0.1:1"))

    async def calls() -> None:
        await client.pause()
        await client.resume()
        await client.step(1.5)
        await client.set_speed("max")
        await client.inject_fault("close", code=4000, connections=[7])
        await client.load_scenario('name = "x"\n')
        await client.status()
        await client.journal(3)
        await client.journal({"id": 8, "entries": []})
        await client.inject("raw", connections=4)
        await client.inject("raw", connections={"id": 9})
        await client.inject(message={"type": "error", "message": "m"}, connections=[5, 6])

    asyncio.run(calls())
    assert seen == [
        "POST /clock/pause b'{}' application/json False",
        "POST /clock/resume b'{}' application/json False",
        "POST /clock/step b'{\"seconds\": 1.5}' application/json False",
        'POST /clock/speed b\'{"speed": "max"}\' application/json False',
        'POST /faults b\'{"fault": "close", "code": 4000, "connections": [7]}\' application/json False',
        "POST /scenario b'name = \"x\"\\n' application/toml False",
        "GET /status None application/json False",
        "GET /journal/3 None application/json False",
        "GET /journal/8 None application/json False",
        'POST /inject b\'{"connections": [4], "text": "raw"}\' application/json False',
        'POST /inject b\'{"connections": [9], "text": "raw"}\' application/json False',
        'POST /inject b\'{"connections": [5, 6], "message": {"type": "error", "message": "m"}}\''
        " application/json False",
    ]


def test_a_scenario_is_a_path_or_its_text(tmp_path: Path) -> None:
    path = tmp_path / "crash.toml"
    path.write_text('name = "crash"\n', encoding="utf-8")
    assert scenario_text(path) == scenario_text(str(path)) == 'name = "crash"\n'
    assert scenario_text('name = "inline"') == 'name = "inline"'
