"""The server runner without a socket: how it ends when the market failed, and how it takes signals."""

from __future__ import annotations

import asyncio
import dataclasses
import signal

import pytest

from coinapi_emulator.server.cli.serve import EXIT_MARKET_FAILED, EmulatorServer, uvicorn_config
from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.emulator import Emulator

SETTINGS = Settings(exchanges=3, max_symbols_per_exchange=3, start_time_ns=1_704_067_200_000_000_000)


@pytest.fixture
def server() -> EmulatorServer:
    emulator = Emulator(SETTINGS)
    return EmulatorServer(uvicorn_config(SETTINGS, emulator), emulator)


def test_a_failed_shared_market_ends_the_server_with_its_exit_status(
    server: EmulatorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert asyncio.run(server.on_tick(1)) is False and server.exit_code == 0
    monkeypatch.setattr(server.emulator.shared.driver, "failed", True)
    assert asyncio.run(server.on_tick(2)) is True and server.exit_code == EXIT_MARKET_FAILED == 3


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "sigint"])
def test_a_second_signal_of_any_kind_cuts_the_grace_short(server: EmulatorServer, second: int) -> None:
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit and not server.force_exit
    server.handle_exit(second, None)
    assert server.force_exit


def test_ready_answers_503_from_the_first_signal(server: EmulatorServer) -> None:
    """A load balancer stops sending new clients at once, not after uvicorn's next tick."""
    assert not server.emulator.draining
    server.handle_exit(signal.SIGTERM, None)
    assert server.emulator.draining


def test_uvicorn_trusts_the_configured_proxies_only() -> None:
    settings = dataclasses.replace(SETTINGS, forwarded_allow_ips="10.0.0.0/8")
    config = uvicorn_config(settings, Emulator(settings))
    assert config.proxy_headers and config.forwarded_allow_ips == "10.0.0.0/8"
