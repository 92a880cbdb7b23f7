"""Taking API keys out of request targets that are kept (logs), wherever a request can carry one."""

from __future__ import annotations

import logging

import pytest

from coinapi_emulator.server.cli.logs import RedactKeys
from coinapi_emulator.server.protocol.keys import redact, redact_target


@pytest.mark.parametrize(
    ("target", "redacted"),
    [
        ("/v1/?apikey=SECRET", "/v1/?apikey=***"),
        ("/v1/?seed=4&apikey=SECRET&x=1", "/v1/?seed=4&apikey=***&x=1"),
        ("/v1/symbols?API_KEY=SECRET", "/v1/symbols?API_KEY=***"),
        ("/?x-coinapi-key=SECRET#frag", "/?x-coinapi-key=***#frag"),
        ("/v1/APIKEY-SECRET", "/v1/APIKEY-***"),
        ("/APIKEY-SECRET?seed=1", "/APIKEY-***?seed=1"),
        ("/v1/?seed=4", "/v1/?seed=4"),
        ("/v1/?notapikey=1", "/v1/?notapikey=1"),
    ],
)
def test_every_key_a_target_carries_becomes_stars(target: str, redacted: str) -> None:
    assert redact_target(target) == redacted


@pytest.mark.parametrize(
    ("line", "redacted"),
    [
        ("< x-coinapi-key: SECRET", "< x-coinapi-key: ***"),
        ("< Authorization: Basic Y29pbmFwaTpTRUNSRVQ=", "< Authorization: ***"),
        (
            '< TEXT \'{"type": "hello", "apikey": "SECRET"}\' [40 bytes]',
            '< TEXT \'{"type": "hello", "apikey": "***"}\' [40 bytes]',
        ),
        ('< TEXT \'{"type": "hel...pikey": "SEC\\"RET"}\'', '< TEXT \'{"type": "hel...pikey": "***"}\''),
        ('GET /v1/?apikey=SECRET with {"apikey":"S2"}', 'GET /v1/?apikey=*** with {"apikey":"***"}'),
    ],
)
def test_keys_in_header_lines_and_logged_messages_become_stars(line: str, redacted: str) -> None:
    assert redact(line) == redacted


def test_the_log_filter_redacts_the_formatted_line() -> None:
    args = ("1.2.3.4:5", "GET", "/v1/?apikey=S", "1.1", 200)
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d', args, None)
    assert RedactKeys().filter(record) and record.getMessage() == '1.2.3.4:5 - "GET /v1/?apikey=*** HTTP/1.1" 200'
