"""A small client for the emulator's admin API (``coinapi-emulator serve --admin``), standard library only.

admin = AdminClient("http://127.0.0.1:8765")  # token="..." for a server started with --admin-token
admin.pause(); admin.step(1.5); admin.resume()
admin.inject_fault("drop_quotes", fraction=0.2, duration_s=10)
admin.wait_for_messages(1000)
conn = admin.wait_for_subscription("trade", "BINANCE_SPOT_BTC_USDT")  # the journal of the client that asked
admin.inject(message={"type": "trade", "symbol_id": "BINANCE_SPOT_BTC_USDT", "price": 1.0}, connections=conn)

For asyncio code, ``AsyncAdminClient(admin)`` (``async_admin_client.py``) has the same methods to ``await``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from coinapi_emulator.server.testing import waiting

#: a connection as the controls take it: its id, or its journal (a dict with its ``id``)
Connection = int | Mapping[str, Any]


def connection_id(connection: Connection) -> int:
    """The id of a connection given by id or by its journal."""
    return int(connection["id"]) if isinstance(connection, Mapping) else int(connection)


class AdminError(RuntimeError):
    """The admin API answered an error (its ``error`` text is the message)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


class AdminClient:
    """Controls one emulator: clock, faults, scenarios, and counters to wait on."""

    def __init__(self, base_url: str, *, token: str | None = None, timeout_s: float = 10.0) -> None:
        """``token``: the server's ``--admin-token``, needed when it has one."""
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def _call(self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json") -> Any:
        import urllib.error  # slow to import, and the pytest plugin imports this module in every test run
        import urllib.request

        request = urllib.request.Request(self.base_url + "/admin" + path, data=body, method=method)
        if body is not None:
            request.add_header("Content-Type", content_type)
        if self.token is not None:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            payload = json.loads(error.read() or b"{}")
            raise AdminError(error.code, str(payload.get("error", error.reason))) from None

    def _post(self, path: str, **fields: Any) -> Any:
        return self._call("POST", path, json.dumps(fields).encode())

    def status(self) -> dict[str, Any]:
        """Clock, connections and counters."""
        result: dict[str, Any] = self._call("GET", "/status")
        return result

    def pause(self) -> dict[str, Any]:
        """Freeze virtual time; connections stay open and heartbeats continue."""
        result: dict[str, Any] = self._post("/clock/pause")
        return result

    def resume(self) -> dict[str, Any]:
        """Let virtual time run again."""
        result: dict[str, Any] = self._post("/clock/resume")
        return result

    def step(self, seconds: float) -> dict[str, Any]:
        """Move virtual time forward by ``seconds`` now, publishing everything that happens in between."""
        result: dict[str, Any] = self._post("/clock/step", seconds=seconds)
        return result

    def set_speed(self, speed: float | str) -> dict[str, Any]:
        """Virtual seconds per wall second, or ``"max"``."""
        result: dict[str, Any] = self._post("/clock/speed", speed=speed)
        return result

    def inject_fault(self, fault: str, **params: Any) -> dict[str, Any]:
        """Apply a transport fault now, e.g. ``inject_fault("close", code=1001)`` (see README "Faults")."""
        result: dict[str, Any] = self._post("/faults", fault=fault, **params)
        return result

    def load_scenario(self, text_or_path: str | os.PathLike[str]) -> dict[str, Any]:
        """Load a scenario: a path (``Path``, or a one-line ``str`` naming an existing file) or TOML text; its
        ``at`` times count from now on the virtual clock."""
        result: dict[str, Any] = self._call(
            "POST", "/scenario", scenario_text(text_or_path).encode(), "application/toml"
        )
        return result

    def journal(self, connection: Connection | None = None) -> Any:
        """What clients sent: the journal of one connection (a dict: ``id``, ``peer``, ``scope``, ``entries``
        oldest first, each with ``time``, ``type`` (hello, subscribe, unsubscribe or rejected), ``message``,
        ``scope`` and ``error``), or without ``connection`` the list of every connection's, oldest first.
        ``connection``: its id, or a journal (what ``wait_for_subscription`` returns)."""
        if connection is not None:
            return self._call("GET", f"/journal/{connection_id(connection)}")
        return self._call("GET", "/journal")["connections"]

    def inject(
        self,
        text: str | None = None,
        *,
        message: Mapping[str, Any] | None = None,
        connections: Connection | Iterable[Connection] = (),
    ) -> int:
        """Send a text frame as it is, or a CoinAPI ``message`` built from its type and fields (times and a
        trade's uuid filled in when left out), to the given connections (ids or journals; every one by default), in
        their streams' order; how many got it."""
        if isinstance(connections, int | Mapping):
            targets = [connection_id(connections)]
        else:
            targets = [connection_id(connection) for connection in connections]
        body = {"text": text} if message is None else {"message": dict(message)}
        result: dict[str, int] = self._post("/inject", connections=targets, **body)
        return result["connections"]

    def wait_for_subscription(
        self,
        data_type: str,
        symbol_id: str | None = None,
        timeout_s: float = waiting.SUBSCRIPTION_TIMEOUT_S,
        *,
        poll_s: float = waiting.SUBSCRIBERS_POLL_S,
    ) -> dict[str, Any]:
        """Block until a connection receives ``data_type`` (of ``symbol_id``: a symbol id, or ``BASE/QUOTE`` for
        exrate); the journal of the newest such connection. ``TimeoutError`` if none does in time."""
        return waiting.newest_journal(self._wait(waiting.for_subscription(data_type, symbol_id, timeout_s, poll_s)))

    def wait_for_messages(
        self, count: int, timeout_s: float = waiting.MESSAGES_TIMEOUT_S, *, poll_s: float = waiting.MESSAGES_POLL_S
    ) -> dict[str, Any]:
        """Block until the server has sent at least ``count`` messages in all; the status. ``TimeoutError`` if not."""
        return self._wait(waiting.for_messages(count, timeout_s, poll_s))

    def wait_for_subscribers(
        self,
        count: int = 1,
        timeout_s: float = waiting.SUBSCRIBERS_TIMEOUT_S,
        *,
        poll_s: float = waiting.SUBSCRIBERS_POLL_S,
    ) -> dict[str, Any]:
        """Block until at least ``count`` connections have a subscription (their ``hello`` was processed); the
        status. Call it before ``step()`` on a paused server, so the step's messages reach the code under test."""
        return self._wait(waiting.for_subscribers(count, timeout_s, poll_s))

    def poll(self, wait: waiting.Wait) -> dict[str, Any]:
        """One answer of the admin API path ``wait`` watches."""
        result: dict[str, Any] = self._call("GET", wait.path)
        return result

    def _wait(self, wait: waiting.Wait) -> dict[str, Any]:
        while not wait.done(answer := self.poll(wait)):
            time.sleep(wait.poll_s)
        return answer


def scenario_text(text_or_path: str | os.PathLike[str]) -> str:
    """The TOML text of a scenario given as a path, or as the text itself."""
    if isinstance(text_or_path, os.PathLike) or ("\n" not in text_or_path and Path(text_or_path).is_file()):
        return Path(text_or_path).read_text(encoding="utf-8")
    return text_or_path
