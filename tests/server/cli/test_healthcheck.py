"""``coinapi-emulator healthcheck`` against a small HTTP server in a thread: 200 is healthy, anything else is not."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from coinapi_emulator.server.cli import main as cli
from coinapi_emulator.server.cli.healthcheck import probe, probe_url
from tests.e2e.processes import free_port


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = 200 if self.path == "/ready" else 503
        self.send_response(status)
        self.end_headers()
        self.wfile.write(b'{"status":"ready"}' if status == 200 else b'{"status":"draining"}')

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest.fixture
def answering_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("0.0.0.0", "http://127.0.0.1:8765/ready"),
        ("", "http://127.0.0.1:8765/ready"),
        ("::", "http://[::1]:8765/ready"),
        ("10.1.2.3", "http://10.1.2.3:8765/ready"),
        ("::1", "http://[::1]:8765/ready"),
    ],
)
def test_a_wildcard_bind_is_asked_on_loopback(host: str, url: str) -> None:
    assert probe_url(host, 8765, tls=False, path="/ready") == url


@given(port=st.integers(1, 65535), tls=st.booleans(), path=st.sampled_from(["/ready", "/health"]))
def test_the_scheme_follows_tls_and_the_port_is_kept(port: int, tls: bool, path: str) -> None:
    url = probe_url("0.0.0.0", port, tls=tls, path=path)
    assert url == f"{'https' if tls else 'http'}://127.0.0.1:{port}{path}"


def test_200_is_healthy_and_other_answers_say_what_they_were(answering_port: int) -> None:
    assert probe(f"http://127.0.0.1:{answering_port}/ready", timeout_s=3) is None
    failure = probe(f"http://127.0.0.1:{answering_port}/health", timeout_s=3)
    assert failure is not None and "HTTP 503" in failure and "draining" in failure
    refused = probe(f"http://127.0.0.1:{free_port()}/ready", timeout_s=3)
    assert refused is not None and "refused" in refused.lower()


def test_the_command_reads_serves_variables_and_exits_0_or_1(answering_port: int) -> None:
    runner = CliRunner()
    healthy = runner.invoke(cli.main, ["healthcheck"], env={"COINAPI_EMULATOR_PORT": str(answering_port)})
    assert healthy.exit_code == 0 and f"healthy: http://127.0.0.1:{answering_port}/ready" in healthy.output
    draining = runner.invoke(cli.main, ["healthcheck", "--port", str(answering_port), "--path", "/health"])
    assert draining.exit_code == 1 and "unhealthy" in draining.output
