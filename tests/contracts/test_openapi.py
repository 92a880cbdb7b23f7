"""The OpenAPI document of the HTTP API, in-process: valid OpenAPI 3.1, served as built, with a path for every
route of the app and a route for every path, so that a route added without a contract fails here."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from openapi_spec_validator import validate
from starlette.routing import Route
from starlette.testclient import TestClient

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.http.app import create_app
from coinapi_emulator.server.http.openapi import openapi_document
from coinapi_emulator.server.plane.implementation import package_version
from coinapi_emulator.server.protocol.asyncapi import asyncapi_document

START_NS: Final = 1_704_067_200_000_000_000
#: a client on the loopback, as the admin API asks without a token
ON_THIS_MACHINE: Final[dict[str, Any]] = {"base_url": "http://127.0.0.1:8765", "client": ("127.0.0.1", 50000)}


@pytest.fixture(scope="module", params=[False, True], ids=["plain", "admin-and-dashboard"])
def client(request: pytest.FixtureRequest) -> Iterator[TestClient]:
    settings = Settings(start_time_ns=START_NS, exchanges=5, paused=True, admin=request.param, dashboard=request.param)
    with TestClient(create_app(settings), **ON_THIS_MACHINE) as test_client:
        yield test_client


def built(client: TestClient) -> dict[str, Any]:
    """The document ``client``'s server should serve."""
    settings = client.app.state.emulator.settings  # type: ignore[attr-defined]
    return openapi_document(package_version(), admin=settings.admin, dashboard=settings.dashboard)


@pytest.mark.parametrize("optional_parts", [False, True])
def test_the_document_is_valid_openapi_3_1(optional_parts: bool) -> None:
    validate(openapi_document(package_version(), admin=optional_parts, dashboard=optional_parts))


def test_the_served_documents_are_the_built_ones_without_a_key(client: TestClient) -> None:
    openapi, asyncapi = client.get("/openapi.json"), client.get("/asyncapi.json")
    assert openapi.status_code == asyncapi.status_code == 200
    assert openapi.headers["content-type"] == asyncapi.headers["content-type"] == "application/json"
    assert openapi.json() == built(client)
    assert asyncapi.json() == asyncapi_document(package_version())


def test_every_route_has_a_path_and_every_path_a_route(client: TestClient) -> None:
    settings = client.app.state.emulator.settings  # type: ignore[attr-defined]
    routes = {
        (re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path), method.lower())
        for route in client.app.routes  # type: ignore[attr-defined]
        # WebSocket routes are the AsyncAPI document's; the dashboard's static files (a Mount) are not described
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"  # starlette's, beside every GET
    }
    documented = {(path, method) for path, operations in built(client)["paths"].items() for method in operations}
    assert routes - documented == set(), "routes without a contract: add them to server/http/openapi_operations.py"
    assert documented - routes == set(), "contracts without a route"
    assert any(path.startswith("/admin/") for path, _ in documented) is settings.admin
    assert any(path.startswith("/dashboard") for path, _ in documented) is settings.dashboard


def test_keyed_routes_document_the_rate_limit_headers_and_the_key_free_ones_need_none() -> None:
    document = openapi_document(package_version(), admin=True, dashboard=True)
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            keyed = path.startswith("/v1/")
            assert ("security" not in operation) is keyed, f"{method} {path}"
            ok = operation["responses"]["200"]
            assert ("X-RateLimit-Remaining" in ok.get("headers", {})) is keyed, f"{method} {path}"
            assert ("401" in operation["responses"]) is (keyed or path.startswith("/admin/")), f"{method} {path}"


def test_a_draining_servers_ready_answer_is_the_documented_503(client: TestClient) -> None:
    """The one documented status the real servers of test_rest_contract.py do not answer: it needs a server that is
    starting or stopping."""
    emulator = client.app.state.emulator  # type: ignore[attr-defined]
    emulator.draining = True
    try:
        response = client.get("/ready")
    finally:
        emulator.draining = False
    assert response.status_code == 503
    answer = MockResponse(response.content, 503, dict(response.headers), response.headers["content-type"])
    OpenAPI.from_dict(built(client)).validate_response(MockRequest("http://127.0.0.1:8765", "get", "/ready"), answer)
