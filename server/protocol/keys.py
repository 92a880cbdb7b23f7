"""Where an API key can travel in a request target (PROTOCOL.md §1.3), and taking it out of text that is kept.

The one place that names them: the recorder drops them from the URL it writes, the server's logs print ``***`` in
their place (an access log line once kept ``?apikey=...`` at the default level).
"""

from __future__ import annotations

import re
from typing import Final

#: query parameters that carry a key (CoinAPI reads ``apikey``; the others are spellings clients use)
KEY_QUERY_NAMES: Final = frozenset({"apikey", "api_key", "x-coinapi-key"})
#: a last path segment ``/APIKEY-<key>`` carries one too
KEY_PATH_PREFIX: Final = "APIKEY-"

_KEY_IN_TARGET: Final = re.compile(
    r"(?P<query>(?:^|[?&])(?:" + "|".join(re.escape(name) for name in sorted(KEY_QUERY_NAMES)) + r")=)[^&#\s]*"
    r"|(?P<path>/" + re.escape(KEY_PATH_PREFIX) + r")[^/?#\s]*",
    re.IGNORECASE,
)
#: a header line of a logged handshake that carries a key: ``< x-coinapi-key: ...``, ``< authorization: ...``
_KEY_HEADER: Final = re.compile(r"(?P<name>(?:x-coinapi-key|authorization):[ \t]*)[^\r\n]*", re.IGNORECASE)
#: a JSON string field whose name ends in ``key`` (``apikey``; also when a logged message is cut inside the name)
_KEY_FIELD: Final = re.compile(r'(?P<name>key"\s*:\s*")(?:[^"\\]|\\.)*"', re.IGNORECASE)


def redact_target(target: str) -> str:
    """``target`` (a path with its query, or a line quoting one) with every key in it replaced by ``***``."""
    return _KEY_IN_TARGET.sub(lambda match: f"{match['query'] or match['path']}***", target)


def redact(text: str) -> str:
    """``text`` (a log line) with every key replaced by ``***``: in request targets, in handshake header lines, and
    in JSON ``...key`` fields of logged messages."""
    text = redact_target(text)
    text = _KEY_HEADER.sub(lambda match: f"{match['name']}***", text)
    return _KEY_FIELD.sub(lambda match: f'{match["name"]}***"', text)
