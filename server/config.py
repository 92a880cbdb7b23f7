"""Settings: the one object that configures a running emulator.

``cli.py`` fills it from flags and ``COINAPI_EMULATOR_*`` environment variables; tests build it directly.
No other module reads the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

FilterCombine = Literal["union", "intersection"]
Compression = Literal["auto", "off"]
LogLevel = Literal["critical", "error", "warning", "info", "debug", "trace"]
LogFormat = Literal["text", "json"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything ``create_app`` and ``serve`` need. Defaults are the documented CLI defaults."""

    host: str = "127.0.0.1"
    port: int = 8765
    #: market seed: same seed + start time + config = same market
    seed: int = 0
    #: virtual seconds per wall second; None = as fast as possible ("max")
    speed: float | None = 1.0
    #: virtual start, ns since the epoch; None = now, on the wall clock
    start_time_ns: int | None = None
    log_level: LogLevel = "info"
    #: "text" as uvicorn writes it, or "json": one JSON object a line for log shippers
    log_format: LogFormat = "text"
    #: a line per HTTP request and WebSocket upgrade (uvicorn's access log)
    access_log: bool = True
    #: TLS: certificate chain (PEM) and private key; with them the server speaks https:// and wss://
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    #: file of accepted API keys (one per line); with ``api_keys``, both are accepted. Neither: any non-empty key
    api_keys_file: Path | None = None
    #: accepted API keys given directly (``--api-key``, or ``COINAPI_EMULATOR_API_KEY`` separated by spaces)
    api_keys: tuple[str, ...] = ()
    #: catalogue size
    exchanges: int = 400
    max_symbols_per_exchange: int = 60
    #: multiplies every symbol's trade and book activity
    rate_scale: float = 1.0
    #: slow-client limits of one connection's unsent frames (PROTOCOL.md §6: the real service allows 131,072)
    max_buffered_messages: int = 131_072
    max_buffered_bytes: int = 64 * 1024 * 1024
    #: the unsent frames of every connection together; past it the largest backlogs are closed the same way (1013)
    max_buffered_bytes_total: int = 1 << 30
    #: how symbol, exchange and asset filters of one data type combine (PROTOCOL.md §2.4)
    filter_combine: FilterCombine = "union"
    #: reject filters naming ids that match nothing (the real service accepts them silently)
    strict_filters: bool = False
    #: serve book types without a filter, as old CoinAPI examples expect (the real service answers an error)
    allow_unfiltered_books: bool = False
    #: wall time between two market ticks
    tick_s: float = 0.002
    #: virtual time per tick at speed "max", and the most one tick catches up when the market is behind
    max_step_ns: int = 20_000_000
    #: permessage-deflate: "auto" = when the client offers it (each such connection compresses its own frames)
    compression: Compression = "auto"
    #: WebSocket ping interval and pong timeout, seconds (PROTOCOL.md §1.2: the real service pings every ~60 s)
    ws_ping_interval_s: float = 60.0
    ws_ping_timeout_s: float = 30.0
    #: serve the admin API (clock, faults, scenarios) under /admin
    admin: bool = False
    #: serve the live dashboard page under /dashboard
    dashboard: bool = True
    #: the bearer token the admin API asks for, from any address; None: no token, this machine only
    admin_token: str | None = None
    #: a file whose first line is that token (keeps it out of the process list and the environment)
    admin_token_file: Path | None = None
    #: start with the virtual clock paused (resume through the admin API)
    paused: bool = False
    #: scenario file (TOML) scheduled from the start time
    scenario_file: Path | None = None
    #: recording to stream instead of the simulated market (``coinapi-emulator record``; server/replay/source.py)
    replay_file: Path | None = None
    #: on shutdown, seconds between CoinAPI's ``reconnect`` notice and the close (PROTOCOL.md §3.10)
    shutdown_grace_s: float = 1.0
    #: characters of one client message; past it: CoinAPI's error and close 1009. Past four times it, the WebSocket
    #: layer refuses the frame at its header, before reading it (close 1009)
    max_message_size: int = 1 << 20
    #: ``subscribe_filter_*`` entries of one client message, all fields together
    max_filter_values: int = 10_000
    #: client messages a connection may send in one second
    max_messages_per_second: int = 50
    #: seconds a new connection has to send an accepted hello or subscribe before it is told and closed; 0: no limit
    hello_timeout_s: float = 30.0
    #: WebSocket connections open at once, in all and from one client address; past them the upgrade gets 429
    max_connections: int = 10_000
    max_connections_per_ip: int = 5_000
    #: proxies whose ``X-Forwarded-For`` names the client (its address for the per-address limit and the logs):
    #: comma-separated addresses or networks, ``*`` for any (uvicorn's ``forwarded_allow_ips``)
    forwarded_allow_ips: str = "127.0.0.1,::1"
    #: bytes of one HTTP request's head (request line and headers) and its header fields; past them: 431
    max_header_size: int = 16 * 1024
    max_header_count: int = 100
    #: seconds from a connection's start (or a request's first byte) to the end of the request's head; past it: 408
    header_timeout_s: float = 10.0
    #: virtual time of trades, quotes and watched books' changes kept for REST history (``--retain``); 0: none
    retain_ns: int = 5 * 60 * 1_000_000_000
    #: virtual time of minute candles and exchange rates kept for REST (``--retain-bars``), at least ``retain_ns``
    retain_bars_ns: int = 7 * 86_400 * 1_000_000_000
    #: REST requests one API key may make a UTC day (``X-RateLimit-*`` headers; past it, 429)
    rest_rate_limit: int = 1_000_000
    #: trades, quotes, OHLCV and exchange rates generated for this long before the start (``--history``); 0: none
    history_ns: int = 0
    #: ``?seed=N`` markets open at once (each one is a whole market: ~27 MB and ~200 ms of CPU to build)
    max_private_markets: int = 16

    @property
    def tls(self) -> bool:
        """Whether the server speaks TLS (``https://``, ``wss://``)."""
        return self.ssl_certfile is not None

    @property
    def live_stamps(self) -> bool:
        """Stamp ``time_coinapi`` with the real send time: only on the wall clock at speed 1."""
        return self.start_time_ns is None and self.speed == 1.0
