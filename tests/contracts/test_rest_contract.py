"""Every answer of the HTTP API, on real servers, against the OpenAPI document each serves.

Every operation of ``GET /openapi.json`` is asked a good request, and every error it documents is provoked: 400 (a
bad parameter or body), 401 (a refused key; the admin API without its token), 403 (the admin API from another
site), 404, 415, 429 (a budget of one request a key) and 550 (an unknown id). openapi-core validates each answer:
status, content type, headers and body. Then the statuses seen must be every one the document lists, but the 503 of
``/ready``, which only a server that is starting or stopping answers (``test_openapi.py`` checks it in-process).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx2 as httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from websockets.sync.client import connect

from coinapi_emulator.server.testing.admin_client import AdminClient
from tests.e2e.processes import START_TIME, RunningServer, run_servers, spawn
from tests.e2e.support import API_KEY, BAD_KEY, hello

pytestmark = pytest.mark.e2e

BTC: Final = "BINANCE_SPOT_BTC_USDT"
TOKEN: Final = "contract-test-admin-token"
#: small and quick to stop (no grace period between the reconnect notice and the close)
SMALL: Final = ["--start-time", START_TIME, "--exchanges", "5", "--seed", "5", "--shutdown-grace", "0"]
#: statuses the document lists that no cheap request provokes
NOT_PROVOKED: Final = {("/ready", "get", "503")}
#: a good value of each path parameter, and an unknown one (550)
PATH_VALUES: Final = {
    "exchange_id": ("BINANCE", "NOPE"),
    "asset_id": ("BTC", "NOPE"),
    "symbol_id": (BTC, "NOPE_SPOT_X_Y"),
    "asset_id_base": ("BTC", "NOPE"),
    "asset_id_quote": ("USD", "USD"),
    "connection_id": ("1", "1"),
}
#: values of the query parameters a good request gives
QUERY_VALUES: Final = {"period_id": "1MIN", "time_start": START_TIME, "filter_symbol_id": BTC, "limit": "3"}
#: good request bodies of the admin API's POST paths (a scenario's steps far ahead, faults on no connection)
BODIES: Final = {
    "/admin/inject": ("application/json", b'{"text": "{}"}'),
    "/admin/clock/step": ("application/json", b'{"seconds": 1}'),
    "/admin/clock/speed": ("application/json", b'{"speed": 10}'),
    "/admin/faults": ("application/json", b'{"fault": "close", "connections": [99]}'),
    "/admin/scenario": ("application/toml", b'name = "contract"\n[[events]]\nat = "1h"\ntype = "stall"\nms = 1\n'),
}
BAD_BODIES: Final = {
    "/admin/scenario": b"[[events]]\nat = 1\ntype = 'nope'",
}


@dataclass(frozen=True)
class Operation:
    """One operation of a served document."""

    path: str
    method: str
    spec: dict[str, Any]

    def url(self, *, unknown: bool = False) -> str:
        """The path with a good value (or an unknown one) for each of its parameters."""
        path = self.path
        for name, (good, bad) in PATH_VALUES.items():
            path = path.replace("{" + name + "}", bad if unknown else good)
        return path

    def query(self) -> dict[str, str]:
        """The query parameters it requires, and a small ``limit``."""
        query = [p for p in self.spec["parameters"] if p["in"] == "query"]
        wanted = {p["name"] for p in query if p.get("required") or p["name"] == "limit"}
        return {name: value for name, value in QUERY_VALUES.items() if name in wanted}

    @property
    def keyed(self) -> bool:
        return "security" not in self.spec


class Checker:
    """Requests against one server, each answer validated against the document it serves; the statuses seen."""

    def __init__(self, server: RunningServer, client: httpx.Client, seen: set[tuple[str, str, str]]) -> None:
        self.server = server
        self.client = client
        self.document: dict[str, Any] = client.get(server.http_url + "/openapi.json").json()
        self.api = OpenAPI.from_dict(self.document)
        self.seen = seen

    def operations(self) -> list[Operation]:
        return [
            Operation(path, method, spec)
            for path, methods in self.document["paths"].items()
            for method, spec in methods.items()
        ]

    def check(
        self,
        operation: Operation,
        *,
        url: str | None = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        body: tuple[str, bytes] | None = None,
    ) -> httpx.Response:
        """Send ``operation``'s request (a good one unless told otherwise) and validate the answer."""
        url = operation.url() if url is None else url
        query = operation.query() if query is None else query
        headers = {"X-CoinAPI-Key": API_KEY} if headers is None else dict(headers)
        if body is None and operation.method == "post":
            body = BODIES.get(operation.path)
        if body is not None:
            headers["Content-Type"] = body[0]
        response = self.client.request(
            operation.method,
            self.server.http_url + url,
            params=query,
            headers=headers,
            content=body[1] if body else None,
        )
        request = MockRequest(self.server.http_url, operation.method, url, args=dict(query))
        answer = MockResponse(
            response.content, response.status_code, dict(response.headers), response.headers.get("content-type", "")
        )
        try:
            self.api.validate_response(request, answer)
        except Exception as error:
            cause = f" ({error.__cause__})" if error.__cause__ else ""
            raise AssertionError(
                f"{operation.method.upper()} {url}?{query}: {response.status_code} {response.text[:300]}\n"
                f"{type(error).__name__}: {error}{cause}"
            ) from None
        self.seen.add((operation.path, operation.method, str(response.status_code)))
        return response


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, RunningServer]]:
    """A paused server with the admin API and one accepted key; and one with a budget of one request a key and an
    admin token."""
    log_dir = tmp_path_factory.mktemp("rest-contract")
    spawned = [
        spawn([*SMALL, "--admin", "--paused", "--api-key", API_KEY], log_dir),
        spawn([*SMALL, "--rest-rate-limit", "1", "--admin", "--admin-token", TOKEN], log_dir),
    ]
    with run_servers(spawned) as (main, budgeted):
        yield main, budgeted


@pytest.fixture(scope="module")
def seen(servers: tuple[RunningServer, RunningServer]) -> set[tuple[str, str, str]]:
    """Every (path, method, status) answered, each answer validated on the way."""
    main, budgeted = servers
    found: set[tuple[str, str, str]] = set()
    _prepare(main)
    with httpx.Client(timeout=30) as client:  # one client: a new one per request costs 20 ms
        _good_and_bad(Checker(main, client, found))
        _budget_and_token(Checker(budgeted, client, found))
    return found


def _prepare(server: RunningServer) -> None:
    """A client's journal (connection 1), BTC/USDT's book watched, then a minute and a half of market."""
    admin = AdminClient(server.http_url)
    with connect(server.ws_url()) as ws:
        ws.send(json.dumps(hello(["trade"], symbols=[BTC + "$"])))
        admin.wait_for_subscribers(1)
    httpx.get(f"{server.http_url}/v1/orderbooks/{BTC}/current", headers={"X-CoinAPI-Key": API_KEY}, timeout=30)
    admin.step(90)


def _good_and_bad(checker: Checker) -> None:
    for operation in checker.operations():
        checker.check(operation)
        if operation.keyed:
            checker.check(operation, query={**operation.query(), "output_format": "xml"})
            checker.check(operation, headers={"X-CoinAPI-Key": BAD_KEY})
            if "550" in operation.spec["responses"]:
                checker.check(operation, url=operation.url(unknown=True))
        if operation.path.startswith("/admin/"):
            _admin_errors(checker, operation)


def _admin_errors(checker: Checker, operation: Operation) -> None:
    checker.check(operation, headers={"Origin": "http://elsewhere.example"})
    if operation.method == "post":
        checker.check(operation, body=("text/plain", b"x"))
    if operation.path in BODIES:
        checker.check(operation, body=(BODIES[operation.path][0], BAD_BODIES.get(operation.path, b"[1]")))
    if operation.path == "/admin/journal":
        checker.check(operation, query={"symbol_id": BTC})
    if operation.path == "/admin/journal/{connection_id}":
        checker.check(operation, url="/admin/journal/999999")


def _budget_and_token(checker: Checker) -> None:
    for number, operation in enumerate(checker.operations()):
        if operation.keyed:
            key = {"X-CoinAPI-Key": f"budget-{number}"}
            checker.check(operation, headers=key)
            assert checker.check(operation, headers=key).status_code == 429
        elif operation.path.startswith("/admin/"):
            assert checker.check(operation, headers={}).status_code == 401


def test_every_status_the_document_lists_was_answered_and_valid(
    servers: tuple[RunningServer, RunningServer], seen: set[tuple[str, str, str]]
) -> None:
    document = httpx.get(servers[0].http_url + "/openapi.json", timeout=30).json()
    documented = {
        (path, method, status)
        for path, methods in document["paths"].items()
        for method, spec in methods.items()
        for status in spec["responses"]
    }
    assert documented - NOT_PROVOKED - seen == set()
    assert seen <= documented


def test_an_unknown_path_is_a_json_404_with_the_documented_error_body(
    servers: tuple[RunningServer, RunningServer],
) -> None:
    main, _ = servers
    document = httpx.get(main.http_url + "/openapi.json", timeout=30).json()
    response = httpx.get(main.http_url + "/v1/nothing-here", headers={"X-CoinAPI-Key": API_KEY}, timeout=30)
    assert response.status_code == 404 and response.headers["content-type"] == "application/json"
    Draft202012Validator(document["components"]["schemas"]["rest_error"]).validate(response.json())
    assert response.json() == {"error": "Not Found: /v1/nothing-here"}
