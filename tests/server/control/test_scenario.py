from __future__ import annotations

import re

import pytest

from coinapi_emulator.server.control.faults import Fault
from coinapi_emulator.server.control.scenario import (
    Scenario,
    ScenarioError,
    Step,
    Timeline,
    load_scenario,
    parse_duration_ns,
)
from coinapi_emulator.simulator.catalog import build_catalog, shard_catalog
from coinapi_emulator.simulator.scenario import Halt, PriceJump, SpreadWidening, VolatilityBurst

CATALOG = build_catalog()
S = 1_000_000_000


@pytest.mark.parametrize(
    ("value", "ns"), [(10, 10 * S), (2.5, 2_500_000_000), ("500ms", 500_000_000), ("2m", 120 * S), ("1h", 3600 * S)]
)
def test_durations(value: object, ns: int) -> None:
    assert parse_duration_ns(value, "'at'") == ns


@pytest.mark.parametrize("value", [-1, "ten seconds", True, None, "5 days", 1e308, float("nan"), "9" * 400 + "s"])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ScenarioError, match="'at'"):
        parse_duration_ns(value, "'at'")


def test_every_event_type_loads_with_start_and_end_steps() -> None:
    scenario = load_scenario(
        """
        name = "everything"
        [[events]]
        at = 1
        type = "price_jump"
        asset = "BTC"
        percent = -8
        [[events]]
        at = "2s"
        type = "volatility"
        asset = "ETH"
        multiplier = 5
        duration = "10s"
        [[events]]
        at = "3s"
        type = "halt"
        symbol = "BINANCE_SPOT_BTC_USDT"
        duration = 5
        [[events]]
        at = "4s"
        type = "outage"
        exchange = "KRAKEN"
        duration = 5
        [[events]]
        at = "5s"
        type = "spread"
        exchange = "COINBASE"
        multiplier = 10
        duration = 5
        [[events]]
        at = "6s"
        type = "drop_quotes"
        fraction = 0.5
        duration_s = 3
        """,
        CATALOG,
    )
    assert scenario.name == "everything"
    actions = [(step.at_ns // S, type(step.action).__name__, step.ending) for step in scenario.steps]
    assert actions == [
        (1, "PriceJump", False),
        (2, "VolatilityBurst", False),
        (12, "VolatilityBurst", True),
        (3, "Halt", False),
        (8, "Halt", True),
        (4, "Halt", False),
        (9, "Halt", True),
        (5, "SpreadWidening", False),
        (10, "SpreadWidening", True),
        (6, "Fault", False),
    ]
    outage = scenario.steps[5].action
    assert isinstance(outage, Halt) and all(s.startswith("KRAKEN_") for s in outage.symbol_ids)
    assert isinstance(scenario.steps[0].action, PriceJump)
    assert isinstance(scenario.steps[1].action, VolatilityBurst)
    assert isinstance(scenario.steps[7].action, SpreadWidening)
    assert isinstance(scenario.steps[9].action, Fault) and scenario.steps[9].action.fraction == 0.5


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not toml [", "not valid TOML"),
        ('name = "x"', "at least one [[events]]"),
        ('oops = 1\n[[events]]\nat = 1\ntype = "close"', "unknown top-level key"),
        ('[[events]]\ntype = "close"', "event 1 (close): needs 'at'"),
        ('[[events]]\nat = 1\ntype = "meteor"', "'type' must be one of"),
        ('[[events]]\nat = 1\ntype = "price_jump"\nasset = "NOPE"\npercent = 1', "'asset' 'NOPE' is not a priced"),
        ('[[events]]\nat = 1\ntype = "price_jump"\nasset = "BTC"\npercent = -100', "above -100"),
        ('[[events]]\nat = 1\ntype = "price_jump"\nasset = "BTC"', "needs 'percent'"),
        ('[[events]]\nat = 1\ntype = "halt"\nduration = 1', "needs 'symbol' or 'exchange'"),
        ('[[events]]\nat = 1\ntype = "halt"\nsymbol = "X_SPOT_A_B"\nduration = 1', "not in the catalogue"),
        ('[[events]]\nat = 1\ntype = "outage"\nexchange = "NOPE"\nduration = 1', "has no symbols"),
        ('[[events]]\nat = 1\ntype = "spread"\nexchange = "KRAKEN"\nmultiplier = 0\nduration = 1', "must be > 0"),
        ('[[events]]\nat = 1\ntype = "volatility"\nasset = "BTC"\nmultiplier = 2', "needs 'duration'"),
        (
            '[[events]]\nat = 1\ntype = "halt"\nsymbol = "BINANCE_SPOT_BTC_USDT"\nduration = 1\ncolor = 1',
            "unknown field",
        ),
        ('[[events]]\nat = 1\ntype = "stall"', "needs 'ms'"),
        ('[[events]]\nat = 1\ntype = "drop_quotes"\nfraction = 2.0', "between 0 and 1"),
        ('[[events]]\nat = 1\ntype = "close"\ncode = 1006', "not a close code"),
        ("events = [1]", "event 1 must be a table"),
        ('[[events]]\nat = 1\ntype = "volatility"\nasset = "BTC"\nmultiplier = 1e308\nduration = 1', "at most 100"),
        ('[[events]]\nat = 1\ntype = "spread"\nexchange = "KRAKEN"\nmultiplier = inf\nduration = 1', "at most 100"),
        ('[[events]]\nat = 1\ntype = "price_jump"\nasset = "BTC"\npercent = 1e308', "at most 1000"),
        ('[[events]]\nat = 1\ntype = "price_jump"\nasset = "BTC"\npercent = nan', "must be a number"),
        ('[[events]]\nat = 1\ntype = "halt"\nexchange = "KRAKEN"\nduration = 1e308', "at most 366 days"),
        ('[[events]]\nat = 1\ntype = "stall"\nms = 100000000000', "'ms' must be at most"),
        ('[[events]]\nat = 1\ntype = "latency"\nms = 10\nduration_s = 1e308', "'duration_s' must be at most"),
    ],
)
def test_bad_scenarios_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(text, CATALOG, source="bad.toml")


def test_timeline_runs_steps_in_time_order() -> None:
    scenario = load_scenario(
        '[[events]]\nat = 2\ntype = "stall"\nms = 5\n[[events]]\nat = 1\ntype = "close"\n', CATALOG
    )
    timeline = Timeline()
    timeline.schedule(scenario, 100 * S)
    ran: list[Step] = []
    assert timeline.next_ns() == 101 * S and timeline.pending() == 2
    timeline.run_due(100 * S, ran.append)
    assert ran == []
    timeline.run_due(102 * S, ran.append)
    assert [step.action.kind for step in ran if isinstance(step.action, Fault)] == ["close", "stall"]
    assert timeline.next_ns() is None and timeline.loaded == ["scenario"]


def test_a_shard_keeps_its_own_symbols_every_asset_event_and_the_faults() -> None:
    scenario = load_scenario(
        """
        [[events]]
        at = 0
        type = "price_jump"
        asset = "BTC"
        percent = -8
        [[events]]
        at = 1
        type = "outage"
        exchange = "KRAKEN"
        duration = 5
        [[events]]
        at = 2
        type = "spread"
        symbol = "BINANCE_SPOT_BTC_USDT"
        multiplier = 3
        duration = 5
        [[events]]
        at = 3
        type = "close"
        """,
        CATALOG,
    )
    binance = shard_catalog(CATALOG, 0, 2)
    assert binance.symbol("BINANCE_SPOT_BTC_USDT") is not None and binance.symbol("KRAKEN_SPOT_BTC_USD") is None
    part = scenario.within(binance)
    assert [type(step.action).__name__ for step in part.steps] == [
        "PriceJump",
        "SpreadWidening",
        "SpreadWidening",
        "Fault",
    ]
    kraken_part = scenario.within(shard_catalog(CATALOG, 1, 2))
    halts = [step.action for step in kraken_part.steps if isinstance(step.action, Halt)]
    assert len(halts) == 2 and all(s.startswith("KRAKEN_") for halt in halts for s in halt.symbol_ids)
    assert scenario.within(CATALOG) == scenario
    assert scenario.has_faults and not Scenario("x", part.steps[:3]).has_faults
