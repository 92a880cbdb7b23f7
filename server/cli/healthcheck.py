"""``coinapi-emulator healthcheck``: asks a running server's ``/ready`` (or another path) and exits 0 or 1.

It reads the same ``--host``, ``--port`` and ``--ssl-certfile`` as ``serve`` (flags or ``COINAPI_EMULATOR_*``
variables), so a container's HEALTHCHECK follows the port and the scheme it was configured with; a server bound
to every interface (``0.0.0.0``, ``::``) is asked on loopback.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from coinapi_emulator.server.cli.options import env_option

#: what a wildcard bind address is reached on from the same machine
_LOOPBACK_FOR = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}


def probe_url(host: str, port: int, *, tls: bool, path: str) -> str:
    """The URL that reaches a server bound to ``host``:``port`` from this machine."""
    host = _LOOPBACK_FOR.get(host, host)
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return f"{'https' if tls else 'http'}://{netloc}{path}"


def probe(url: str, *, timeout_s: float) -> str | None:
    """None when ``url`` answers 200; else why not, in a line."""
    # the server's own certificate is checked by its clients; here only the answer matters, and a certificate
    # issued for a public name never matches 127.0.0.1
    context = _unverified() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(url, timeout=timeout_s, context=context) as response:
            return None if response.status == 200 else f"{url}: HTTP {response.status}"
    except urllib.error.HTTPError as error:
        return f"{url}: HTTP {error.code} {error.read(200).decode('utf-8', 'replace')}"
    except (urllib.error.URLError, OSError) as error:
        return f"{url}: {getattr(error, 'reason', error)}"


def _unverified() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


@click.command("healthcheck")
@env_option("--host", default="127.0.0.1", help="The address the server listens on (as given to serve).")
@env_option("--port", default=8765, type=click.IntRange(1, 65535), help="Its port.")
@env_option(
    "--ssl-certfile",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Given to serve: the server speaks https.",
)
@click.option("--path", default="/ready", show_default=True, help="What to ask: /ready (market running) or /health.")
@click.option("--timeout", default=3.0, show_default=True, type=click.FloatRange(min=0, min_open=True))
def healthcheck_command(**options: Any) -> None:
    """Exit 0 when a running server answers 200, else 1 (for a container HEALTHCHECK or a script)."""
    url = probe_url(options["host"], options["port"], tls=options["ssl_certfile"] is not None, path=options["path"])
    failure = probe(url, timeout_s=options["timeout"])
    if failure is not None:
        click.echo(f"unhealthy: {failure}", err=True)
        raise SystemExit(1)
    click.echo(f"healthy: {url}")
