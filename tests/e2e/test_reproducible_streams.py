"""Two runs with the same seed and start time give identical bytes: hashes over the first 30,000 messages.

Each run is a fresh ``--paused`` server; the client subscribes while the clock is still at the start time,
then the test steps the virtual clock through the admin API, so nothing depends on wall-clock timing.
A second client with another scope is connected to one of the runs to show that other clients do not change
what the first receives; in that run the client also negotiates permessage-deflate, which must not change the
messages either (the client inflates them).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.extensions.permessage_deflate import PerMessageDeflate

from coinapi_emulator.server.testing.admin_client import AdminClient

from .processes import START_TIME, RunningServer, run_server

pytestmark = pytest.mark.e2e
MESSAGES = 30_000
HELLO = json.dumps(
    {
        "type": "hello",
        "apikey": "k",
        "heartbeat": False,
        "subscribe_data_type": ["trade", "quote", "book"],
        "subscribe_filter_exchange_id": ["BINANCE", "COINBASE", "KRAKEN"],
    }
)


async def first_messages_digest(server: RunningServer, *, with_bystander: bool) -> tuple[str, int]:
    admin = AdminClient(server.http_url)
    digest = hashlib.sha256()
    compression = "deflate" if with_bystander else None
    async with connect(server.ws_url(), max_queue=None, max_size=None, compression=compression) as ws:
        negotiated = any(isinstance(extension, PerMessageDeflate) for extension in ws.protocol.extensions)
        assert negotiated == with_bystander
        await ws.send(HELLO)
        if with_bystander:
            bystander = await connect(server.ws_url(), max_queue=None)
            await bystander.send('{"type":"hello","apikey":"k","subscribe_data_type":["trade","book5"]}')
        await asyncio.sleep(0.3)  # no acks in this protocol: give the hellos time to land before time moves
        received = 0
        while received < MESSAGES:
            await asyncio.to_thread(admin.step, 20)
            try:
                while received < MESSAGES:
                    frame = await asyncio.wait_for(ws.recv(decode=False), 0.3)
                    digest.update(frame + b"\n")
                    received += 1
            except TimeoutError:
                pass
        if with_bystander:
            await bystander.close()
    return digest.hexdigest(), received


def run_once(log_dir: Path, *, with_bystander: bool) -> str:
    log_dir.mkdir()
    args = ["--seed", "7", "--start-time", START_TIME, "--admin", "--paused", "--exchanges", "12"]
    with run_server(args, log_dir) as server:
        digest, received = asyncio.run(first_messages_digest(server, with_bystander=with_bystander))
    assert received == MESSAGES
    return digest


def test_same_seed_same_bytes_whatever_other_clients_do(tmp_path: Path) -> None:
    first = run_once(tmp_path / "a", with_bystander=False)
    second = run_once(tmp_path / "b", with_bystander=True)
    assert first == second
