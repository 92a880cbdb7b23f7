"""Tests that share one emulator for the whole session: the ``coinapi_emulator_shared`` fixture.

One start-up for the session instead of one per test. Each test dials a private market, ``url_for(seed=N)``: a
market of its own, the same for the same seed whatever other tests do, so tests stay independent. They leave the
shared market's clock and scenarios alone (no pause, step, set_speed or load_scenario on this handle): those act
on every test at once.

In external mode (``pytest --coinapi-emulator-url http://127.0.0.1:8765``) these run unchanged against that
emulator, which needs no admin API for them.
"""

from __future__ import annotations

import asyncio

from toy_bot import SYMBOL, first_trades


def test_the_same_seed_gives_the_same_trades(coinapi_emulator_shared):
    url = coinapi_emulator_shared.url_for(seed=7)  # ws://127.0.0.1:PORT/v1/?seed=7
    first, second = (asyncio.run(first_trades(url, 10)) for _ in range(2))
    assert first == second  # to the timestamp: the market starts when the bot's hello arrives


def test_each_seed_is_a_market_of_its_own(coinapi_emulator_shared):
    one, two = (asyncio.run(first_trades(coinapi_emulator_shared.url_for(seed=seed), 10)) for seed in (1, 2))
    assert one != two
    assert {trade["symbol_id"] for trade in one + two} == {SYMBOL}
