"""The live dashboard (``--dashboard``, on by default): a page that shows what a running emulator is doing.

``GET /dashboard`` is a static page (``static/``) that polls ``GET /dashboard/state`` once a second for the
connections with their scopes, the messages routed by data type and the virtual clock, and opens a CoinAPI
WebSocket connection of its own for the chosen symbol's trades, quotes and book: it is a client like any other,
so what it draws is what clients get. Its clock buttons call the admin API, with that API's own access rules.

The state answers without an API key, like ``/metrics``: it shows connection addresses and scopes to anyone who
reaches the port, so ``--no-dashboard`` turns it off where that matters. The charting library
(TradingView Lightweight Charts, Apache-2.0) is served from the package: the page needs no network.
"""

from __future__ import annotations

from itertools import islice
from pathlib import Path
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.http.responses import JsonResponse
from coinapi_emulator.server.plane.implementation import package_version

STATIC: Final = Path(__file__).parent / "static"
#: symbols offered in the page's chooser: the first of the catalogue (its biggest exchanges come first)
CHOOSER_SYMBOLS: Final = 500
#: connections listed in the state: a fleet of 10,000 bots would make every poll a 2 MB answer and a page that
#: redraws 10,000 rows a second
LISTED_CONNECTIONS: Final = 100
DEFAULT_SYMBOL: Final = "BINANCE_SPOT_BTC_USDT"


def dashboard_state(emulator: Emulator) -> dict[str, Any]:
    """What the page shows: the shared market's clock, the connections with their scopes (the first
    ``LISTED_CONNECTIONS``), messages by type."""
    clients = emulator.clients()
    connections = []
    for client in clients[:LISTED_CONNECTIONS]:
        journal = emulator.journal.get(client["id"])
        connections.append({**client, "scope": {} if journal is None else journal.scope})
    routed = emulator.private.stats()  # a fresh sum: the shared market's counts go on top
    routed.add(emulator.shared.hub.stats)
    symbol_ids = [symbol.symbol_id for symbol in islice(emulator.catalog.symbols, CHOOSER_SYMBOLS)]
    settings, clock = emulator.settings, emulator.shared.status()
    return {
        "version": package_version(),
        "time": clock["time"],
        "speed": clock["speed"],
        "paused": clock["paused"],
        "admin": settings.admin,
        "admin_token": settings.admin_token is not None or settings.admin_token_file is not None,
        "connections": connections,
        "connections_total": len(clients),
        "routed": {data_type.value: count for data_type, count in routed.routed.items() if count},
        "symbols": symbol_ids,
        "default_symbol": DEFAULT_SYMBOL if DEFAULT_SYMBOL in symbol_ids else symbol_ids[0],
    }


def dashboard_routes(emulator: Emulator) -> list[BaseRoute]:
    """``/dashboard``, its state and its static files."""

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "dashboard.html")

    async def state(request: Request) -> Response:
        return JsonResponse(dashboard_state(emulator), headers={"Cache-Control": "no-store"})

    return [
        Route("/dashboard", page),
        Route("/dashboard/state", state),
        Mount("/dashboard/static", StaticFiles(directory=STATIC), name="dashboard-static"),
    ]
