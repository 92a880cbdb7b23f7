"""Who may use the admin API: a bearer token, or without one, the same machine only.

Why each rule (issue 14, item 9): the admin API can pause the market and close every connection.
- Without ``--admin-token`` it answers loopback clients only, and only under a loopback ``Host`` name: a page on
  another site that the user's browser opens cannot reach it by rebinding its own name to 127.0.0.1.
- With a token it answers any address that sends ``Authorization: Bearer <token>``; browsers never add that header
  by themselves, and a page cannot add it to a cross-origin request without a CORS preflight, which is not answered.
- A request whose ``Origin`` is another site is refused either way, and a POST body must have a JSON (or, for a
  scenario, TOML) content type: the cross-site form and ``text/plain`` requests a browser sends without asking
  are refused.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import Response

from coinapi_emulator.server.config import Settings
from coinapi_emulator.server.http.responses import error_response

#: host names that resolve to this machine without a resolver's help (RFC 6761 §6.3)
_LOOPBACK_NAMES = ("localhost", "localhost.")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name, IPv6 with or without brackets) is this machine's loopback."""
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)
    return (mapped or address).is_loopback


def admin_token(settings: Settings) -> str | None:
    """The token from ``--admin-token`` or the first line of ``--admin-token-file``; ``ValueError`` when unusable."""
    if settings.admin_token is not None and settings.admin_token_file is not None:
        raise ValueError("give --admin-token or --admin-token-file, not both")
    token = settings.admin_token
    if settings.admin_token_file is not None:
        lines = settings.admin_token_file.read_text(encoding="utf-8").splitlines()
        token = lines[0].strip() if lines else ""
    if token is not None and not token.strip():
        raise ValueError("the admin token is empty")
    if token is not None and not settings.admin:
        raise ValueError("an admin token needs --admin")
    return token


@dataclass(frozen=True, slots=True)
class AdminAccess:
    """The admin API's gate: ``refusal`` answers a request that may not go through."""

    token: str | None

    def refusal(self, request: Request, body_types: Collection[str]) -> Response | None:
        """The error response for ``request``, or None when it may go through; ``body_types``: the media types
        a non-empty body may have."""
        return self._caller_refusal(request) or _origin_refusal(request) or _body_refusal(request, body_types)

    def _caller_refusal(self, request: Request) -> Response | None:
        if self.token is not None:
            scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and hmac.compare_digest(credentials.strip().encode(), self.token.encode()):
                return None
            response = error_response(401, "The admin API needs 'Authorization: Bearer <token>' (--admin-token)")
            response.headers["WWW-Authenticate"] = 'Bearer realm="coinapi-emulator admin"'
            return response
        if request.client is None or not is_loopback(request.client.host):
            return error_response(403, "The admin API answers this machine only; give --admin-token to open it")
        if not is_loopback(_host_name(request.headers.get("host", ""))):
            return error_response(403, "The admin API answers under a loopback Host only (localhost, 127.0.0.1, ::1)")
        return None


def _host_name(host_header: str) -> str:
    """The name in a ``Host`` header, without its port."""
    return urlsplit("//" + host_header).hostname or ""


def _origin_refusal(request: Request) -> Response | None:
    origin = request.headers.get("origin")
    if origin is None or urlsplit(origin).netloc.lower() == request.headers.get("host", "").lower():
        return None
    return error_response(403, f"Cross-origin requests to the admin API are refused (Origin: {origin})")


def _body_refusal(request: Request, body_types: Collection[str]) -> Response | None:
    has_body = request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    if not has_body:
        return None
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type in body_types:
        return None
    return error_response(415, f"The body must be {' or '.join(body_types)}, not {media_type or 'untyped'}")
