"""The WebSocket endpoint: the only I/O around the sans-I/O session.

Accept, then loop: receive a client frame, feed it to the ``Session``, apply a changed scope to the hub (with
snapshots for new book and metadata routes), forward error frames, close when the session says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from simulator.catalog import Catalog
from simulator.ohlcv import LIVE_PERIODS

from .auth import key_from_request
from .config import Settings
from .feed import Feed
from .frames import text_frame
from .hub import Hub, Sink, Subscriber
from .private import PrivateMarket, PrivateMarkets
from .protocol.datatypes import DataType
from .protocol.errors import ProtocolError
from .protocol.routes import CatalogIndex, RouteKey, resolve_routes
from .protocol.scope import Scope
from .protocol.session import KeyPolicy, Session
from .sinks import sink_for
from .uvicorn_protocol import RawSink

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Connection:
    """One client: its protocol session, its delivery state, and the market it listens to."""

    session: Session
    subscriber: Subscriber
    hub: Hub
    feed: Feed
    private: PrivateMarket | None = None


class Gateway:
    """Serves CoinAPI WebSocket connections from one hub and feed."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalog: Catalog,
        hub: Hub,
        feed: Feed,
        key_policy: KeyPolicy,
        refusing_connections: Callable[[], bool] = lambda: False,
        private_markets: PrivateMarkets | None = None,
    ) -> None:
        self._private_markets = private_markets
        self._refusing_connections = refusing_connections
        self._settings = settings
        self._catalog_index = CatalogIndex(catalog)
        # Bots of one fleet send the same hello: resolving a scope over every symbol costs ~7 ms, and the
        # subscribers of one scope then share one frozenset of routes as well.
        self._routes_of = lru_cache(maxsize=256)(self._resolve)
        self._hub = hub
        self._feed = feed
        self._key_policy = key_policy

    async def serve(self, websocket: WebSocket) -> None:
        """Serve one connection until it closes."""
        if self._refusing_connections():
            # PROTOCOL.md §6 (UNVERIFIED form): connection limits answer the upgrade with HTTP 429.
            await websocket.send_denial_response(
                JSONResponse({"error": "Too many connections, try again later"}, status_code=429)
            )
            return
        seed = websocket.query_params.get("seed")
        if seed is not None and not _is_int(seed):
            await websocket.send_denial_response(
                JSONResponse({"error": f"seed must be an integer, got {seed[:32]!r}"}, status_code=400)
            )
            return
        # PROTOCOL.md §1.4: the upgrade always succeeds; a bad key is answered after the first hello.
        await websocket.accept()
        sink = sink_for(websocket)
        upgrade_key = key_from_request(
            Headers(scope=websocket.scope), websocket.scope["query_string"], websocket.scope["path"]
        )
        connection = self.connect(sink, _peer(websocket), upgrade_key, seed=None if seed is None else int(seed))
        sink.set_on_resume(lambda: connection.hub.resume(connection.subscriber))
        logger.info("%s connected%s", connection.subscriber.peer, "" if seed is None else f" (private seed {seed})")
        if isinstance(sink, RawSink):
            # The connection lives on in the protocol's callbacks; this coroutine (and its stack) can end.
            sink.hand_over(partial(self.handle_message, connection), partial(self._closed, connection))
            return
        try:
            await self._receive_loop(websocket, connection)
        finally:
            closed_by_server = connection.subscriber.closed
            self._closed(connection)
            if not closed_by_server:
                await sink.stop()

    def connect(self, sink: Sink, peer: str, upgrade_key: str | None, *, seed: int | None = None) -> Connection:
        """Register a connection with the shared market, or with a private one for ``seed``."""
        private = None if seed is None else self._new_private_market(seed)
        hub, feed = (self._hub, self._feed) if private is None else (private.hub, private.feed)
        session = Session(
            key_policy=self._key_policy,
            upgrade_key=upgrade_key,
            allow_unfiltered_books=self._settings.allow_unfiltered_books,
        )
        return Connection(session=session, subscriber=hub.attach(sink, peer), hub=hub, feed=feed, private=private)

    def _new_private_market(self, seed: int) -> PrivateMarket:
        if self._private_markets is None:
            raise RuntimeError("this gateway serves no private markets")
        return self._private_markets.start(seed)

    def disconnect(self, connection: Connection) -> None:
        """Forget a connection (and stop its private market)."""
        connection.hub.detach(connection.subscriber)
        if connection.private is not None and self._private_markets is not None:
            self._private_markets.end(connection.private)

    def _closed(self, connection: Connection) -> None:
        self.disconnect(connection)
        logger.info("%s disconnected", connection.subscriber.peer)

    async def _receive_loop(self, websocket: WebSocket, connection: Connection) -> None:
        while not connection.subscriber.closed:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            self.handle_message(connection, text if text is not None else message.get("bytes") or b"")

    def handle_message(self, connection: Connection, raw: str | bytes) -> None:
        """Apply one client frame: update routes (with snapshots), forward errors, close if the session says so."""
        session, subscriber, hub = connection.session, connection.subscriber, connection.hub
        session.receive_text(raw)
        if session.scope_changed():
            try:
                self._update_routes(connection)
            except ProtocolError as error:
                hub.fail(subscriber, error)
                return
            if connection.private is not None:
                connection.private.start()
        for payload in session.data_to_send():
            hub.send(subscriber, text_frame(payload))
        if session.close is not None:
            code, reason = session.close
            hub.close(subscriber, code, reason)
        else:
            hub.flush()

    def _update_routes(self, connection: Connection) -> None:
        session, subscriber = connection.session, connection.subscriber
        routes = self._routes_of(session.scope)
        limits = session.limits
        throttles_ms = {
            DataType.QUOTE: limits.quote_ms,
            DataType.BOOK5: limits.book_snapshot_ms,
            DataType.BOOK20: limits.book_snapshot_ms,
            DataType.BOOK50: limits.book_snapshot_ms,
            DataType.EXRATE: limits.exrate_ms,
        }
        connection.hub.set_routes(
            subscriber,
            routes,
            throttles_ms=throttles_ms,
            heartbeat=session.heartbeat,
            initial_frames=connection.feed.initial_frames(routes - subscriber.routes),
        )

    def _resolve(self, scope: Scope) -> frozenset[RouteKey]:
        return resolve_routes(
            scope,
            self._catalog_index,
            combine=self._settings.filter_combine,
            live_periods=LIVE_PERIODS,
            strict=self._settings.strict_filters,
        )


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _peer(websocket: WebSocket) -> str:
    client = websocket.client
    return f"{client.host}:{client.port}" if client else "unknown"
