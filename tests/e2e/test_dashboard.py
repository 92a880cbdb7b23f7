"""The dashboard in a real headless Chromium (playwright) against a real server process: what the page shows, and
its clock controls acting on the server. Screenshots go to build/screenshots/ (the README's is one of them).

Chromium comes from the project's test set-up (``make test`` installs Debian's ``chromium-headless-shell`` when
missing); outside CI a machine without it skips these tests and says why.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from websocket import WebSocket, create_connection

from .processes import START_TIME, RunningServer, run_server

pytestmark = pytest.mark.e2e

REPO: Final = Path(__file__).resolve().parents[2]
SCREENSHOTS: Final = REPO / "build" / "screenshots"
#: where the project's set-up puts Chromium, or a browser of your own through COINAPI_EMULATOR_CHROMIUM
BROWSERS: Final = ("chromium-headless-shell", "chromium")
ETH: Final = "BINANCE_SPOT_ETH_USDT"
WAIT_MS: Final = 15_000


def chromium_path() -> str | None:
    """The Chromium to drive: $COINAPI_EMULATOR_CHROMIUM, else the first of ``BROWSERS`` on the PATH."""
    return os.environ.get("COINAPI_EMULATOR_CHROMIUM") or next(filter(None, map(shutil.which, BROWSERS)), None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_path()
    if executable is None:
        message = "no Chromium: `make test` installs chromium-headless-shell (or set COINAPI_EMULATOR_CHROMIUM)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    opened = browser.new_page(viewport={"width": 1400, "height": 860})
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    opened.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    args = ["--start-time", START_TIME, "--admin", "--speed", "10", "--exchanges", "5"]
    with run_server(args, tmp_path_factory.mktemp("dashboard")) as running:
        yield running


@pytest.fixture
def other_client(server: RunningServer) -> Iterator[WebSocket]:
    """A client of the server besides the page, subscribed to ETH trades."""
    ws = create_connection(server.ws_url(), timeout=10)
    ws.send(json.dumps({"type": "hello", "apikey": "k", "subscribe_data_type": ["trade"],
                        "subscribe_filter_symbol_id": [f"{ETH}$"]}))  # fmt: skip
    yield ws
    ws.close()


def admin_status(server: RunningServer) -> dict[str, Any]:
    status: dict[str, Any] = server.rest("/admin/status")
    return status


def test_the_page_shows_connections_traffic_prices_and_the_book(
    server: RunningServer, other_client: WebSocket, page: Page
) -> None:
    page.goto(f"{server.http_url}/dashboard")
    connections = page.locator("#connection-rows tr")
    expect(connections).to_have_count(2, timeout=WAIT_MS)  # the page's own connection and the other client
    expect(page.locator("#connection-rows")).to_contain_text(f"trade: {ETH}$")
    expect(page.locator("#connection-rows")).to_contain_text("book20: BINANCE_SPOT_BTC_USDT$")
    expect(page.locator("#last-price")).to_have_text(re.compile(r"^\d+(\.\d+)?$"), timeout=WAIT_MS)
    expect(page.locator("#ask-price")).to_have_text(re.compile(r"^\d+(\.\d+)?$"), timeout=WAIT_MS)
    expect(page.locator("#book-rows tr")).to_have_count(10, timeout=WAIT_MS)
    for data_type in ("trade", "quote", "book20"):
        expect(page.locator(f'#rate-rows tr[data-type="{data_type}"]')).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator("#clock-time")).to_have_text(re.compile(r"^2024-01-01T00:0"))
    assert page.locator("#chart canvas").count() > 0, "the chart library drew nothing"
    # both read in one script turn: the page sets them together from one quote, and a one-tick book moves
    # between two separate reads
    bid, ask = (
        float(v) for v in page.evaluate("['bid-price', 'ask-price'].map(id => document.getElementById(id).textContent)")
    )
    assert 0 < bid < ask
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(3000)  # a few seconds of chart
    page.screenshot(path=SCREENSHOTS / "dashboard.png")


def test_the_clock_controls_drive_the_server(server: RunningServer, page: Page) -> None:
    page.goto(f"{server.http_url}/dashboard")
    expect(page.locator("#controls")).to_be_visible(timeout=WAIT_MS)
    page.click("#pause")
    expect(page.locator("#clock-state")).to_have_text("paused", timeout=WAIT_MS)
    paused = admin_status(server)
    assert paused["paused"] is True
    page.click("#step")
    expect(page.locator("#status-line")).to_contain_text("/clock/step: time", timeout=WAIT_MS)
    assert admin_status(server)["time_ns"] == paused["time_ns"] + 1_000_000_000
    page.fill("#speed", "25")
    page.click("#set-speed")
    expect(page.locator("#clock-speed")).to_have_text("speed 25", timeout=WAIT_MS)
    page.fill("#speed", "fast")
    page.click("#set-speed")
    expect(page.locator("#status-line")).to_contain_text("/clock/speed failed", timeout=WAIT_MS)
    page.click("#resume")
    expect(page.locator("#clock-state")).to_have_text("running", timeout=WAIT_MS)
    status = admin_status(server)
    assert (status["paused"], status["speed"]) == (False, 25)


def test_another_symbol_is_watched_on_the_same_connection(server: RunningServer, page: Page) -> None:
    page.goto(f"{server.http_url}/dashboard")
    expect(page.locator("#last-price")).to_have_text(re.compile(r"^\d"), timeout=WAIT_MS)
    page.fill("#symbol", ETH)
    page.click("#watch")
    expect(page.locator("#connection-rows")).to_contain_text(f"book20: {ETH}$", timeout=WAIT_MS)
    expect(page.locator("#last-price")).to_have_text(re.compile(r"^\d"), timeout=WAIT_MS)
    assert float(page.inner_text("#last-price")) < 10_000, "ETH, not BTC"


def test_without_admin_there_are_no_controls_and_a_refused_key_is_shown(tmp_path: Path, browser: Browser) -> None:
    args = ["--start-time", START_TIME, "--exchanges", "5", "--api-key", "good"]
    with run_server(args, tmp_path) as running:
        page = browser.new_page()
        page.goto(f"{running.http_url}/dashboard")
        expect(page.locator("#status-line")).to_contain_text("Invalid API key", timeout=WAIT_MS)
        expect(page.locator("#controls")).to_be_hidden()
        page.fill("#api-key", "good")
        page.click("#watch")  # the server closed the refused connection: Watch dials again, with the new key
        expect(page.locator("#last-price")).to_have_text(re.compile(r"^\d"), timeout=WAIT_MS)
        page.close()
