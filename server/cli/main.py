"""``coinapi-emulator``: the command line. Every flag is also an environment variable ``COINAPI_EMULATOR_<FLAG>``.

Flags beat environment variables; both fill one ``Settings``. Bad values exit with code 2 and say why.
"""

from __future__ import annotations

from typing import Any, ClassVar, get_args

import click

from coinapi_emulator.server.cli.healthcheck import healthcheck_command
from coinapi_emulator.server.cli.importing import import_command
from coinapi_emulator.server.cli.options import catalogue_options
from coinapi_emulator.server.cli.options import env_option as _option
from coinapi_emulator.server.cli.options import file_option as _file_option
from coinapi_emulator.server.cli.record import record_command
from coinapi_emulator.server.cli.symbols import symbols_command
from coinapi_emulator.server.config import Compression, FilterCombine, LogFormat, LogLevel, Settings
from coinapi_emulator.simulator.clock import MAX_SPEED, check_speed

_DEFAULTS = Settings()


class SpeedType(click.ParamType[float | None, Any]):
    """A positive number of virtual seconds per wall second, or ``max``."""

    name = "SPEED"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> float | None:
        if value is None or isinstance(value, float):
            return value
        if str(value).strip().lower() == "max":
            return None
        try:
            speed = float(value)
        except ValueError:
            self.fail(f"{value!r} is neither a number nor 'max'", param, ctx)
        try:
            return check_speed(speed)
        except ValueError:
            self.fail(f"{value!r} must be a positive number at most {MAX_SPEED:.0f}, or 'max'", param, ctx)


class DurationType(click.ParamType[int, Any]):
    """A duration such as ``90s``, ``15m``, ``36h``, ``2d`` or ``0``, converted to ns."""

    name = "DURATION"
    _UNITS: ClassVar[dict[str, int]] = {"s": 1, "m": 60, "h": 3600, "d": 86_400}

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int):
            return value
        text = str(value).strip().lower()
        number, unit = (text[:-1], text[-1]) if text and text[-1] in self._UNITS else (text, "s")
        try:
            seconds = float(number) * self._UNITS[unit]
        except ValueError:
            self.fail(f"{value!r} is not a duration such as 90s, 15m, 36h or 2d", param, ctx)
        if not 0 <= seconds <= 366 * 86_400:
            self.fail(f"{value!r} must be from 0 to 366d", param, ctx)
        return round(seconds * 1_000_000_000)


def _check_keys(keys: tuple[str, ...]) -> tuple[str, ...]:
    if any(not key.strip() for key in keys):
        raise click.BadParameter("an API key cannot be empty")
    return keys


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="coinapi-emulator")
def main() -> None:
    """A local CoinAPI Market Data WebSocket emulator: a synthetic, reproducible crypto market on ws://."""


@main.command()
@_option("--host", default=_DEFAULTS.host, help="Interface to listen on.")
@_option("--port", default=_DEFAULTS.port, type=click.IntRange(0, 65535), help="TCP port (0 = any free port).")
@catalogue_options
@_option("--speed", default="1", type=SpeedType(), help="Virtual seconds per wall second (e.g. 1, 10, 1000), or 'max'.")
@_option("--log-level", default=_DEFAULTS.log_level, type=click.Choice(get_args(LogLevel)), help="Log verbosity.")
@_option(
    "--log-format",
    default=_DEFAULTS.log_format,
    type=click.Choice(get_args(LogFormat)),
    help="'json': one JSON object a line (time, level, logger, message; request fields on access lines).",
)
@_option("--access-log/--no-access-log", default=_DEFAULTS.access_log, help="Log a line per HTTP request and upgrade.")
@_file_option("--ssl-certfile", "TLS certificate chain (PEM): serve https:// and wss://.")
@_file_option("--ssl-keyfile", "TLS private key (PEM), unless the certificate file holds it.")
@_file_option(
    "--api-keys",
    "File of accepted API keys, one per line. Default: any non-empty key is accepted.",
)
@_option(
    "--api-key",
    "api_key_values",
    multiple=True,
    callback=lambda ctx, param, keys: _check_keys(keys),
    help="An accepted API key (repeatable; in the variable, separate keys by spaces). Adds to --api-keys.",
)
@_option(
    "--rate-scale",
    default=_DEFAULTS.rate_scale,
    type=click.FloatRange(min=0, min_open=True),
    help="Multiplies every symbol's trade and book activity.",
)
@_option(
    "--max-buffered-messages",
    default=_DEFAULTS.max_buffered_messages,
    type=click.IntRange(min=1),
    help="Unsent messages a slow client may have before it gets CoinAPI's buffer error and is closed.",
)
@_option(
    "--max-buffered-bytes",
    default=_DEFAULTS.max_buffered_bytes,
    type=click.IntRange(min=1024),
    help="The same limit in bytes.",
)
@_option(
    "--max-buffered-bytes-total",
    default=_DEFAULTS.max_buffered_bytes_total,
    type=click.IntRange(min=1 << 20),
    help="Unsent bytes of all slow clients together; past it the largest backlogs are closed the same way (1013).",
)
@_option(
    "--filter-combine",
    default=_DEFAULTS.filter_combine,
    type=click.Choice(get_args(FilterCombine)),
    help="How symbol, exchange and asset filters of one data type combine.",
)
@_option(
    "--strict-filters/--no-strict-filters",
    default=False,
    help="Answer an error for filters that match nothing (the real service accepts them silently).",
)
@_option(
    "--allow-unfiltered-books/--no-allow-unfiltered-books",
    default=False,
    help="Serve book types without a filter, as old CoinAPI examples expect (the real service answers an error).",
)
@_option(
    "--compression",
    default=_DEFAULTS.compression,
    type=click.Choice(get_args(Compression)),
    help="permessage-deflate: 'auto' compresses for clients that offer it (CPU per message and client), 'off' never.",
)
@_option(
    "--ws-ping-interval",
    default=_DEFAULTS.ws_ping_interval_s,
    type=click.FloatRange(min=0),
    help="Seconds between WebSocket pings (0 = none).",
)
@_option(
    "--shutdown-grace",
    default=_DEFAULTS.shutdown_grace_s,
    type=click.FloatRange(0, 3600),
    help="Seconds between the 'reconnect' notice sent to every client on shutdown and the close.",
)
@_option(
    "--max-message-size",
    default=_DEFAULTS.max_message_size,
    type=click.IntRange(1024, 64 << 20),
    help="Characters of one client message; past it, CoinAPI's error and close 1009 (past 4x, refused unread).",
)
@_option(
    "--max-filter-values",
    default=_DEFAULTS.max_filter_values,
    type=click.IntRange(min=1),
    help="subscribe_filter_* entries of one client message, all fields together.",
)
@_option(
    "--max-messages-per-second",
    default=_DEFAULTS.max_messages_per_second,
    type=click.IntRange(min=1),
    help="Client messages one connection may send in a second; past it, an error and close 1013.",
)
@_option(
    "--hello-timeout",
    default=_DEFAULTS.hello_timeout_s,
    type=click.FloatRange(min=0),
    help="Seconds a new connection has to send a hello or subscribe before it is told and closed (0: no limit).",
)
@_option(
    "--max-header-size",
    default=_DEFAULTS.max_header_size,
    type=click.IntRange(1024, 1 << 20),
    help="Bytes of one HTTP request's head (request line and headers); past it, HTTP 431.",
)
@_option(
    "--max-header-count",
    default=_DEFAULTS.max_header_count,
    type=click.IntRange(8, 128),
    help="Header fields of one HTTP request (at most 128, the WebSocket library's own limit); past it, HTTP 431.",
)
@_option(
    "--header-timeout",
    default=_DEFAULTS.header_timeout_s,
    type=click.FloatRange(min=0),
    help="Seconds a connection has to send a complete request head; past it, HTTP 408 and close (0: no limit).",
)
@_option(
    "--max-connections",
    default=_DEFAULTS.max_connections,
    type=click.IntRange(min=1),
    help="WebSocket connections open at once; past it the upgrade gets HTTP 429.",
)
@_option(
    "--max-connections-per-ip",
    default=_DEFAULTS.max_connections_per_ip,
    type=click.IntRange(min=1),
    help="WebSocket connections open at once from one client address; past it the upgrade gets HTTP 429.",
)
@_option(
    "--forwarded-allow-ips",
    default=_DEFAULTS.forwarded_allow_ips,
    help="Proxies trusted to name the client in X-Forwarded-For (the address --max-connections-per-ip and the logs"
    " see): comma-separated addresses or networks, '*' for any. Only for a server that proxies alone can reach.",
)
@_option(
    "--max-private-markets",
    default=_DEFAULTS.max_private_markets,
    type=click.IntRange(0, 10_000),
    help="Private markets (?seed=N connections) open at once; each is a whole market (~27 MB). 0: none.",
)
@_option(
    "--retain",
    default="5m",
    type=DurationType(),
    help="Virtual time of trades, quotes and watched books' changes kept for REST history (~20 MB per 5 min of the "
    "default market; 0: none).",
)
@_option(
    "--retain-bars",
    default="7d",
    type=DurationType(),
    help="Virtual time of minute candles and exchange rates kept for REST (candles of every period derive from them).",
)
@_option(
    "--rest-rate-limit",
    default=_DEFAULTS.rest_rate_limit,
    type=click.IntRange(min=1),
    help="REST requests one API key may make a UTC day (X-RateLimit-* headers; past it, 429).",
)
@_option(
    "--history",
    default="0",
    type=DurationType(),
    help="Trades, quotes, OHLCV (1MIN and longer) and exchange rates before the start, generated from the seed"
    " when asked for (e.g. 2d, 36h).",
)
@_option("--admin/--no-admin", default=False, help="Serve the admin API under /admin (clock, faults, scenarios).")
@_option(
    "--dashboard/--no-dashboard",
    default=_DEFAULTS.dashboard,
    help="Serve the live dashboard on /dashboard: connections, messages per second, the clock, a price chart.",
)
@_option(
    "--admin-token",
    default=None,
    help="Bearer token the admin API asks for; with it, any address may call it (without: this machine only).",
)
@_file_option(
    "--admin-token-file",
    "File whose first line is the admin token (keeps it out of the process list).",
)
@_option(
    "--paused/--no-paused", default=False, help="Start with the virtual clock paused (resume through the admin API)."
)
@_file_option(
    "--scenario",
    "Scenario file (TOML): market events and faults on the virtual timeline, from the start time.",
)
@_file_option(
    "--replay",
    "Stream this recording (from 'coinapi-emulator record') instead of the simulated market, paced by --speed.",
)
def serve(**options: Any) -> None:
    """Start the emulator: WebSocket on /, /v1 and /v1/; REST metadata on /v1/...; /health.

    Exit status: 0 stopped (143 or 130 when a shell sent the signal), 1 could not start, 2 bad settings,
    3 the market failed.
    """
    settings = _settings(options)
    # imported here: the other subcommands (a container's healthcheck every few seconds) need none of the server
    from coinapi_emulator.server.cli.serve import run

    try:
        run(settings)
    except ValueError as error:  # settings that only fail once loaded, e.g. an empty API key file
        raise click.UsageError(str(error)) from error


def _settings(options: dict[str, Any]) -> Settings:
    """The settings of ``serve``'s options (a gateway has no market options: their defaults stand)."""
    context = click.get_current_context()
    defaults = {
        param.name: param.type_cast_value(context, param.get_default(context))
        for param in serve.params
        if param.name is not None and param.name not in options
    }
    options = defaults | options
    if options["ssl_keyfile"] is not None and options["ssl_certfile"] is None:
        raise click.UsageError("--ssl-keyfile needs --ssl-certfile (COINAPI_EMULATOR_SSL_CERTFILE)")
    if options["scenario"] is not None and options["replay"] is not None:
        raise click.UsageError(
            "--scenario cannot be combined with --replay: a recording plays as recorded, so a scenario's market "
            "events would have no market to act on (inject transport faults through the admin API instead)"
        )
    return Settings(
        host=options["host"],
        port=options["port"],
        seed=options["seed"],
        speed=options["speed"],
        start_time_ns=options["start_time"],
        log_level=options["log_level"],
        log_format=options["log_format"],
        access_log=options["access_log"],
        ssl_certfile=options["ssl_certfile"],
        ssl_keyfile=options["ssl_keyfile"],
        api_keys_file=options["api_keys"],
        api_keys=options["api_key_values"],
        exchanges=options["exchanges"],
        max_symbols_per_exchange=options["max_symbols_per_exchange"],
        rate_scale=options["rate_scale"],
        max_buffered_messages=options["max_buffered_messages"],
        max_buffered_bytes=options["max_buffered_bytes"],
        max_buffered_bytes_total=options["max_buffered_bytes_total"],
        filter_combine=options["filter_combine"],
        strict_filters=options["strict_filters"],
        allow_unfiltered_books=options["allow_unfiltered_books"],
        compression=options["compression"],
        ws_ping_interval_s=options["ws_ping_interval"],
        shutdown_grace_s=options["shutdown_grace"],
        max_private_markets=options["max_private_markets"],
        retain_ns=options["retain"],
        retain_bars_ns=options["retain_bars"],
        history_ns=options["history"],
        rest_rate_limit=options["rest_rate_limit"],
        max_connections=options["max_connections"],
        max_connections_per_ip=options["max_connections_per_ip"],
        forwarded_allow_ips=options["forwarded_allow_ips"],
        hello_timeout_s=options["hello_timeout"],
        max_header_size=options["max_header_size"],
        max_header_count=options["max_header_count"],
        header_timeout_s=options["header_timeout"],
        max_message_size=options["max_message_size"],
        max_filter_values=options["max_filter_values"],
        max_messages_per_second=options["max_messages_per_second"],
        admin=options["admin"],
        dashboard=options["dashboard"],
        admin_token=options["admin_token"],
        admin_token_file=options["admin_token_file"],
        paused=options["paused"],
        scenario_file=options["scenario"],
        replay_file=options["replay"],
    )


class ShardType(click.ParamType[tuple[int, int], Any]):
    """``i/n``: shard i of n (from 0)."""

    name = "I/N"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        index, slash, count = str(value).partition("/")
        try:
            shard, shards = int(index), int(count)
        except ValueError:
            self.fail(f"{value!r} is not i/n, such as 0/2", param, ctx)
        if not slash or not 0 <= shard < shards:
            self.fail(f"{value!r}: i must be from 0 to n - 1", param, ctx)
        return shard, shards


_BUS = _option(
    "--bus",
    required=True,
    help="NATS URL of the bus, e.g. nats://127.0.0.1:4222 (a cluster: several, comma-separated).",
)
_BUS_WAIT = _option(
    "--bus-wait",
    default=30.0,
    type=click.FloatRange(min=0),
    help="Seconds to keep trying to reach NATS (and, for a gateway, a simulator) at start-up.",
)
_SHARD = _option("--shard", default="0/1", type=ShardType(), help="Simulate shard i of n of the exchanges.")
_GATEWAY_TIMEOUT = _option(
    "--gateway-timeout",
    default=10.0,
    type=click.FloatRange(min=1),
    help="Seconds a simulator waits on a silent gateway before it forgets it and its streams (when the gateway speaks"
    " again, its clients are told to reconnect).",
)
#: ``serve`` options that belong to the market: a gateway takes the simulators' market as it is
_MARKET_OPTIONS = frozenset(
    {"seed", "start_time", "speed", "exchanges", "max_symbols_per_exchange", "rate_scale", "retain", "retain_bars"}
    | {"paused", "scenario", "replay", "history"}
)


class BusFailed(click.ClickException):
    """The bus (or a simulator on it) could not be reached at start-up: exit status 1, not bad usage (2)."""

    exit_code = 1


@_GATEWAY_TIMEOUT
@_SHARD
@_BUS_WAIT
@_BUS
def _simulate(bus: str, bus_wait: float, shard: tuple[int, int], gateway_timeout: float, **options: Any) -> None:
    if options["replay"] is not None:
        raise click.UsageError("--replay cannot be published on a bus: a gateway serves the simulated market")
    settings = _settings(options)
    from coinapi_emulator.server.bus.connection import BusUnreachable
    from coinapi_emulator.server.cli.bus import run_simulator

    try:
        run_simulator(
            settings, url=bus, shard=shard[0], shards=shard[1], wait_s=bus_wait, gateway_timeout_s=gateway_timeout
        )
    except BusUnreachable as error:
        raise BusFailed(str(error)) from error


@_BUS_WAIT
@_BUS
def _gateway(bus: str, bus_wait: float, **options: Any) -> None:
    settings = _settings(options)
    from coinapi_emulator.server.bus.connection import BusUnreachable
    from coinapi_emulator.server.cli.bus import run_gateway

    try:
        run_gateway(settings, url=bus, wait_s=bus_wait)
    except (BusUnreachable, TimeoutError) as error:
        raise BusFailed(str(error)) from error


simulate = click.Command(
    "simulate",
    callback=_simulate,
    params=[*serve.params, *getattr(_simulate, "__click_params__", [])],
    help="Run the market and publish it on a NATS bus for gateways (and serve it on --port as 'serve' does).\n\n"
    "Exit status: as 'serve'; 1 also when NATS cannot be reached within --bus-wait.",
)
gateway = click.Command(
    "gateway",
    callback=_gateway,
    params=[
        *(param for param in serve.params if param.name not in _MARKET_OPTIONS),
        *getattr(_gateway, "__click_params__", []),
    ],
    help="Serve the CoinAPI WebSocket and REST from the market that 'simulate' publishes on a NATS bus.\n\n"
    "Exit status: as 'serve'; 1 also when no simulator answers within --bus-wait.",
)
main.add_command(simulate)
main.add_command(gateway)
main.add_command(record_command)
main.add_command(import_command)
main.add_command(healthcheck_command)
main.add_command(symbols_command)
