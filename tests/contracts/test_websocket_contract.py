"""Every message type a real server sends, against ``docs/asyncapi.yaml``.

One connection subscribes to every data type of one symbol and to two exchange rates while the paused market steps;
once the steps stop it idles into a heartbeat, then a ``reconnect`` fault reaches it. Another sends a frame that is
not JSON and gets its ``error``. Each message is validated against the schema that the document's message of its
type names, the frames the client sent against the messages the server receives, and every type the document says
the server sends must have come.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from coinapi_emulator.server.testing.admin_client import AdminClient
from tests.e2e.processes import START_TIME, RunningServer, run_server
from tests.e2e.support import Frame, client_message, collect_until, expect_error_and_close, hello, send, ws_connect

pytestmark = pytest.mark.e2e

DOCS_YAML: Final = Path(__file__).resolve().parents[2] / "docs" / "asyncapi.yaml"
#: where the document sits in the validators' registry
DOCUMENT_URI: Final = "urn:coinapi-emulator:asyncapi"
BTC: Final = "BINANCE_SPOT_BTC_USDT"
#: the data types one symbol filter serves (exchange rates take an asset filter: a subscribe of their own)
SYMBOL_TYPES: Final = [
    "trade", "quote", "book", "book5", "book20", "book50", "book_l3", "ohlcv", "asset", "exchange", "symbol"
]  # fmt: skip
#: the messages the client sends: every verb
SENT: Final = [
    hello(SYMBOL_TYPES, symbols=[BTC + "$"], heartbeat=True),
    client_message("subscribe", ["exrate"], assets=["BTC", "BTC/EUR"]),
    client_message("unsubscribe", ["symbol"], symbols=[BTC + "$"]),  # after the symbol's snapshot went out
]
#: the market's types, which a step brings (metadata came at the hello)
MARKET_TYPES: Final = {"trade", "quote", "book", "book5", "book20", "book50", "book_l3", "ohlcv", "exrate"}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(DOCS_YAML.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    args = ["--start-time", START_TIME, "--exchanges", "5", "--admin", "--paused", "--shutdown-grace", "0"]
    with run_server(args, tmp_path_factory.mktemp("websocket-contract")) as running:
        yield running


@pytest.fixture(scope="module")
def received(server: RunningServer) -> list[Frame]:
    """Every frame of the conversation the module docstring tells, and the bad client's error."""
    return asyncio.run(_conversation(server, AdminClient(server.http_url)))


async def _conversation(server: RunningServer, admin: AdminClient) -> list[Frame]:
    async with ws_connect(server.ws_url()) as ws:
        for message in SENT:
            await send(ws, message)
        await asyncio.to_thread(admin.wait_for_subscribers, 1)
        frames: list[Frame] = []
        # a step at a time, so that a step taken before the subscribe took effect costs only another one
        for _ in range(10):
            if _has(MARKET_TYPES)(frames):
                break
            await asyncio.to_thread(admin.step, 2)
            frames += await collect_until(ws, _has({"ohlcv"}), timeout=10, what="a step's candles")
        frames += await collect_until(ws, _has({"hearbeat"}), timeout=10, what="a heartbeat once idle")
        await asyncio.to_thread(admin.inject_fault, "reconnect", within_seconds=1)
        frames += await collect_until(ws, _has({"reconnect"}), timeout=10, what="the reconnect notice")
    async with ws_connect(server.ws_url()) as bad:
        await bad.send("not json")
        error, _, _ = await expect_error_and_close(bad)
    return [*frames, error]


def _has(types: set[str]) -> Any:
    return lambda frames: types <= {frame["type"] for frame in frames}


def validator(document: dict[str, Any], message: str) -> Draft202012Validator:
    """A validator for the payload of the document's message ``message``, resolving its ``$ref`` s in the document."""
    resource = Resource.from_contents(document, default_specification=DRAFT202012)
    payload = document["components"]["messages"][message]["payload"]["$ref"]
    return Draft202012Validator(
        {"$ref": DOCUMENT_URI + payload}, registry=Registry().with_resource(DOCUMENT_URI, resource)
    )


def sent_by_the_server(document: dict[str, Any]) -> set[str]:
    """The messages of the document's ``send`` operations."""
    return {
        ref["$ref"].rsplit("/", 1)[-1]
        for operation in document["operations"].values()
        if operation["action"] == "send"
        for ref in operation["messages"]
    }


def test_every_message_the_server_sent_matches_its_type_in_the_document(
    document: dict[str, Any], received: list[Frame]
) -> None:
    validators = {name: validator(document, name) for name in sent_by_the_server(document)}
    for frame in received:
        assert frame["type"] in validators, f"a type the document does not list: {frame}"
        error = best_match(validators[frame["type"]].iter_errors(frame))
        assert error is None, f"{frame['type']}: {error.message} at /{'/'.join(map(str, error.absolute_path))}"


def test_every_type_the_document_lists_was_sent(document: dict[str, Any], received: list[Frame]) -> None:
    assert {frame["type"] for frame in received} == sent_by_the_server(document)
    for book_type in ("book", "book_l3"):
        snapshots = {frame["is_snapshot"] for frame in received if frame["type"] == book_type}
        assert snapshots == {True, False}, f"a {book_type} snapshot and a {book_type} change"


def test_what_the_client_sent_matches_what_the_document_says_the_server_receives(document: dict[str, Any]) -> None:
    receive = {
        ref["$ref"].rsplit("/", 1)[-1]
        for operation in document["operations"].values()
        if operation["action"] == "receive"
        for ref in operation["messages"]
    }
    assert {message["type"] for message in SENT} == receive
    for message in SENT:
        validator(document, message["type"]).validate(message)


def test_the_server_serves_the_same_document(server: RunningServer, document: dict[str, Any]) -> None:
    assert server.rest("/asyncapi.json") == document
