from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from coinapi_emulator.server.cli import main as cli
from coinapi_emulator.server.cli import serve
from coinapi_emulator.server.config import Settings


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Settings]:
    runs: list[Settings] = []
    monkeypatch.setattr(serve, "run", runs.append)
    return runs


def invoke(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli.main, args, env=env)
    return result.exit_code, result.output


def test_defaults(captured: list[Settings]) -> None:
    assert invoke(["serve"])[0] == 0
    assert captured == [Settings()]


def test_flags_fill_settings(captured: list[Settings]) -> None:
    code, _ = invoke(
        [
            "serve",
            "--port",
            "9000",
            "--seed",
            "7",
            "--speed",
            "max",
            "--start-time",
            "2024-01-01T00:00:00Z",
            "--filter-combine",
            "intersection",
            "--strict-filters",
            "--allow-unfiltered-books",
            "--rate-scale",
            "0.5",
        ]
    )
    assert code == 0
    settings = captured[0]
    assert (settings.port, settings.seed, settings.speed) == (9000, 7, None)
    assert settings.start_time_ns == 1_704_067_200_000_000_000
    assert settings.filter_combine == "intersection" and settings.strict_filters and settings.allow_unfiltered_books
    assert settings.rate_scale == 0.5 and not settings.live_stamps


def test_start_time_without_offset_is_utc_and_offsets_are_honoured(captured: list[Settings]) -> None:
    invoke(["serve", "--start-time", "2024-01-01T00:00:00"])
    invoke(["serve", "--start-time", "2024-01-01T01:00:00+01:00"])
    assert captured[0].start_time_ns == captured[1].start_time_ns == 1_704_067_200_000_000_000


def test_env_variables_are_read(captured: list[Settings]) -> None:
    code, _ = invoke(["serve"], env={"COINAPI_EMULATOR_PORT": "9001", "COINAPI_EMULATOR_SPEED": "10"})
    assert code == 0 and (captured[0].port, captured[0].speed) == (9001, 10.0)


def test_flag_beats_env_variable(captured: list[Settings]) -> None:
    invoke(["serve", "--port", "9002"], env={"COINAPI_EMULATOR_PORT": "9001"})
    assert captured[0].port == 9002


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--speed", "fast"], "'fast' is neither a number nor 'max'"),
        (["--speed", "0"], "must be a positive number at most 1000000"),
        (["--speed", "inf"], "must be a positive number at most 1000000"),
        (["--speed", "1e308"], "must be a positive number at most 1000000"),
        (["--port", "70000"], "70000 is not in the range"),
        (["--start-time", "yesterday"], "is not an ISO 8601 time"),
        (["--log-level", "loud"], "'loud' is not one of"),
        (["--api-keys", "/nonexistent/keys.txt"], "does not exist"),
        (["--bogus"], "No such option --bogus"),
        (["--log-format", "xml"], "'xml' is not one of 'text', 'json'"),
        (["--api-key", " "], "an API key cannot be empty"),
        (["--ssl-keyfile", __file__], "--ssl-keyfile needs --ssl-certfile"),
        (["--history", "two days"], "is not a duration such as 90s, 15m, 36h or 2d"),
        (["--retain", "400d"], "must be from 0 to 366d"),
        (["--scenario", __file__, "--replay", __file__], "--scenario cannot be combined with --replay"),
    ],
    ids=[
        "speed-word",
        "speed-zero",
        "speed-inf",
        "speed-huge",
        "port-range",
        "start-time",
        "log-level",
        "keys-file",
        "unknown",
        "log-format",
        "empty-key",
        "key-without-cert",
        "history-words",
        "retain-too-long",
        "scenario-with-replay",
    ],
)
def test_bad_flags_exit_2_and_say_why(captured: list[Settings], args: list[str], message: str) -> None:
    code, output = invoke(["serve", *args])
    assert code == 2
    assert message.replace("'", "") in output.replace("'", "")
    assert captured == []


def test_empty_key_file_is_a_usage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("# nobody\n\n")

    def run(settings: Settings) -> None:
        raise ValueError(f"{settings.api_keys_file}: no API key in the file (one key per line)")

    monkeypatch.setattr(serve, "run", run)
    code, output = invoke(["serve", "--api-keys", str(keys)])
    assert code == 2 and "no API key in the file" in output


def test_help_lists_every_flag_with_its_env_variable() -> None:
    code, output = invoke(["serve", "--help"])
    output = "".join(output.split())  # help text wraps long names
    assert code == 0
    for flag in [
        "--host",
        "--port",
        "--seed",
        "--speed",
        "--start-time",
        "--log-level",
        "--api-keys",
        "--exchanges",
        "--max-symbols-per-exchange",
        "--rate-scale",
        "--max-buffered-messages",
        "--max-buffered-bytes",
        "--max-buffered-bytes-total",
        "--filter-combine",
        "--strict-filters",
        "--allow-unfiltered-books",
        "--ws-ping-interval",
        "--shutdown-grace",
        "--max-private-markets",
        "--max-connections",
        "--max-connections-per-ip",
        "--forwarded-allow-ips",
        "--hello-timeout",
        "--max-header-size",
        "--max-header-count",
        "--header-timeout",
        "--max-message-size",
        "--max-filter-values",
        "--max-messages-per-second",
        "--admin",
        "--admin-token",
        "--admin-token-file",
        "--paused",
        "--scenario",
        "--replay",
        "--log-format",
        "--access-log",
        "--ssl-certfile",
        "--ssl-keyfile",
        "--api-key",
        "--retain",
        "--retain-bars",
        "--history",
        "--rest-rate-limit",
    ]:
        assert flag in output
        assert "COINAPI_EMULATOR_" + flag[2:].replace("-", "_").upper() in output


def test_trusted_proxies_from_the_flag_or_the_variable(captured: list[Settings]) -> None:
    assert invoke(["serve", "--forwarded-allow-ips", "10.0.0.0/8,192.0.2.1"])[0] == 0
    assert invoke(["serve"], env={"COINAPI_EMULATOR_FORWARDED_ALLOW_IPS": "*"})[0] == 0
    assert [settings.forwarded_allow_ips for settings in captured] == ["10.0.0.0/8,192.0.2.1", "*"]
    assert Settings().forwarded_allow_ips == "127.0.0.1,::1"


def test_operations_flags_and_their_variables_fill_settings(captured: list[Settings], tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.write_text("-")
    key.write_text("-")
    flags = ["--log-format", "json", "--no-access-log", "--ssl-certfile", str(cert), "--ssl-keyfile", str(key)]
    assert invoke(["serve", *flags, "--api-key", "a", "--api-key", "b"])[0] == 0
    env = {
        "COINAPI_EMULATOR_LOG_FORMAT": "json",
        "COINAPI_EMULATOR_ACCESS_LOG": "false",
        "COINAPI_EMULATOR_SSL_CERTFILE": str(cert),
        "COINAPI_EMULATOR_API_KEY": "a  b",
    }
    assert invoke(["serve"], env=env)[0] == 0
    by_flags, by_env = captured
    assert (by_flags.log_format, by_flags.access_log, by_flags.api_keys) == ("json", False, ("a", "b"))
    assert (by_flags.ssl_certfile, by_flags.ssl_keyfile, by_flags.tls) == (cert, key, True)
    assert (by_env.log_format, by_env.access_log, by_env.api_keys, by_env.tls) == ("json", False, ("a", "b"), True)


def test_empty_variables_keep_the_defaults(captured: list[Settings]) -> None:
    """A compose file passes ``${VAR:-}``: an empty value must mean the default, not a bad value."""
    names = ("SEED", "START_TIME", "SPEED", "API_KEY", "LOG_FORMAT")
    assert invoke(["serve"], env={f"COINAPI_EMULATOR_{name}": "" for name in names})[0] == 0
    assert captured == [Settings()]


def test_durations_in_every_unit_fill_settings(captured: list[Settings]) -> None:
    flags = ["--retain", "90", "--retain-bars", "36h", "--history", "2d", "--rest-rate-limit", "10"]
    assert invoke(["serve", *flags])[0] == 0
    assert invoke(["serve"], env={"COINAPI_EMULATOR_RETAIN": "15m", "COINAPI_EMULATOR_HISTORY": "0.5d"})[0] == 0
    by_flags, by_env = captured
    second = 1_000_000_000
    assert (by_flags.retain_ns, by_flags.retain_bars_ns, by_flags.history_ns) == (
        90 * second,
        36 * 3600 * second,
        2 * 86_400 * second,
    )
    assert by_flags.rest_rate_limit == 10
    assert (by_env.retain_ns, by_env.history_ns) == (15 * 60 * second, 43_200 * second)


def test_an_error_names_the_variable_only_when_the_value_came_from_it(captured: list[Settings]) -> None:
    by_flag = invoke(["serve", "--port", "70000"])
    by_variable = invoke(["serve"], env={"COINAPI_EMULATOR_PORT": "70000"})
    assert by_flag[0] == by_variable[0] == 2
    assert "Invalid value for '--port': 70000" in by_flag[1] and "COINAPI_EMULATOR_PORT" not in by_flag[1]
    assert "Invalid value for '--port' (from COINAPI_EMULATOR_PORT): 70000" in by_variable[1]


def test_a_simulators_bus_flags_and_their_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    from coinapi_emulator.server.cli import bus

    runs: list[dict[str, object]] = []
    monkeypatch.setattr(bus, "run_simulator", lambda settings, **bus_options: runs.append(bus_options))
    assert invoke(["simulate", "--bus", "nats://h:4222", "--shard", "1/3"])[0] == 0
    assert invoke(["simulate", "--bus", "nats://h:4222", "--gateway-timeout", "4"])[0] == 0
    assert (
        invoke(["simulate"], env={"COINAPI_EMULATOR_BUS": "nats://v", "COINAPI_EMULATOR_GATEWAY_TIMEOUT": "2.5"})[0]
        == 0
    )
    assert runs == [
        {"url": "nats://h:4222", "shard": 1, "shards": 3, "wait_s": 30.0, "gateway_timeout_s": 10.0},
        {"url": "nats://h:4222", "shard": 0, "shards": 1, "wait_s": 30.0, "gateway_timeout_s": 4.0},
        {"url": "nats://v", "shard": 0, "shards": 1, "wait_s": 30.0, "gateway_timeout_s": 2.5},
    ]
    code, output = invoke(["simulate", "--bus", "nats://h:4222", "--gateway-timeout", "0.5"])
    assert code == 2 and "0.5 is not in the range x>=1" in output and len(runs) == 3
