"""A small client for the emulator's admin API (``coinapi-emulator serve --admin``), standard library only.

admin = AdminClient("http://127.0.0.1:8765")  # token="..." for a server started with --admin-token
admin.pause(); admin.step(1.5); admin.resume()
admin.inject_fault("drop_quotes", fraction=0.2, duration_s=10)
admin.wait_for_messages(1000)
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any


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

    def load_scenario(self, toml_text: str) -> dict[str, Any]:
        """Load a scenario (TOML text); its ``at`` times count from now on the virtual clock."""
        result: dict[str, Any] = self._call("POST", "/scenario", toml_text.encode(), "application/toml")
        return result

    def wait_for_messages(self, count: int, *, timeout_s: float = 30.0, poll_s: float = 0.05) -> dict[str, Any]:
        """Block until the server has sent at least ``count`` messages in total; return the status."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status()
            if status["messages_sent"] >= count:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"{status['messages_sent']} of {count} messages sent after {timeout_s} s")
            time.sleep(poll_s)
