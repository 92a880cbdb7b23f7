"""Testing a toy trading bot against an emulator of the test's own, with the ``coinapi_emulator`` pytest fixture.

The fixture starts a fresh emulator on a free port for each test and stops it afterwards; the marker picks its
seed, speed, scenario and whether the clock starts paused. The handle gives the URL and the controls. In external
mode (``--coinapi-emulator-url``) these tests are skipped: they need a server configured for them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from toy_bot import ToyBot


@contextmanager
def running(bot: ToyBot) -> Iterator[ToyBot]:
    bot.start()
    try:
        yield bot
    finally:
        bot.stop()


def wait_until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.coinapi_emulator(seed=42, paused=True)
def test_bot_sees_the_market_only_when_the_clock_moves(coinapi_emulator):
    with running(ToyBot(coinapi_emulator.url)) as bot:
        coinapi_emulator.wait_for_subscribers(1)  # the bot's hello was processed: a step cannot be missed
        time.sleep(0.2)
        assert bot.trades == []  # paused: the market stands still

        status = coinapi_emulator.step(10)  # ten virtual seconds, published at once
        wait_until(lambda: len(bot.trades) == status["messages_sent"])
        assert bot.trades, "BTC/USDT on Binance trades every few seconds"
        assert all("2024-01-01T00:00:00" < trade["time_exchange"] <= status["time"] for trade in bot.trades)
        assert [trade["sequence"] for trade in bot.trades] == list(range(1, len(bot.trades) + 1))
        assert 10_000 < bot.vwap() < 1_000_000


@pytest.mark.coinapi_emulator(speed=2)
def test_bot_reconnects_when_the_server_closes_the_connection(coinapi_emulator):
    with running(ToyBot(coinapi_emulator.url)) as bot:
        coinapi_emulator.wait_for_messages(5)  # the market runs twice as fast as real time

        coinapi_emulator.inject_fault("close", code=1001)  # "going away", as during a real server restart
        wait_until(lambda: bot.close_codes == [1001])
        seen = len(bot.trades)
        wait_until(lambda: len(bot.trades) > seen)  # trading again on a new connection
        assert coinapi_emulator.status()["connections"] == 1

        coinapi_emulator.pause()  # the market stops; trades already on their way still arrive
        time.sleep(0.2)
        seen, frozen_at = len(bot.trades), coinapi_emulator.status()["time"]
        time.sleep(0.3)
        assert len(bot.trades) == seen and coinapi_emulator.status()["time"] == frozen_at


def trades_of_first_seconds(emulator, seconds: float) -> list[tuple[str, float, float]]:
    with running(ToyBot(emulator.url)) as bot:
        emulator.wait_for_subscribers(1)
        sent = emulator.step(seconds)["messages_sent"]
        wait_until(lambda: len(bot.trades) == sent)
        return [(trade["time_exchange"], trade["price"], trade["size"]) for trade in bot.trades]


def test_same_seed_gives_the_same_market(coinapi_emulator_factory):
    runs = [trades_of_first_seconds(coinapi_emulator_factory(seed=7, paused=True), 3) for _ in range(2)]
    assert runs[0] == runs[1] != []  # two servers, one market
