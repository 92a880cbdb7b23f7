"""The WebSocket endpoint: the only I/O around the sans-I/O session.

Accept, then loop: receive a client frame, feed it to the ``Session``, apply a changed scope to the hub (with
snapshots for new book and metadata routes), forward error frames, close when the session says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from simulator.catalog import Catalog
from simulator.ohlcv import LIVE_PERIODS

from .auth import key_from_request
from .config import Settings
from .feed import Feed
from .frames import text_frame
from .hub import Hub, Subscriber
from .protocol.datatypes import DataType
from .protocol.errors import ProtocolError
from .protocol.routes import CatalogIndex, resolve_routes
from .protocol.session import KeyPolicy, Session
from .sinks import AsgiSink, sink_for

logger = logging.getLogger(__name__)


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
    ) -> None:
        self._refusing_connections = refusing_connections
        self._settings = settings
        self._catalog_index = CatalogIndex(catalog)
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
        # PROTOCOL.md §1.4: the upgrade always succeeds; a bad key is answered after the first hello.
        await websocket.accept()
        peer = _peer(websocket)
        session = Session(
            key_policy=self._key_policy,
            upgrade_key=key_from_request(
                Headers(scope=websocket.scope), websocket.scope["query_string"], websocket.scope["path"]
            ),
            allow_unfiltered_books=self._settings.allow_unfiltered_books,
        )
        sink = sink_for(websocket)
        subscriber = self._hub.attach(sink, peer)
        sink.set_on_resume(lambda: self._hub.resume(subscriber))
        logger.info("%s connected", peer)
        try:
            await self._receive_loop(websocket, session, subscriber)
        finally:
            self._hub.detach(subscriber)
            if isinstance(sink, AsgiSink) and not subscriber.closed:
                await sink.stop()
            logger.info("%s disconnected", peer)

    async def _receive_loop(self, websocket: WebSocket, session: Session, subscriber: Subscriber) -> None:
        while not subscriber.closed:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            self.handle_message(session, subscriber, text if text is not None else message.get("bytes") or b"")

    def handle_message(self, session: Session, subscriber: Subscriber, raw: str | bytes) -> None:
        """Apply one client frame: update routes (with snapshots), forward errors, close if the session says so."""
        session.receive_text(raw)
        if session.scope_changed():
            try:
                self._update_routes(session, subscriber)
            except ProtocolError as error:
                self._hub.fail(subscriber, error)
                return
        for payload in session.data_to_send():
            self._hub.send(subscriber, text_frame(payload))
        if session.close is not None:
            code, reason = session.close
            self._hub.close(subscriber, code, reason)
        else:
            self._hub.flush()

    def _update_routes(self, session: Session, subscriber: Subscriber) -> None:
        routes = resolve_routes(
            session.scope,
            self._catalog_index,
            combine=self._settings.filter_combine,
            live_periods=LIVE_PERIODS,
            strict=self._settings.strict_filters,
        )
        limits = session.limits
        throttles_ms = {
            DataType.QUOTE: limits.quote_ms,
            DataType.BOOK5: limits.book_snapshot_ms,
            DataType.BOOK20: limits.book_snapshot_ms,
            DataType.BOOK50: limits.book_snapshot_ms,
            DataType.EXRATE: limits.exrate_ms,
        }
        self._hub.set_routes(
            subscriber,
            routes,
            throttles_ms=throttles_ms,
            heartbeat=session.heartbeat,
            initial_frames=self._feed.initial_frames(routes - subscriber.routes),
        )


def _peer(websocket: WebSocket) -> str:
    client = websocket.client
    return f"{client.host}:{client.port}" if client else "unknown"
