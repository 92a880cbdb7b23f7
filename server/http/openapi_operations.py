"""Every HTTP route the app serves, as the OpenAPI document describes it: what it takes and what a 200 carries.

``openapi.py`` turns these into the document, adding the errors each kind of route answers. A route added to the
app without an entry here fails ``tests/contracts/test_openapi.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

JsonObject = dict[str, Any]

#: who may call a route: ``key`` (an API key, counted against the daily budget), ``open`` (anyone), ``admin``
Access = Literal["key", "open", "admin"]


def ref(name: str) -> JsonObject:
    """A reference to one of the document's component schemas."""
    return {"$ref": f"#/components/schemas/{name}"}


def array_of(name: str) -> JsonObject:
    """An array of one component schema."""
    return {"type": "array", "items": ref(name)}


@dataclass(frozen=True, slots=True)
class Operation:
    """One method on one path."""

    method: Literal["get", "post"]
    path: str
    summary: str
    tag: str
    #: the schema of a 200's body
    answer: JsonObject
    access: Access = "key"
    #: optional query parameters (names in ``QUERY``)
    query: tuple[str, ...] = ()
    #: query parameters without which the route answers 400
    required: tuple[str, ...] = ()
    #: 550 for an unknown id in the path (CoinAPI's "no data")
    no_data: bool = False
    #: the media type and schema of the request body
    body: tuple[str, JsonObject] | None = None
    #: the 200's media type
    media_type: str = "application/json"
    #: responses besides the ones its access brings: status -> (description, body schema)
    also: dict[str, tuple[str, JsonObject]] = field(default_factory=dict)


_TIME: Final = "ISO 8601 as CoinAPI takes it: 2024-01-01, 2024-01-01T10:00:00, up to 9 fractional digits, Z or an "
_TIME_TAIL: Final = "offset; UTC without one"
_LIST: Final = "separated by ; or ,"

#: query parameters (PROTOCOL.md §7, §7.4; server/protocol/rest_query.py)
QUERY: Final[dict[str, JsonObject]] = {
    "filter_symbol_id": {"description": f"symbol id prefixes, {_LIST} (no trailing $)", "schema": {"type": "string"}},
    "filter_exchange_id": {"description": f"exchange ids, {_LIST}", "schema": {"type": "string"}},
    "filter_asset_id": {"description": f"asset ids, {_LIST}", "schema": {"type": "string"}},
    "limit": {
        "description": "how many, 1 to 100000; a request costs ceil(limit / 100) of the daily budget",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 100},
    },
    "limit_levels": {
        "description": "levels a side (default: every level for /current, 20 for /latest and /history)",
        "schema": {"type": "integer", "minimum": 1, "maximum": 100000},
    },
    "time_start": {"description": _TIME + _TIME_TAIL, "schema": {"type": "string"}},
    "time_end": {"description": f"exclusive; default now. {_TIME}{_TIME_TAIL}", "schema": {"type": "string"}},
    "time": {"description": f"the rate at this time, default now. {_TIME}{_TIME_TAIL}", "schema": {"type": "string"}},
    "period_id": {
        "description": "one of /v1/ohlcv/periods; calendar periods (MTH, YRS) are not served",
        "schema": ref("period_id"),
    },
    "invert": {"description": "rates of the other assets in the base", "schema": {"type": "boolean", "default": False}},
    "output_format": {"description": "json only: anything else gets 400", "schema": {"enum": ["json"]}},
    "data_type": {
        "description": "only the open connections that receive this data type now",
        "schema": ref("data_type"),
    },
    "symbol_id": {
        "description": "with data_type: only those receiving this symbol (or pair)",
        "schema": {"type": "string"},
    },
}
#: path parameters, by name (a path's ``{name}``)
PATH: Final[dict[str, JsonObject]] = {
    "exchange_id": {"description": "an exchange id, e.g. BINANCE", "schema": {"type": "string"}},
    "asset_id": {"description": "an asset id, e.g. BTC", "schema": {"type": "string"}},
    "symbol_id": {"description": "a symbol id, e.g. BINANCE_SPOT_BTC_USDT", "schema": {"type": "string"}},
    "asset_id_base": {"description": "the base asset, e.g. BTC", "schema": {"type": "string"}},
    "asset_id_quote": {"description": "the quote asset, e.g. USD", "schema": {"type": "string"}},
    "connection_id": {"description": "a connection id (GET /admin/status)", "schema": {"type": "integer"}},
}

_DOCUMENT: Final = {"type": "object", "description": "the document"}
_HISTORY: Final = ("time_end", "limit")
_SERVICE: Final = "service"
_CONTRACTS: Final = "contracts"
_METADATA: Final = "metadata"
_RATES: Final = "exchange rates"
_MARKET: Final = "market data"
_ADMIN: Final = "admin"
_DASHBOARD: Final = "dashboard"


def _open(path: str, summary: str, answer: JsonObject, tag: str = _SERVICE, **more: Any) -> Operation:
    return Operation("get", path, summary, tag, answer, access="open", **more)


def _get(path: str, summary: str, tag: str, answer: JsonObject, **more: Any) -> Operation:
    return Operation("get", path, summary, tag, answer, **more)


def _admin(method: Literal["get", "post"], path: str, summary: str, answer: str, **more: Any) -> Operation:
    return Operation(method, path, summary, _ADMIN, ref(answer), access="admin", **more)


def _json(name: str) -> tuple[str, JsonObject]:
    return "application/json", ref(name)


OPERATIONS: Final = (
    _open("/", "What this server is and where to connect", ref("rest_info")),
    _open("/health", "Alive", ref("rest_health")),
    _open(
        "/ready",
        "Ready once the market runs",
        ref("rest_ready"),
        also={"503": ("Starting, draining after a shutdown signal, or failed", ref("rest_ready"))},
    ),
    _open("/metrics", "Prometheus metrics (README: Metrics)", {"type": "string"}, media_type="text/plain"),
    _open("/openapi.json", "This document", {**_DOCUMENT, "required": ["openapi", "info", "paths"]}, _CONTRACTS),
    _open(
        "/asyncapi.json",
        "The AsyncAPI 3.0 document of the WebSocket API (docs/asyncapi.yaml)",
        {**_DOCUMENT, "required": ["asyncapi", "info", "channels"]},
        _CONTRACTS,
    ),
    _get("/v1/exchanges", "Exchanges", _METADATA, array_of("rest_exchange"), query=("filter_exchange_id",)),
    _get(
        "/v1/exchanges/{exchange_id}",
        "One exchange, as a one-element array",
        _METADATA,
        array_of("rest_exchange"),
        no_data=True,
    ),
    _get("/v1/assets", "Assets", _METADATA, array_of("rest_asset"), query=("filter_asset_id",)),
    _get("/v1/assets/{asset_id}", "One asset, as a one-element array", _METADATA, array_of("rest_asset"), no_data=True),
    _get(
        "/v1/symbols",
        "Active symbols",
        _METADATA,
        array_of("rest_symbol"),
        query=("filter_symbol_id", "filter_exchange_id", "filter_asset_id"),
    ),
    _get(
        "/v1/symbols/{exchange_id}",
        "Active symbols of one exchange",
        _METADATA,
        array_of("rest_symbol"),
        query=("filter_symbol_id", "filter_asset_id"),
        no_data=True,
    ),
    _get(
        "/v1/symbols/{exchange_id}/active",
        "Active symbols of one exchange (an alias; every catalogue symbol is active)",
        _METADATA,
        array_of("rest_symbol"),
        query=("filter_symbol_id", "filter_asset_id"),
        no_data=True,
    ),
    _get("/v1/ohlcv/periods", "Every OHLCV period id", _METADATA, array_of("rest_ohlcv_period")),
    _get(
        "/v1/exchangerate/{asset_id_base}",
        "The rates of the base in every other asset, now or at a time",
        _RATES,
        ref("rest_exchangerates"),
        query=("filter_asset_id", "invert", "time"),
        no_data=True,
    ),
    _get(
        "/v1/exchangerate/{asset_id_base}/{asset_id_quote}",
        "The rate of a pair, now or at a time",
        _RATES,
        ref("rest_exchangerate"),
        query=("time",),
        no_data=True,
    ),
    _get(
        "/v1/exchangerate/{asset_id_base}/{asset_id_quote}/history",
        "Exchange-rate candles, oldest first",
        _RATES,
        array_of("rest_exchangerate_candle"),
        query=_HISTORY,
        required=("period_id", "time_start"),
        no_data=True,
    ),
    _get(
        "/v1/quotes/current",
        "The current quote of each symbol",
        _MARKET,
        array_of("rest_current_quote"),
        query=("filter_symbol_id",),
    ),
    _get(
        "/v1/quotes/latest",
        "The newest quotes of the symbols, newest first",
        _MARKET,
        array_of("rest_quote"),
        query=("filter_symbol_id", "limit"),
    ),
    _get("/v1/quotes/{symbol_id}/current", "The current quote", _MARKET, ref("rest_current_quote"), no_data=True),
    _get(
        "/v1/quotes/{symbol_id}/latest",
        "The newest quotes, newest first",
        _MARKET,
        array_of("rest_quote"),
        query=("limit",),
        no_data=True,
    ),
    _get(
        "/v1/quotes/{symbol_id}/history",
        "Quotes in a window, oldest first",
        _MARKET,
        array_of("rest_quote"),
        query=_HISTORY,
        required=("time_start",),
        no_data=True,
    ),
    _get(
        "/v1/orderbooks/current",
        "The current book of each symbol",
        _MARKET,
        array_of("rest_order_book"),
        query=("limit_levels",),
        required=("filter_symbol_id",),
    ),
    _get(
        "/v1/orderbooks/{symbol_id}/current",
        "The current book",
        _MARKET,
        ref("rest_order_book"),
        query=("limit_levels",),
        no_data=True,
    ),
    _get(
        "/v1/orderbooks3/current",
        "The current book of each symbol, order by order",
        _MARKET,
        array_of("rest_order_book_l3"),
        query=("limit_levels",),
        required=("filter_symbol_id",),
    ),
    _get(
        "/v1/orderbooks3/{symbol_id}/current",
        "The current book, order by order",
        _MARKET,
        ref("rest_order_book_l3"),
        query=("limit_levels",),
        no_data=True,
    ),
    _get(
        "/v1/orderbooks/{symbol_id}/latest",
        "The book after each of the newest changes, newest first",
        _MARKET,
        array_of("rest_order_book"),
        query=("limit", "limit_levels"),
        no_data=True,
    ),
    _get(
        "/v1/orderbooks/{symbol_id}/history",
        "The book after each change in a window, oldest first",
        _MARKET,
        array_of("rest_order_book"),
        query=(*_HISTORY, "limit_levels"),
        required=("time_start",),
        no_data=True,
    ),
    _get(
        "/v1/trades/latest",
        "The newest trades of the symbols, newest first",
        _MARKET,
        array_of("rest_trade"),
        query=("filter_symbol_id", "limit"),
    ),
    _get(
        "/v1/trades/{symbol_id}/latest",
        "The newest trades, newest first",
        _MARKET,
        array_of("rest_trade"),
        query=("limit",),
        no_data=True,
    ),
    _get(
        "/v1/trades/{symbol_id}/history",
        "Trades in a window, oldest first",
        _MARKET,
        array_of("rest_trade"),
        query=_HISTORY,
        required=("time_start",),
        no_data=True,
    ),
    _get(
        "/v1/ohlcv/{symbol_id}/latest",
        "The newest candles, newest first (the newest may still be open)",
        _MARKET,
        array_of("rest_ohlcv"),
        query=("limit",),
        required=("period_id",),
        no_data=True,
    ),
    _get(
        "/v1/ohlcv/{symbol_id}/history",
        "Candles in a window, oldest first",
        _MARKET,
        array_of("rest_ohlcv"),
        query=_HISTORY,
        required=("period_id", "time_start"),
        no_data=True,
    ),
)

ADMIN_OPERATIONS: Final = (
    _admin("get", "/admin/status", "The shared market's clock and counters, and every connection", "admin_status"),
    _admin(
        "get",
        "/admin/journal",
        "What each client sent, oldest connection first",
        "admin_journals",
        query=("data_type", "symbol_id"),
    ),
    _admin(
        "get",
        "/admin/journal/{connection_id}",
        "What one client sent",
        "admin_journal",
        also={"404": ("Unknown connection, or closed long ago", ref("rest_error"))},
    ),
    _admin("post", "/admin/inject", "Send a frame to connections", "admin_inject_result", body=_json("admin_inject")),
    _admin("post", "/admin/clock/pause", "Pause the virtual clock", "admin_status"),
    _admin("post", "/admin/clock/resume", "Resume the virtual clock", "admin_status"),
    _admin("post", "/admin/clock/step", "Publish virtual time now", "admin_status", body=_json("admin_step")),
    _admin("post", "/admin/clock/speed", "Set the clock's speed", "admin_status", body=_json("admin_speed")),
    _admin("post", "/admin/faults", "Inject a fault now", "admin_fault_result", body=_json("admin_fault")),
    _admin(
        "post",
        "/admin/scenario",
        "Schedule a scenario (TOML) from the market's current time",
        "admin_scenario_result",
        body=("application/toml", {"type": "string"}),
    ),
)

#: ``--dashboard`` (on by default); its static files under /dashboard/static are not described
DASHBOARD_OPERATIONS: Final = (
    _open("/dashboard", "The live dashboard page", {"type": "string"}, _DASHBOARD, media_type="text/html"),
    _open("/dashboard/state", "What the dashboard page shows", ref("dashboard_state"), _DASHBOARD),
)
