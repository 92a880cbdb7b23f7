"""REST metadata beside the WebSocket (PROTOCOL.md §7), plus ``/health``, ``/ready``, ``/metrics`` and a root info
document.

Errors are CoinAPI's shape: a non-200 status with ``{"error": "<text>"}`` (401 for a bad key, 400 for bad
parameters, 404 for an unknown path, 550 for an unknown entity, as the real service's "no data").
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable, Iterable
from functools import partial

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route, Router

from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.auth import key_from_request
from coinapi_emulator.server.http.market_data import MarketDataApi
from coinapi_emulator.server.http.metrics import metrics_registry
from coinapi_emulator.server.http.rate_limit import RestQuota, request_cost
from coinapi_emulator.server.http.responses import NO_DATA, JsonResponse, RestError, error_response
from coinapi_emulator.server.plane.implementation import implementations, package_version
from coinapi_emulator.server.plane.retention import RetentionWindowError
from coinapi_emulator.server.protocol.encode import format_significant, format_time
from coinapi_emulator.server.protocol.metadata import JsonObject
from coinapi_emulator.server.protocol.rest_query import QueryError, parse_time, select_symbols, split_list
from coinapi_emulator.server.protocol.routes import CatalogIndex
from coinapi_emulator.simulator.catalog import Symbol
from coinapi_emulator.simulator.ohlcv import OHLCV_PERIODS

Handler = Callable[[Request], Awaitable[Response]]


def market_reads_app(emulator: Emulator) -> Router:
    """The routes that read the running market, without the key and quota checks: a simulator answers the reads
    its gateways forward with it (``bus.rest``; each gateway has checked the key and charged the quota)."""
    return Router(RestApi(emulator).market_routes(lambda handler: partial(RestApi._answer, handler)))


class RestApi:
    """Handlers bound to one emulator."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self._catalog = emulator.catalog
        self._index = CatalogIndex(emulator.catalog)
        self._metadata = emulator.shared.metadata
        self._metrics = metrics_registry(emulator)
        self._market_data = MarketDataApi(emulator, self._index)
        self._quota = RestQuota(emulator.settings.rest_rate_limit, epoch_ns=time.time_ns)

    def _guarded(self, handler: Handler, *, needs_key: bool = True) -> Handler:
        async def endpoint(request: Request) -> Response:
            if not needs_key:
                return await self._answer(handler, request)
            key = key_from_request(Headers(scope=request.scope), request.scope["query_string"], request.url.path)
            if not key or not self._emulator.key_policy.accepts(key):
                return error_response(401, "Invalid API key")
            quota = self._quota.charge(key, request_cost(request.query_params.get("limit")))
            response: Response
            if quota.exceeded:
                response = error_response(429, "Too many requests: the daily request limit is reached")
            else:
                response = await self._answer(handler, request)
            response.headers.update(quota.headers())
            return response

        return endpoint

    @staticmethod
    async def _answer(handler: Handler, request: Request) -> Response:
        output_format = request.query_params.get("output_format", "json")
        if output_format != "json":
            return error_response(400, f"output_format '{output_format}' is not supported by the emulator (json only)")
        try:
            return await handler(request)
        except RestError as error:
            return error_response(error.status_code, error.message)
        except (QueryError, RetentionWindowError) as error:
            return error_response(400, str(error))

    def routes(self) -> list[BaseRoute]:
        """All REST routes."""
        guarded = self._guarded
        return [
            Route("/", guarded(self.info, needs_key=False)),
            Route("/health", guarded(self.health, needs_key=False)),
            Route("/ready", guarded(self.ready, needs_key=False)),
            # Read-only and key-free like /health, so a Prometheus scrape job needs no secret.
            Route("/metrics", guarded(self.metrics, needs_key=False)),
            Route("/v1/exchanges", guarded(self.exchanges)),
            Route("/v1/exchanges/{exchange_id}", guarded(self.exchange)),
            Route("/v1/assets", guarded(self.assets)),
            Route("/v1/assets/{asset_id}", guarded(self.asset)),
            Route("/v1/symbols", guarded(self.symbols)),
            Route("/v1/symbols/{exchange_id}", guarded(self.exchange_symbols)),
            # PROTOCOL.md §7 (UNVERIFIED path): the documented active list is /v1/symbols/{exchange_id}.
            Route("/v1/symbols/{exchange_id}/active", guarded(self.exchange_symbols)),
            Route("/v1/ohlcv/periods", guarded(self.periods)),
            *self.market_routes(guarded),
        ]

    def market_routes(self, guard: Callable[[Handler], Handler]) -> list[BaseRoute]:
        """The routes that read the running market (exchange rates, quotes, books, trades, OHLCV), each wrapped by
        ``guard``. A gateway, whose market runs in its simulators, answers them from there (``Upstream.rest``)."""
        paths: list[tuple[str, Handler]] = [
            ("/v1/exchangerate/{asset_id_base}", self.rates),
            ("/v1/exchangerate/{asset_id_base}/{asset_id_quote}", self.rate),
            *self._market_data.endpoints(),
        ]
        forwarded = self._emulator.shared.upstream is not None
        return [Route(path, guard(self._forwarded if forwarded else handler)) for path, handler in paths]

    async def _forwarded(self, request: Request) -> Response:
        upstream = self._emulator.shared.upstream
        assert upstream is not None
        query = request.scope["query_string"].decode("latin-1")
        try:
            status, body = await upstream.rest(request.scope["path"], query, request.path_params.get("symbol_id"))
        except TimeoutError as error:
            return error_response(503, f"the market's simulators did not answer: {error}")
        return Response(body, status_code=status, media_type="application/json")

    # -- service --------------------------------------------------------------------------------------------

    async def info(self, request: Request) -> Response:
        """What this server is and where to connect."""
        host = request.headers.get("host", "127.0.0.1")
        tls = request.url.scheme == "https"
        return JsonResponse(
            {
                "name": "coinapi-emulator",
                "version": package_version(),
                "implementation": implementations(),
                "websocket": f"{'wss' if tls else 'ws'}://{host}/v1/",
                "rest": f"{'https' if tls else 'http'}://{host}/v1/",
                "exchanges": len(self._catalog.exchanges),
                "assets": len(self._catalog.assets),
                "symbols": len(self._catalog.symbols),
                "market_time": format_time(self._emulator.shared.now_ns),
            }
        )

    async def health(self, request: Request) -> Response:
        """Alive."""
        return JsonResponse({"status": "ok"})

    async def ready(self, request: Request) -> Response:
        """Ready when the market is running; 503 while starting, and for good once the market failed."""
        if self._emulator.failed:
            return JsonResponse({"status": "failed"}, status_code=503)
        if self._emulator.draining:
            return JsonResponse({"status": "draining"}, status_code=503)
        upstream = self._emulator.shared.upstream
        if upstream is not None and not upstream.healthy:
            return JsonResponse({"status": "no market data from the bus"}, status_code=503)
        if self._emulator.running:
            return JsonResponse({"status": "ready", "market_time": format_time(self._emulator.shared.now_ns)})
        return JsonResponse({"status": "starting"}, status_code=503)

    async def metrics(self, request: Request) -> Response:
        """Prometheus text exposition (``server/http/metrics.py``)."""
        return Response(generate_latest(self._metrics), media_type=CONTENT_TYPE_LATEST)

    # -- metadata -------------------------------------------------------------------------------------------

    async def exchanges(self, request: Request) -> Response:
        """GET /v1/exchanges[?filter_exchange_id=A;B]"""
        wanted = set(self._filter(request, "filter_exchange_id"))
        exchanges = (e for e in self._catalog.exchanges if not wanted or e.exchange_id in wanted)
        return JsonResponse([self._metadata.exchange(exchange) for exchange in exchanges])

    async def exchange(self, request: Request) -> Response:
        """GET /v1/exchanges/{exchange_id}: a one-element array, as the real service answers."""
        exchange_id = request.path_params["exchange_id"]
        exchange = self._catalog.exchange(exchange_id)
        if exchange is None:
            raise RestError(NO_DATA, f"Unknown exchange_id '{exchange_id}'")
        return JsonResponse([self._metadata.exchange(exchange)])

    async def assets(self, request: Request) -> Response:
        """GET /v1/assets[?filter_asset_id=BTC;ETH]"""
        wanted = set(self._filter(request, "filter_asset_id"))
        assets = (a for a in self._catalog.assets if not wanted or a.asset_id in wanted)
        return JsonResponse([self._metadata.asset(asset) for asset in assets])

    async def asset(self, request: Request) -> Response:
        """GET /v1/assets/{asset_id}"""
        asset_id = request.path_params["asset_id"]
        asset = self._catalog.asset(asset_id)
        if asset is None:
            raise RestError(NO_DATA, f"Unknown asset_id '{asset_id}'")
        return JsonResponse([self._metadata.asset(asset)])

    async def symbols(self, request: Request) -> Response:
        """GET /v1/symbols with filter_symbol_id (prefixes), filter_exchange_id, filter_asset_id."""
        return self._symbol_list(request, None, self._filter(request, "filter_exchange_id"))

    async def exchange_symbols(self, request: Request) -> Response:
        """GET /v1/symbols/{exchange_id}[/active]: the exchange's active symbols."""
        exchange_id = request.path_params["exchange_id"]
        if self._catalog.exchange(exchange_id) is None:
            raise RestError(NO_DATA, f"Unknown exchange_id '{exchange_id}'")
        return self._symbol_list(request, self._metadata.symbols_of_exchange(exchange_id), [])

    def _symbol_list(self, request: Request, within: Iterable[Symbol] | None, exchange_ids: list[str]) -> Response:
        selected = select_symbols(
            self._index,
            within=within,
            prefixes=self._filter(request, "filter_symbol_id"),
            exchange_ids=exchange_ids,
            asset_ids=self._filter(request, "filter_asset_id"),
        )
        return JsonResponse([self._metadata.symbol(symbol) for symbol in selected])

    def _filter(self, request: Request, name: str) -> list[str]:
        """The entries of one list parameter; 400 past ``--max-filter-values`` entries."""
        entries = split_list(request.query_params.get(name))
        limit = self._emulator.settings.max_filter_values
        if len(entries) > limit:
            raise RestError(400, f"{name} has {len(entries)} entries, at most {limit} (--max-filter-values)")
        return entries

    async def periods(self, request: Request) -> Response:
        """GET /v1/ohlcv/periods"""
        return JsonResponse([dataclasses.asdict(period) for period in OHLCV_PERIODS])

    # -- exchange rates -------------------------------------------------------------------------------------

    def _rate_usd(self, asset_id: str, time_ns: int | None) -> float:
        if self._catalog.asset(asset_id) is None:
            raise RestError(NO_DATA, f"Unknown asset_id '{asset_id}'")
        if time_ns is None:
            return self._emulator.shared.market.rate_usd(asset_id)
        return self._market_data.rate_usd_at(asset_id, time_ns)

    def _time(self, request: Request) -> tuple[int | None, str]:
        """``time=`` (None: now) and the time the answer carries."""
        text = request.query_params.get("time")
        time_ns = None if not text else parse_time("time", text)
        return time_ns, format_time(self._emulator.shared.market.now_ns if time_ns is None else time_ns)

    async def rate(self, request: Request) -> Response:
        """GET /v1/exchangerate/{base}/{quote}[?time=...]"""
        time_ns, time = self._time(request)
        base, quote = request.path_params["asset_id_base"], request.path_params["asset_id_quote"]
        rate = self._rate_usd(base, time_ns) / self._rate_usd(quote, time_ns)
        return JsonResponse(
            {
                "time": time,
                "asset_id_base": base,
                "asset_id_quote": quote,
                "rate": orjson.Fragment(format_significant(rate).encode()),
            }
        )

    async def rates(self, request: Request) -> Response:
        """GET /v1/exchangerate/{base}[?filter_asset_id=..&invert=true&time=...]"""
        time_ns, now = self._time(request)
        base = request.path_params["asset_id_base"]
        base_usd = self._rate_usd(base, time_ns)
        invert = request.query_params.get("invert", "false").lower()
        if invert not in ("true", "false"):
            raise RestError(400, f"invert must be true or false, got '{invert}'")
        wanted = set(self._filter(request, "filter_asset_id"))
        rates: list[JsonObject] = []
        for asset in self._catalog.assets:
            if asset.asset_id == base or (wanted and asset.asset_id not in wanted):
                continue
            rate = base_usd / self._rate_usd(asset.asset_id, time_ns)
            rate = 1 / rate if invert == "true" else rate
            rates.append(
                {
                    "time": now,
                    "asset_id_quote": asset.asset_id,
                    "rate": orjson.Fragment(format_significant(rate).encode()),
                }
            )
        return JsonResponse({"asset_id_base": base, "rates": rates})


def rest_routes(emulator: Emulator) -> list[BaseRoute]:
    """The REST routes of one emulator."""
    return RestApi(emulator).routes()
