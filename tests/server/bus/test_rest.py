"""REST reads forwarded over the bus, without NATS: which shard a read goes to, how the answers of several shards
merge into what one simulator would have said, and a simulator answering a read in-process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, Router

from coinapi_emulator.server.bus.rest import RestForwarder, RestResponder, call_asgi
from coinapi_emulator.server.bus.shards import ShardMap
from coinapi_emulator.server.bus.wire import decode_rest_part
from coinapi_emulator.server.protocol.routes import CatalogIndex
from coinapi_emulator.simulator.catalog import CatalogConfig, build_catalog

CATALOG = build_catalog(CatalogConfig(exchanges=4, max_symbols_per_exchange=3), seed=0)
SHARDS = ShardMap(CATALOG, 2)
INDEX = CatalogIndex(CATALOG)
#: a symbol of each shard, in catalogue order
FIRST = next(s.symbol_id for s in CATALOG.symbols if SHARDS.shard_of_symbol(s.symbol_id) == 0)
SECOND = next(s.symbol_id for s in CATALOG.symbols if SHARDS.shard_of_symbol(s.symbol_id) == 1)


class Shards:
    """Fake shards: each answers every read with what ``answers`` holds for it, and records what it was asked."""

    def __init__(self, answers: dict[int, tuple[int, bytes]]) -> None:
        self.answers = answers
        self.asked: list[tuple[int, str, str]] = []

    async def __call__(self, shard: int, path: str, query: str) -> tuple[int, bytes]:
        self.asked.append((shard, path, query))
        return self.answers[shard]


def forward(shards: Shards, path: str, query: str = "", symbol_id: str | None = None) -> tuple[int, bytes]:
    return asyncio.run(RestForwarder(shards, SHARDS, INDEX).answer(path, query, symbol_id))


def test_a_symbols_read_goes_to_its_shard_and_comes_back_as_it_was() -> None:
    shards = Shards({0: (200, b'{"a":1.50}'), 1: (550, b'{"error":"x"}')})
    assert forward(shards, f"/v1/trades/{FIRST}/latest", "limit=2", FIRST) == (200, b'{"a":1.50}')
    assert forward(shards, f"/v1/trades/{SECOND}/latest", "", SECOND) == (550, b'{"error":"x"}')
    # an unknown symbol goes to shard 0, which answers that it is unknown
    assert forward(shards, "/v1/trades/NOWHERE/latest", "", "NOWHERE") == (200, b'{"a":1.50}')
    assert forward(shards, "/v1/exchangerate/BTC/USD", "time=2024-01-01") == (200, b'{"a":1.50}')
    assert [shard for shard, _, _ in shards.asked] == [0, 1, 0, 0]
    assert shards.asked[0] == (0, f"/v1/trades/{FIRST}/latest", "limit=2")


def test_current_reads_merge_in_catalogue_order_keeping_every_number_as_sent() -> None:
    shards = Shards(
        {
            0: (200, b'[{"symbol_id":"%s","bid_price":0.10}]' % FIRST.encode()),
            1: (200, b'[{"symbol_id":"%s","bid_price":1e-08}]' % SECOND.encode()),
        }
    )
    status, body = forward(shards, "/v1/quotes/current")
    first, second = sorted((FIRST, SECOND), key=INDEX.position.__getitem__)
    numbers = {FIRST: b"0.10", SECOND: b"1e-08"}
    assert status == 200
    assert body == b'[{"symbol_id":"%s","bid_price":%s},{"symbol_id":"%s","bid_price":%s}]' % (
        first.encode(),
        numbers[first],
        second.encode(),
        numbers[second],
    )
    assert sorted(shard for shard, _, _ in shards.asked) == [0, 1]


def test_latest_reads_merge_newest_first_ties_in_catalogue_order_cut_to_the_limit() -> None:
    def trade(symbol_id: str, second: int) -> dict[str, str]:
        return {"symbol_id": symbol_id, "time_exchange": f"2024-01-01T00:00:{second:02d}.0000000Z"}

    zero = [trade(FIRST, 9), trade(FIRST, 5), trade(FIRST, 1)]
    one = [trade(SECOND, 7), trade(SECOND, 5)]
    shards = Shards({0: (200, orjson.dumps(zero)), 1: (200, orjson.dumps(one))})
    ties = sorted((FIRST, SECOND), key=INDEX.position.__getitem__)
    expected = [trade(FIRST, 9), trade(SECOND, 7), trade(ties[0], 5), trade(ties[1], 5)]
    assert orjson.loads(forward(shards, "/v1/trades/latest", "limit=4")[1]) == expected
    assert len(orjson.loads(forward(shards, "/v1/trades/latest")[1])) == 5  # the default limit is above 5


def test_a_failing_shard_answers_for_a_merged_read() -> None:
    shards = Shards({0: (200, b"[]"), 1: (400, b'{"error":"bad limit"}')})
    assert forward(shards, "/v1/quotes/latest", "limit=x") == (400, b'{"error":"bad limit"}')


def test_a_simulator_answers_a_forwarded_read_in_process() -> None:
    async def echo(request: Request) -> JSONResponse:
        return JSONResponse({"path": request.url.path, "limit": request.query_params.get("limit")}, status_code=203)

    app = Router([Route("/v1/things/{name}", echo)])
    [reply] = asyncio.run(RestResponder(app).answer("/v1/things/x", "limit=3"))
    assert decode_rest_part(reply) == (203, True, b'{"path":"/v1/things/x","limit":"3"}')
    missing = asyncio.run(call_asgi(Router([Route("/", lambda r: PlainTextResponse("ok"))]), "/nope", ""))
    assert missing == (404, b"Not Found")


def test_a_streamed_answer_is_read_to_its_end() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for part in (b"[1", b",2", b"]"):
            yield part
            await asyncio.sleep(0)

    app = Router([Route("/", lambda r: StreamingResponse(chunks(), media_type="application/json"))])
    # a receive that answered at once forever made the streamed answer spin without end (the suite's timeout ends it)
    assert asyncio.run(call_asgi(app, "/", "")) == (200, b"[1,2]")
