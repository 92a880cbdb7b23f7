"""Who may use the admin API (issue 14, item 9): before, anyone who reached the port could, from any address,
under any Host name, with cross-site text/plain POSTs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.testclient import TestClient

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.http.admin_access import admin_token, is_loopback
from coinapi_emulator.server.http.app import create_app

START_NS = 1_704_067_200_000_000_000
TOKEN = "s3cret-token"


def _client(client_host: str, host: str = "127.0.0.1:8765", **settings: Any) -> TestClient:
    app = create_app(Settings(start_time_ns=START_NS, admin=True, paused=True, exchanges=3, **settings))
    return TestClient(app, base_url=f"http://{host}", client=(client_host, 50000))


@pytest.fixture
def local() -> Iterator[TestClient]:
    with _client("127.0.0.1") as client:
        yield client


@pytest.mark.parametrize("client_host", ["127.0.0.1", "127.8.9.1", "::1", "::ffff:127.0.0.1"])
def test_without_a_token_a_loopback_client_is_served(client_host: str) -> None:
    with _client(client_host) as client:
        assert client.post("/admin/clock/resume").json()["paused"] is False


@pytest.mark.parametrize("client_host", ["10.0.0.7", "192.168.1.20", "2001:db8::1", "testclient"])
def test_without_a_token_another_machine_gets_403(client_host: str) -> None:
    with _client(client_host) as client:
        response = client.post("/admin/clock/resume")
        assert response.status_code == 403 and "--admin-token" in response.json()["error"]
        assert client.get("/admin/status").status_code == 403


@pytest.mark.parametrize("host", ["evil.example:8765", "127.0.0.1.nip.io", "10.0.0.1:8765"])
def test_without_a_token_a_name_rebound_to_loopback_gets_403(host: str) -> None:
    with _client("127.0.0.1", host=host) as client:
        response = client.get("/admin/status")
        assert response.status_code == 403 and "loopback Host" in response.json()["error"]


@pytest.mark.parametrize("host", ["localhost:8765", "LOCALHOST", "api.localhost:1", "[::1]:8765", "127.0.0.1"])
def test_loopback_host_names_are_served(host: str) -> None:
    with _client("127.0.0.1", host=host) as client:
        assert client.get("/admin/status").status_code == 200


def test_a_cross_site_text_plain_post_gets_refused(local: TestClient) -> None:
    response = local.post(
        "/admin/clock/resume",
        content=b'{"x": 1}',
        headers={"origin": "https://evil.example", "content-type": "text/plain"},
    )
    assert response.status_code == 403 and "Cross-origin" in response.json()["error"]
    assert local.get("/admin/status").json()["paused"] is True


def test_a_same_origin_request_is_served(local: TestClient) -> None:
    assert local.get("/admin/status", headers={"origin": "http://127.0.0.1:8765"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/admin/clock/speed", "text/plain"),
        ("/admin/clock/speed", "application/x-www-form-urlencoded"),
        ("/admin/clock/speed", None),
        ("/admin/scenario", "text/plain"),
        ("/admin/scenario", "application/json"),
    ],
)
def test_a_body_of_another_media_type_gets_415(local: TestClient, path: str, content_type: str | None) -> None:
    headers = {} if content_type is None else {"content-type": content_type}
    response = local.post(path, content=b'{"speed": 2}', headers=headers)
    assert response.status_code == 415 and "must be application/" in response.json()["error"]


def test_with_a_token_any_address_with_it_is_served() -> None:
    with _client("10.0.0.7", host="emulator:8765", admin_token=TOKEN) as client:
        assert client.get("/admin/status").status_code == 401
        wrong = client.get("/admin/status", headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        assert client.get("/admin/status", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_with_a_token_a_loopback_client_needs_it_too() -> None:
    with _client("127.0.0.1", admin_token=TOKEN) as client:
        assert client.get("/admin/status").status_code == 401


def test_the_token_file_gives_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(f"  {TOKEN}  \nignored\n")
    assert admin_token(Settings(admin=True, admin_token_file=path)) == TOKEN


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"admin": True, "admin_token": " "}, "empty"),
        ({"admin": False, "admin_token": TOKEN}, "needs --admin"),
        ({"admin": True, "admin_token": TOKEN, "admin_token_file": Path("x")}, "not both"),
    ],
)
def test_unusable_tokens_are_refused_at_start(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        admin_token(Settings(**settings))


def test_an_empty_token_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("")
    with pytest.raises(ValueError, match="empty"):
        admin_token(Settings(admin=True, admin_token_file=tmp_path / "token"))


@given(st.ip_addresses())
def test_is_loopback_agrees_with_ipaddress(address: Any) -> None:
    mapped = getattr(address, "ipv4_mapped", None)
    expected = address.is_loopback or (mapped is not None and mapped.is_loopback)
    assert is_loopback(str(address)) == expected
    assert is_loopback(f"[{address}]") == expected
