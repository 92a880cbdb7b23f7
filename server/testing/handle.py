"""The handle the fixtures give a test: where to connect, the admin API's controls, and the server's lifecycle.

A handle either owns a server process the plugin started (``start_emulator`` in ``launch.py``), or is bound to an
emulator that runs already (``EmulatorHandle.external``: external mode), which it neither stops nor reads logs of.
"""

from __future__ import annotations

import subprocess
import urllib.parse
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Final

from coinapi_emulator.server.testing.admin_client import AdminClient
from coinapi_emulator.server.testing.options import EmulatorOptions

if TYPE_CHECKING:
    from coinapi_emulator.server.testing.async_admin_client import AsyncAdminClient

STOP_TIMEOUT_S: Final = 10.0
#: scheme -> whether it is the TLS one; an emulator is reached the same way over HTTP and WebSocket
_SCHEMES: Final = {"http": False, "ws": False, "https": True, "wss": True}
#: paths a base URL may end with: none, or the WebSocket endpoint's, which users copy from their client config
_BASE_PATHS: Final = ("", "/v1")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where an emulator listens: its WebSocket and REST URLs derive from host, port and TLS."""

    host: str
    port: int
    secure: bool = False

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """An emulator's base URL, as ``http(s)://host[:port]`` or ``ws(s)://host[:port][/v1/]``; ``ValueError`` for
        anything else (another path, a query, credentials). Without a port: 80, or 443 with TLS."""
        parts = urllib.parse.urlsplit(url.strip())
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES:
            raise ValueError(f"an emulator URL starts with http://, https://, ws:// or wss://, not {url!r}")
        if not parts.hostname or parts.username is not None or parts.password is not None:
            raise ValueError(f"an emulator URL needs a host and no credentials, not {url!r}")
        if parts.path.rstrip("/") not in _BASE_PATHS or parts.query or parts.fragment:
            raise ValueError(f"an emulator URL has no path but /v1/, no query and no fragment, not {url!r}")
        port = parts.port  # ValueError when it is not a number in 0-65535
        if port == 0:
            raise ValueError(f"port 0 cannot be connected to: {url!r}")
        secure = _SCHEMES[scheme]
        return cls(parts.hostname, port or (443 if secure else 80), secure)

    @property
    def netloc(self) -> str:
        """``host:port``, with an IPv6 address in brackets."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        """The WebSocket URL: ``ws(s)://HOST:PORT/v1/``."""
        return f"{'wss' if self.secure else 'ws'}://{self.netloc}/v1/"

    @property
    def http_url(self) -> str:
        """The REST base URL: ``http(s)://HOST:PORT``."""
        return f"{'https' if self.secure else 'http'}://{self.netloc}"


class EmulatorHandle(AdminClient):
    """One emulator: where to connect, its admin API (clock, faults, scenarios, counters: ``AdminClient``'s
    methods, awaitable through ``aio``), and its server process when the plugin started it.

    The control methods return the admin API's JSON answer; ``status()`` has at least ``time``, ``time_ns``,
    ``speed``, ``paused``, ``connections``, ``messages_sent`` and ``bytes_sent``.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        admin_token: str | None = None,
        process: subprocess.Popen[bytes] | None = None,
        log_path: Path | None = None,
        options: EmulatorOptions | None = None,
    ) -> None:
        """``process`` and ``log_path``: the server the plugin started (None: one that runs outside the test
        session); ``options``: how it was started (None when external)."""
        super().__init__(endpoint.http_url, token=admin_token)
        self.endpoint = endpoint
        self.process = process
        self.log_path = log_path
        self.options = options

    @classmethod
    def external(cls, url: str, *, admin_token: str | None = None) -> EmulatorHandle:
        """A handle on an emulator that runs already at ``url`` (see ``Endpoint.parse``); ``ValueError`` if bad."""
        return cls(Endpoint.parse(url), admin_token=admin_token)

    def __repr__(self) -> str:
        if self.process is None:
            state = "external"
        else:
            state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        seed = "" if self.options is None else f" seed={self.options.seed}"
        return f"<EmulatorHandle {self.url}{seed} {state}>"

    @property
    def port(self) -> int:
        return self.endpoint.port

    @property
    def url(self) -> str:
        """The WebSocket URL to give the code under test: ``ws://127.0.0.1:PORT/v1/`` for a server started here."""
        return self.endpoint.url

    @property
    def http_url(self) -> str:
        """The REST base URL, ``http://127.0.0.1:PORT`` for a server started here (``/v1/symbols``, ``/health``)."""
        return self.endpoint.http_url

    def url_for(self, seed: int) -> str:
        """The WebSocket URL of a private market, ``ws://HOST:PORT/v1/?seed=N``: the connection that dials it gets a
        market of its own, the same for the same seed (from the start time, when its hello arrives), which the
        clock controls and other clients leave alone."""
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, not {seed!r}")
        return f"{self.url}?seed={seed}"

    @cached_property
    def aio(self) -> AsyncAdminClient:
        """The controls for asyncio tests: ``await handle.aio.step(5)``; the event loop runs on meanwhile."""
        from coinapi_emulator.server.testing.async_admin_client import AsyncAdminClient  # asyncio: only when used

        return AsyncAdminClient(self)

    @property
    def admin(self) -> AdminClient:
        """The admin API client: the handle itself (kept for code written when it was a separate object)."""
        return self

    def healthy(self) -> bool:
        """Whether ``GET /health`` answers 200 now."""
        import urllib.error  # slow to import: only once a server is used
        import urllib.request

        try:
            with urllib.request.urlopen(self.http_url + "/health", timeout=2) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def logs(self) -> str:
        """Everything the server wrote to stdout and stderr so far."""
        if self.log_path is None:
            return f"(no logs: the emulator at {self.http_url} runs outside this test session)"
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    @property
    def running(self) -> bool:
        """Whether the server process is alive; for an external emulator, whether it answers ``/health``."""
        return self.healthy() if self.process is None else self.process.poll() is None

    def stop(self) -> int | None:
        """Stop the server (SIGTERM, then SIGKILL after ``STOP_TIMEOUT_S``); its exit code (``-15`` for a clean
        stop on POSIX: uvicorn re-raises the signal once it has shut down). Safe to call twice. An external
        emulator is left running: None."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(STOP_TIMEOUT_S)
        return self.process.returncode
