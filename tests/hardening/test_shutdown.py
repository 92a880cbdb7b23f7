"""Item 11 against a server of its own (the attack ends it): at the first signal new connections are refused,
``/ready`` answers 503 on a connection opened before, every client gets CoinAPI's ``reconnect`` notice, and a
second signal ends the grace period at once with the signal's exit status."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import signal
import socket
import time
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.processes import RunningServer, run_server

from .test_attacks import _hello

pytestmark = pytest.mark.hardening


def test_a_signal_drains_and_a_second_one_ends_it_at_once(tmp_path: Path) -> None:
    with run_server(["--exchanges", "5", "--shutdown-grace", "5"], tmp_path) as running:
        probe = http.client.HTTPConnection("127.0.0.1", running.port, timeout=5)
        with contextlib.closing(probe):
            _drain_and_end(running, probe)


def _drain_and_end(running: RunningServer, probe: http.client.HTTPConnection) -> None:
    probe.request("GET", "/ready")
    ready = probe.getresponse()
    assert ready.status == 200 and ready.read()

    async def client() -> list[str]:
        seen: list[str] = []
        async with connect(running.ws_url(), max_queue=None) as ws:
            await ws.send(_hello(heartbeat=True))
            await ws.recv()
            running.process.send_signal(signal.SIGTERM)
            try:
                async for raw in ws:
                    seen.append(orjson.loads(raw)["type"])
                    if seen[-1] == "reconnect":
                        break
            except ConnectionClosed:
                pass
        return seen

    seen = asyncio.run(client())
    assert seen and seen[-1] == "reconnect", seen[-5:]
    probe.request("GET", "/ready")
    draining = probe.getresponse()
    assert draining.status == 503 and orjson.loads(draining.read()) == {"status": "draining"}
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", running.port), timeout=1).close()
    started = time.monotonic()
    running.process.send_signal(signal.SIGTERM)
    running.process.wait(10)
    assert time.monotonic() - started < 1.5, "the second signal did not cut the 5 s grace short"
    assert running.process.returncode == -signal.SIGTERM
