"""An asyncio test: the handle's ``aio`` controls are awaited while the bot runs on the same event loop.

pytest runs plain ``def`` tests; without a plugin such as pytest-asyncio, a test drives its coroutine with
``asyncio.run``. ``await handle.aio.step(30)`` makes the HTTP call on a worker thread, so the loop runs on.
"""

from __future__ import annotations

import asyncio

import pytest
from toy_bot import first_trades


@pytest.mark.coinapi_emulator(seed=42, paused=True)
def test_bot_sees_the_stepped_seconds(coinapi_emulator):
    async def scenario():
        bot = asyncio.create_task(first_trades(coinapi_emulator.url, 5))
        await coinapi_emulator.aio.wait_for_subscribers(1)  # the bot ran meanwhile: its hello was processed
        status = await coinapi_emulator.aio.step(30)  # thirty virtual seconds, published at once
        return status, await bot

    status, trades = asyncio.run(scenario())
    assert len(trades) == 5
    assert all("2024-01-01T00:00:00" < trade["time_exchange"] <= status["time"] for trade in trades)
