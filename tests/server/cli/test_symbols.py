"""``coinapi-emulator symbols``: the catalogue a server would list, filtered, as a table or JSON, without a server."""

from __future__ import annotations

import orjson
from click.testing import CliRunner

from coinapi_emulator.server.cli import main as cli
from coinapi_emulator.server.cli.symbols import describe, select, table
from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.simulator.catalog import SymbolType

START = "2024-01-01T00:00:00Z"
START_NS = 1_704_067_200_000_000_000


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli.main, ["symbols", "--start-time", START, *args], env=env)
    return result.exit_code, result.output


def test_the_json_lists_what_a_server_with_the_same_flags_serves() -> None:
    code, output = run("--exchanges", "5", "--seed", "3", "--format", "json")
    served = Emulator(Settings(exchanges=5, seed=3, start_time_ns=START_NS)).catalog.symbols
    assert code == 0 and [row["symbol_id"] for row in orjson.loads(output)] == [s.symbol_id for s in served]


def test_filters_combine_and_are_case_insensitive() -> None:
    code, output = run("--exchange", "kraken", "--asset", "btc", "--type", "spot", "--format", "json")
    rows = orjson.loads(output)
    assert code == 0 and rows
    assert all(
        r["symbol_id"].startswith("KRAKEN_SPOT_") and "BTC" in (r["asset_id_base"], r["asset_id_quote"]) for r in rows
    )


def test_the_table_shows_derivatives_expiry_strike_and_unit() -> None:
    code, output = run("--exchange", "DERIBIT", "--type", "OPTION")
    header, first, *_ = output.splitlines()
    assert code == 0 and header.split()[:2] == ["symbol_id", "symbol_type"]
    assert "expiry" in header and "strike" in header and "option_type" in header
    assert first.startswith("DERIBIT_OPT_") and ("CALL" in first or "PUT" in first)


def test_the_catalogue_flags_are_read_from_serves_variables() -> None:
    code, output = run("--format", "json", env={"COINAPI_EMULATOR_EXCHANGES": "1"})
    assert code == 0 and {row["symbol_id"].split("_")[0] for row in orjson.loads(output)} == {"BINANCE"}


def test_no_match_is_a_usage_error() -> None:
    code, output = run("--asset", "NOPE")
    assert code == 2 and "no symbol matches these filters" in output


def test_select_describe_and_table_without_the_command() -> None:
    symbols = Emulator(Settings(exchanges=20, max_symbols_per_exchange=20, start_time_ns=START_NS)).catalog.symbols
    perps = select(symbols, exchanges=set(), assets={"ETH"}, types={SymbolType.PERPETUAL.value})
    assert perps and all(s.symbol_type is SymbolType.PERPETUAL for s in perps)
    assert select(symbols, exchanges=set(), assets=set(), types=set()) == list(symbols)
    row = describe(perps[0])
    assert row["contract_unit"] and "expiry" not in row
    assert table([{"a": 1.5, "b": None}, {"a": "long value"}]).splitlines() == ["a           b", "1.5", "long value"]
