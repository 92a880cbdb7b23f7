"""A handle's URLs: derived from any base URL a user may give external mode (http(s) or ws(s), with or without /v1/)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.testing.handle import EmulatorHandle, Endpoint

SECURE = {"http": False, "ws": False, "https": True, "wss": True}

hosts = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.from_regex(r"[a-z][a-z0-9-]{0,15}(\.[a-z][a-z0-9-]{0,15}){0,3}", fullmatch=True),
)
schemes = st.sampled_from(sorted(SECURE)).flatmap(lambda scheme: st.sampled_from([scheme, scheme.upper()]))
ports = st.none() | st.integers(1, 65_535)
base_paths = st.sampled_from(["", "/", "/v1", "/v1/"])


def in_url(host: str) -> str:
    return f"[{host}]" if ":" in host else host


@given(schemes, hosts, ports, base_paths)
def test_urls_derive_from_scheme_host_and_port(scheme: str, host: str, port: int | None, path: str) -> None:
    given_url = f"{scheme}://{in_url(host)}{'' if port is None else f':{port}'}{path}"
    endpoint = Endpoint.parse(given_url)

    secure = SECURE[scheme.lower()]
    netloc = f"{in_url(host.lower())}:{port or (443 if secure else 80)}"
    assert endpoint.url == f"{'wss' if secure else 'ws'}://{netloc}/v1/"
    assert endpoint.http_url == f"{'https' if secure else 'http'}://{netloc}"
    assert Endpoint.parse(endpoint.url) == Endpoint.parse(endpoint.http_url) == endpoint


@pytest.mark.parametrize(
    "url",
    [
        "127.0.0.1:8765",  # no scheme
        "ftp://127.0.0.1:8765",
        "http://:8765",
        "http://user:secret@127.0.0.1:8765",
        "http://127.0.0.1:8765/v2/",
        "ws://127.0.0.1:8765/v1/stream",
        "ws://127.0.0.1:8765/v1/?seed=3",  # one private market's URL, not the emulator's
        "http://127.0.0.1:8765#health",
        "http://127.0.0.1:0",
        "http://127.0.0.1:65536",
        "http://127.0.0.1:port",
    ],
)
def test_anything_but_a_base_url_is_refused(url: str) -> None:
    with pytest.raises(ValueError):
        Endpoint.parse(url)


@given(st.integers())
def test_url_for_adds_the_seed_of_a_private_market(seed: int) -> None:
    handle = EmulatorHandle.external("https://emulator.ci:9443")
    assert handle.url_for(seed) == f"wss://emulator.ci:9443/v1/?seed={seed}"


@pytest.mark.parametrize("seed", [True, 1.5, "3", None])
def test_url_for_takes_an_int_seed_only(seed: object) -> None:
    with pytest.raises(TypeError):
        EmulatorHandle.external("http://127.0.0.1:8765").url_for(seed)  # type: ignore[arg-type]


def test_an_external_handle_has_no_process_to_stop_nor_logs() -> None:
    handle = EmulatorHandle.external("ws://127.0.0.1:8765/v1/", admin_token="s3cret")

    assert (handle.port, handle.process, handle.options, handle.token) == (8765, None, None, "s3cret")
    assert handle.admin is handle and handle.base_url == "http://127.0.0.1:8765"
    assert handle.stop() is None
    assert handle.logs() == "(no logs: the emulator at http://127.0.0.1:8765 runs outside this test session)"
    assert repr(handle) == "<EmulatorHandle ws://127.0.0.1:8765/v1/ external>"
