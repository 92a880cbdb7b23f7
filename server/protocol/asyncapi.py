"""The AsyncAPI 3.0 document of the WebSocket API as the emulator speaks it (PROTOCOL.md §1-§5), built from the
JSON Schemas of ``json_schemas.py``: served as ``GET /asyncapi.json`` and written to ``docs/asyncapi.yaml``.

The document describes the emulator, as AsyncAPI 3 documents describe their application: it *receives* a client's
hello, subscribe and unsubscribe and *sends* the market's messages (a client's view is the mirror image).
"""

from __future__ import annotations

from typing import Any, Final

from coinapi_emulator.server.protocol.json_schemas import components

JsonObject = dict[str, Any]

CHANNEL: Final = "marketData"
#: what a client sends, with a summary (PROTOCOL.md §2)
CLIENT_MESSAGES: Final = {
    "hello": "Replace the connection's whole scope: data types, filters, throttles, heartbeat (§2.2)",
    "subscribe": "Add data types and filter values to the scope (§2.2)",
    "unsubscribe": "Remove data types or filter values from the scope (§2.2)",
}
#: every message type the server sends, with a summary (PROTOCOL.md §3)
SERVER_MESSAGES: Final = {
    "trade": "An executed trade (§3.1)",
    "quote": "The best bid and ask, on every change of either (§3.2)",
    "book": "The full L2 book: a snapshot at subscription, then the changed levels; size 0 deletes (§3.3)",
    "book5": "The top 5 levels a side, on every book change (§3.4)",
    "book20": "The top 20 levels a side, at most once a virtual second (§3.4)",
    "book50": "The top 50 levels a side, at most once a virtual second (§3.4)",
    "book_l3": "The book order by order: a snapshot at subscription, then each order added, changed or removed (§3.5)",
    "ohlcv": "A candle: every 5 virtual seconds while its period trades, then once more when it closes (§3.6)",
    "exrate": "An exchange rate, each virtual second per subscribed pair (§3.7)",
    "asset": "An asset, once at subscription (§3.8)",
    "exchange": "An exchange, once at subscription (§3.8)",
    "symbol": "A symbol, once at subscription (§3.8)",
    "hearbeat": "After each second with nothing else, if the scope asked for heartbeats; CoinAPI's spelling (§3.9)",
    "error": "A request that cannot be served, or an injected fault; the server closes the connection next (§3.11)",
    "reconnect": "Reconnect within within_seconds: the server closes the connection then (§3.10, §5.4)",
}

_DESCRIPTION: Final = (
    "CoinAPI's Market Data WebSocket V1 as coinapi-emulator speaks it; docs/PROTOCOL.md is the reference, with "
    "every choice the emulator makes where CoinAPI's documents are silent. Connect, send a hello (or a subscribe), "
    "and the stream is the answer: nothing is acknowledged. Every frame is one JSON object in one text frame. This "
    "document describes the emulator: it receives hello, subscribe and unsubscribe and sends the market's messages."
)
_CHANNEL_DESCRIPTION: Final = (
    "One WebSocket connection. The same upgrade is served on /, /v1, /v1/, /APIKEY-{key} and /v1/APIKEY-{key} "
    "(PROTOCOL.md §1.1); ?seed=N gives the connection a private, reproducible market of its own."
)
_SECURITY: Final = {
    "apiKeyHeader": {"type": "httpApiKey", "name": "X-CoinAPI-Key", "in": "header"},
    "apiKeyQuery": {"type": "httpApiKey", "name": "apikey", "in": "query"},
    "authorizationHeader": {
        "type": "httpApiKey",
        "name": "Authorization",
        "in": "header",
        "description": "A bare key, Basic base64(coinapi:<key>), or Bearer <token> (the token counts as the key)",
    },
}
_SERVER_DESCRIPTION: Final = (
    "coinapi-emulator serve on its default port; wss:// with --ssl-certfile. The key may also come as apikey in "
    "the first hello or subscribe, which wins (PROTOCOL.md §1.3). Any non-empty key is accepted unless the server "
    "runs with --api-keys or --api-key; a refused one gets an error frame and close 1008."
)
#: the upgrade request's query (ws binding 0.1.0): the key, and a private market's options (PROTOCOL.md §1.1)
_QUERY: Final = {
    "type": "object",
    "properties": {
        "apikey": {"type": "string", "description": "the API key (PROTOCOL.md §1.3)"},
        "seed": {"type": "integer", "description": "a private market simulated with this seed; HTTP 400 if bad"},
        "start_time": {"type": "string", "description": "the private market's start, ISO 8601"},
        "speed": {"type": "string", "description": "the private market's speed: a number or max"},
    },
}


def asyncapi_document(version: str) -> JsonObject:
    """The AsyncAPI 3.0.0 document of the WebSocket API; ``version`` is the emulator's."""
    messages = {**CLIENT_MESSAGES, **SERVER_MESSAGES}
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "coinapi-emulator WebSocket API",
            "version": version,
            "description": _DESCRIPTION,
            "license": {"name": "MIT"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "emulator": {
                "host": "localhost:8765",
                "protocol": "ws",
                "description": _SERVER_DESCRIPTION,
                "security": [{"$ref": f"#/components/securitySchemes/{name}"} for name in _SECURITY],
            }
        },
        "channels": {
            CHANNEL: {
                "address": "/v1/",
                "title": "Market data",
                "description": _CHANNEL_DESCRIPTION,
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
                "bindings": {"ws": {"method": "GET", "query": _QUERY, "bindingVersion": "0.1.0"}},
            }
        },
        "operations": {
            **{_operation_id("receive", name): _operation("receive", name) for name in CLIENT_MESSAGES},
            **{_operation_id("send", name): _operation("send", name) for name in SERVER_MESSAGES},
        },
        "components": {
            "schemas": components(messages),
            "messages": {name: _message(name, summary) for name, summary in messages.items()},
            "securitySchemes": _SECURITY,
        },
    }


def _operation_id(action: str, name: str) -> str:
    return action + name[0].upper() + name[1:]


def _operation(action: str, name: str) -> JsonObject:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{CHANNEL}"},
        "summary": f"{'Receive' if action == 'receive' else 'Send'} {name}",
        "messages": [{"$ref": f"#/channels/{CHANNEL}/messages/{name}"}],
    }


def _message(name: str, summary: str) -> JsonObject:
    return {"name": name, "title": name, "summary": summary, "payload": {"$ref": f"#/components/schemas/{name}"}}
