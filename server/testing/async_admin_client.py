"""The admin API for asyncio code: ``AdminClient``'s calls, awaited without blocking the event loop.

Each call runs the blocking client's HTTP request on a worker thread (``asyncio.to_thread``); the waits fetch the
status the same way and sleep with ``asyncio.sleep`` between polls, so the code under test keeps running on the
loop meanwhile. Any ``AdminClient`` works, an ``EmulatorHandle`` included (``handle.aio`` is one of these).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterable, Mapping
from typing import Any

from coinapi_emulator.server.testing import waiting
from coinapi_emulator.server.testing.admin_client import AdminClient, Connection


class AsyncAdminClient:
    """``AsyncAdminClient(AdminClient(url))``: the same controls as ``AdminClient``, as coroutines."""

    def __init__(self, client: AdminClient) -> None:
        #: the blocking client whose calls run on worker threads
        self.client = client

    def __repr__(self) -> str:
        return f"<AsyncAdminClient {self.client.base_url}>"

    async def status(self) -> dict[str, Any]:
        """Clock, connections and counters."""
        return await asyncio.to_thread(self.client.status)

    async def pause(self) -> dict[str, Any]:
        """Freeze virtual time."""
        return await asyncio.to_thread(self.client.pause)

    async def resume(self) -> dict[str, Any]:
        """Let virtual time run again."""
        return await asyncio.to_thread(self.client.resume)

    async def step(self, seconds: float) -> dict[str, Any]:
        """Move virtual time forward by ``seconds`` now."""
        return await asyncio.to_thread(self.client.step, seconds)

    async def set_speed(self, speed: float | str) -> dict[str, Any]:
        """Virtual seconds per wall second, or ``"max"``."""
        return await asyncio.to_thread(self.client.set_speed, speed)

    async def inject_fault(self, fault: str, **params: Any) -> dict[str, Any]:
        """Apply a transport fault now (``AdminClient.inject_fault``)."""
        return await asyncio.to_thread(self.client.inject_fault, fault, **params)

    async def load_scenario(self, text_or_path: str | os.PathLike[str]) -> dict[str, Any]:
        """Load a scenario from a path or TOML text (``AdminClient.load_scenario``)."""
        return await asyncio.to_thread(self.client.load_scenario, text_or_path)

    async def journal(self, connection: Connection | None = None) -> Any:
        """What clients sent (``AdminClient.journal``)."""
        return await asyncio.to_thread(self.client.journal, connection)

    async def inject(
        self,
        text: str | None = None,
        *,
        message: Mapping[str, Any] | None = None,
        connections: Connection | Iterable[Connection] = (),
    ) -> int:
        """Send a frame to connections (``AdminClient.inject``); how many got it."""
        return await asyncio.to_thread(self.client.inject, text, message=message, connections=connections)

    async def wait_for_subscription(
        self,
        data_type: str,
        symbol_id: str | None = None,
        timeout_s: float = waiting.SUBSCRIPTION_TIMEOUT_S,
        *,
        poll_s: float = waiting.SUBSCRIBERS_POLL_S,
    ) -> dict[str, Any]:
        """Until a connection receives ``data_type`` (of ``symbol_id``); its journal. ``TimeoutError`` if not."""
        wait = waiting.for_subscription(data_type, symbol_id, timeout_s, poll_s)
        return waiting.newest_journal(await self._wait(wait))

    async def wait_for_messages(
        self, count: int, timeout_s: float = waiting.MESSAGES_TIMEOUT_S, *, poll_s: float = waiting.MESSAGES_POLL_S
    ) -> dict[str, Any]:
        """Until the server has sent at least ``count`` messages in all; the status. ``TimeoutError`` if not."""
        return await self._wait(waiting.for_messages(count, timeout_s, poll_s))

    async def wait_for_subscribers(
        self,
        count: int = 1,
        timeout_s: float = waiting.SUBSCRIBERS_TIMEOUT_S,
        *,
        poll_s: float = waiting.SUBSCRIBERS_POLL_S,
    ) -> dict[str, Any]:
        """Until at least ``count`` connections have a subscription; the status. ``TimeoutError`` if not."""
        return await self._wait(waiting.for_subscribers(count, timeout_s, poll_s))

    async def _wait(self, wait: waiting.Wait) -> dict[str, Any]:
        while not wait.done(answer := await asyncio.to_thread(self.client.poll, wait)):
            await asyncio.sleep(wait.poll_s)
        return answer
