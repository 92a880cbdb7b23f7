"""The OpenAPI 3.1 document of the HTTP API, served as ``GET /openapi.json``: REST (PROTOCOL.md §7), the service
routes, and with ``--admin`` the admin API; built from ``openapi_operations.py`` and the JSON Schemas of
``protocol/json_schemas.py``.

Each route's errors follow from who may call it, as ``rest.py``, ``market_data.py`` and ``admin.py`` answer them:
keyed routes 400, 401, 429 (and 550 for an unknown id); admin routes 401 or 403 from the gate, 400 for a bad
request, 415 for a body of another type. Every answer of a keyed route but the 401 carries the ``X-RateLimit-*``
headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from coinapi_emulator.server.http.openapi_operations import (
    ADMIN_OPERATIONS,
    DASHBOARD_OPERATIONS,
    OPERATIONS,
    PATH,
    QUERY,
    JsonObject,
    Operation,
    ref,
)
from coinapi_emulator.server.protocol.json_schemas import components

_DESCRIPTION: Final = (
    "CoinAPI's REST market-data and metadata calls as coinapi-emulator answers them (docs/PROTOCOL.md §7), beside "
    'its WebSocket API (GET /asyncapi.json). Errors are {"error": "<text>"}: 400 for a bad parameter, 401 for a '
    "refused key, 429 past the daily request budget (--rest-rate-limit), 550 for an unknown id (CoinAPI's "
    '"no data"); a path not listed here gets 404 {"error": "Not Found: <path>"}, a method not listed 405 '
    '{"error": "Method Not Allowed: <path>"}. Any non-empty key is accepted unless the server runs with --api-keys '
    "or --api-key. JSON only; bodies of 1 KB and more are gzipped for a client that sends Accept-Encoding: gzip. "
    "The admin paths are there only when the server runs with --admin, the dashboard's unless with --no-dashboard."
)
_KEY_SECURITY: Final = {
    "apiKeyHeader": {"type": "apiKey", "name": "X-CoinAPI-Key", "in": "header"},
    "apiKeyQuery": {"type": "apiKey", "name": "apikey", "in": "query"},
    "authorizationHeader": {"type": "apiKey", "name": "Authorization", "in": "header", "description": "a bare key"},
    "basicAuth": {"type": "http", "scheme": "basic", "description": "user coinapi, the key as the password"},
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "the token counts as the key"},
}
_ADMIN_SECURITY: Final = {
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "--admin-token; without one the admin API answers this machine only, with no credentials",
    }
}
_RATE_HEADERS: Final = {
    "X-RateLimit-Limit": ("requests a key may make a UTC day (--rest-rate-limit)", {"type": "integer"}),
    "X-RateLimit-Remaining": ("what is left of them", {"type": "integer", "minimum": 0}),
    "X-RateLimit-Request-Cost": ("what this request cost: 1, or ceil(limit / 100)", {"type": "integer", "minimum": 1}),
    "X-RateLimit-Reset": ("when the budget resets: the next midnight UTC", ref("time")),
}
#: responses shared by many operations: name -> (status, description, with the rate-limit headers)
_RESPONSES: Final = {
    "BadRequest": ("400", "A bad parameter (the text says which)", True),
    "Unauthorized": ("401", "A missing or refused API key", False),
    "TooManyRequests": ("429", "The key's daily request budget is spent", True),
    "NoData": ("550", "An unknown id (CoinAPI's no data)", True),
    "AdminBadRequest": ("400", "A bad request body or parameter", False),
    "AdminUnauthorized": ("401", "With --admin-token: a missing or wrong bearer token", False),
    "AdminForbidden": ("403", "Without --admin-token: not this machine; or a cross-site Origin", False),
    "UnsupportedMediaType": ("415", "A body of another media type", False),
}
_PATH_PARAMETER: Final = re.compile(r"\{(\w+)\}")


def openapi_document(version: str, *, admin: bool, dashboard: bool) -> JsonObject:
    """The OpenAPI 3.1 document of every HTTP route; the admin API's only when ``admin`` (``--admin``), the
    dashboard's only when ``dashboard``."""
    operations = OPERATIONS + (ADMIN_OPERATIONS if admin else ()) + (DASHBOARD_OPERATIONS if dashboard else ())
    paths: dict[str, dict[str, JsonObject]] = {}
    for operation in operations:
        paths.setdefault(operation.path, {})[operation.method] = _operation(operation)
    return {
        "openapi": "3.1.0",
        "info": {"title": "coinapi-emulator HTTP API", "version": version, "description": _DESCRIPTION},
        # relative: the server this document was fetched from
        "servers": [{"url": "/"}],
        "security": [{name: []} for name in _KEY_SECURITY],
        "tags": [{"name": name} for name in dict.fromkeys(operation.tag for operation in operations)],
        "paths": paths,
        "components": {
            "schemas": components(_schema_names(operations)),
            "responses": {name: _error_response(name) for name in _RESPONSES},
            "headers": {
                name: {"description": text, "required": True, "schema": schema}
                for name, (text, schema) in _RATE_HEADERS.items()
            },
            "securitySchemes": {**_KEY_SECURITY, **(_ADMIN_SECURITY if admin else {})},
        },
    }


def _schema_names(operations: Iterable[Operation]) -> set[str]:
    """The component schemas the operations refer to, and the error body."""
    found = {"rest_error"}
    for operation in operations:
        schemas = [operation.answer, *(schema for _, schema in operation.also.values())]
        schemas += [operation.body[1]] if operation.body else []
        schemas += [QUERY[name]["schema"] for name in operation.query + operation.required]
        found |= {name for schema in schemas for name in _references(schema)}
    return found


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"].rsplit("/", 1)[-1]] if "$ref" in node else []
        return own + [name for value in node.values() for name in _references(value)]
    if isinstance(node, list):
        return [name for item in node for name in _references(item)]
    return []


def _operation(operation: Operation) -> JsonObject:
    parameters = [
        {"name": name, "in": "path", "required": True, **PATH[name]} for name in _PATH_PARAMETER.findall(operation.path)
    ]
    query = operation.query + (("output_format",) if operation.access == "key" else ())
    parameters += [{"name": name, "in": "query", "required": True, **QUERY[name]} for name in operation.required]
    parameters += [{"name": name, "in": "query", **QUERY[name]} for name in query]
    document: JsonObject = {
        "tags": [operation.tag],
        "summary": operation.summary,
        "operationId": _operation_id(operation),
        "parameters": parameters,
    }
    if operation.body is not None:
        media_type, schema = operation.body
        document["requestBody"] = {"required": True, "content": {media_type: {"schema": schema}}}
    document["responses"] = _responses(operation)
    if operation.access == "open":
        document["security"] = []
    elif operation.access == "admin":
        document["security"] = [{"adminToken": []}, {}]
    return document


def _operation_id(operation: Operation) -> str:
    """``get /v1/quotes/{symbol_id}/latest`` -> ``get_v1_quotes_symbol_id_latest``; ``get /`` -> ``get_root``."""
    return "_".join([operation.method, *(re.findall(r"\w+", operation.path) or ["root"])])


def _responses(operation: Operation) -> JsonObject:
    responses: JsonObject = {"200": _ok(operation, operation.access == "key")}
    for status, (description, schema) in operation.also.items():
        responses[status] = {"description": description, "content": {"application/json": {"schema": schema}}}
    for name in _errors(operation):
        responses[_RESPONSES[name][0]] = {"$ref": f"#/components/responses/{name}"}
    return dict(sorted(responses.items()))


def _errors(operation: Operation) -> list[str]:
    """The shared error responses an operation answers (``rest.py``'s guard; ``admin.py`` and its gate)."""
    if operation.access == "key":
        return ["BadRequest", "Unauthorized", "TooManyRequests", *(["NoData"] if operation.no_data else [])]
    if operation.access == "open":
        return []
    takes_input = operation.body is not None or operation.query
    return [
        *(["AdminBadRequest"] if takes_input else []),
        "AdminUnauthorized",
        "AdminForbidden",
        *(["UnsupportedMediaType"] if operation.method == "post" else []),
    ]


def _ok(operation: Operation, keyed: bool) -> JsonObject:
    ok: JsonObject = {"description": "OK", "content": {operation.media_type: {"schema": operation.answer}}}
    if keyed:
        ok["headers"] = _rate_headers()
    return ok


def _rate_headers() -> JsonObject:
    return {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_HEADERS}


def _error_response(name: str) -> JsonObject:
    _, description, rate_limited = _RESPONSES[name]
    response: JsonObject = {"description": description, "content": {"application/json": {"schema": ref("rest_error")}}}
    if rate_limited:
        response["headers"] = _rate_headers()
    if name == "AdminUnauthorized":
        response["headers"] = {"WWW-Authenticate": {"required": True, "schema": {"type": "string"}}}
    return response
