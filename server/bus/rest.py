"""REST reads of the running market across the bus: a gateway forwards them to the simulator shard that has the
data, which answers from its own retention exactly as its own port would.

The gateway keeps what is its own: the API key, the daily quota and the output format (``RestApi``'s guard runs
before ``RestForwarder.answer``, and turns a shard that does not answer into a 503). Where a read goes: a
symbol's routes to the shard that simulates its exchange, exchange rates to shard 0 (which publishes them), and
the routes over every symbol to every shard, whose answers are merged as one simulator would have answered: in
catalogue order (``current``), or newest first and cut to ``limit`` (``latest``). The forwarded request carries
no key: whoever can publish on the bus is trusted as a gateway is.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Message, Scope

from coinapi_emulator.server.bus.shards import ShardMap
from coinapi_emulator.server.bus.wire import encode_rest_reply
from coinapi_emulator.server.protocol.rest_query import parse_limit
from coinapi_emulator.server.protocol.routes import CatalogIndex

#: how long a shard may take to answer a REST read
REST_TIMEOUT_S = 10.0
#: the routes over every symbol whose answers are in catalogue order, and those newest first
_CURRENT = frozenset({"/v1/quotes/current", "/v1/orderbooks/current", "/v1/orderbooks3/current"})
_LATEST = frozenset({"/v1/quotes/latest", "/v1/trades/latest"})

#: (shard, path, query) -> (status, body): the gateway's request to one shard over the bus (``BusLink._ask_shard``)
AskShard = Callable[[int, str, str], Awaitable[tuple[int, bytes]]]


class RestForwarder:
    """The gateway's answer to a REST read of the running market: from the shard or shards that hold it."""

    def __init__(self, ask: AskShard, shards: ShardMap, index: CatalogIndex) -> None:
        self._ask = ask
        self._shards = shards
        self._index = index

    async def answer(self, path: str, query: str, symbol_id: str | None) -> tuple[int, bytes]:
        """(status, JSON body) of ``GET path?query`` (already past the key and quota checks) as the simulators
        answer it; ``TimeoutError`` when a shard does not."""
        targets = self._targets(path, symbol_id)
        answers = await asyncio.gather(*(self._ask(shard, path, query) for shard in targets))
        failed = next(((status, body) for status, body in answers if status != 200), None)
        if failed is not None or len(answers) == 1:
            return failed or answers[0]
        merged = self._merge(path, [_json_keeping_numbers(body) for _, body in answers], query)
        return 200, orjson.dumps(merged)

    def _targets(self, path: str, symbol_id: str | None) -> Sequence[int]:
        if symbol_id is not None:
            return (self._shards.shard_of_symbol(symbol_id),)
        if path in _CURRENT or path in _LATEST:
            return range(self._shards.shards)
        return (0,)  # exchange rates

    def _merge(self, path: str, parts: list[list[dict[str, Any]]], query: str) -> list[dict[str, Any]]:
        position = self._index.position
        merged = [item for part in parts for item in part]
        merged.sort(key=lambda item: position.get(item["symbol_id"], 0))
        if path in _CURRENT:
            return merged
        # one simulator sorts its symbols' newest records by time, newest first, ties in catalogue order
        merged.sort(key=lambda item: item["time_exchange"], reverse=True)
        limit = parse_qs(query).get("limit")
        return merged[: parse_limit(limit[-1] if limit else None)]


def _json_keeping_numbers(body: bytes) -> Any:
    """A shard's JSON with every number kept as the text it sent (``orjson.Fragment``): a merged answer has the
    same bytes as one simulator's (``1e-08`` stays ``1e-08``, ``42000.10`` keeps its zero)."""
    return json.loads(body, parse_float=orjson.Fragment, parse_int=orjson.Fragment)


class RestResponder:
    """A simulator shard's side: runs a forwarded read through ``app`` (its market routes, unguarded) in-process."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def answer(self, path: str, query: str) -> list[bytes]:
        """The reply to ``GET path?query``, as its NATS messages (``wire.encode_rest_reply``)."""
        return encode_rest_reply(*await call_asgi(self._app, path, query))


async def call_asgi(app: ASGIApp, path: str, query: str) -> tuple[int, bytes]:
    """(status, body) of ``GET path?query`` on ``app``, called in-process without a socket."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query.encode("latin-1"),
        "headers": [],
        "server": None,
        "client": None,
    }
    status, body = 500, bytearray()
    requests = iter([{"type": "http.request", "body": b"", "more_body": False}])
    answered = asyncio.Event()

    async def receive() -> Message:
        # the request, then, as a server does, nothing until the client leaves: here, once the answer is complete
        # (a streamed answer listens for that disconnect while it sends)
        request = next(requests, None)
        if request is not None:
            return request
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if not message.get("more_body", False):
                answered.set()

    await app(scope, receive, send)
    return status, bytes(body)
