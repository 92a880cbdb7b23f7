"""The WebSocket endpoint: the only I/O around the sans-I/O session.

Accept, then for each client message: feed it to the connection's ``Session``, apply a changed scope to the hub of
its market plane (with snapshots for new book and metadata routes), forward error messages, close when the
session says so. A connection listens to the shared market, or with ``?seed=N`` to a private plane of its own
that ends with it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from coinapi_emulator.server.control.journal import ConnectionJournal
from coinapi_emulator.server.emulator import Emulator
from coinapi_emulator.server.fanout.hub import Subscriber
from coinapi_emulator.server.http.auth import key_from_request
from coinapi_emulator.server.plane.plane import MarketPlane
from coinapi_emulator.server.plane.private import PrivateRequest
from coinapi_emulator.server.protocol.errors import HelloTimeout, ProtocolError, TooManyMessages
from coinapi_emulator.server.protocol.rest_query import parse_time
from coinapi_emulator.server.protocol.routes import RouteKey
from coinapi_emulator.server.protocol.session import Session, SessionLimits, SessionState
from coinapi_emulator.server.transport.asgi import transport_for
from coinapi_emulator.server.transport.sink import Sink
from coinapi_emulator.simulator.clock import MAX_SPEED, check_speed

logger = logging.getLogger(__name__)


@dataclass(slots=True)
class Connection:
    """One client: its protocol session, its delivery state, and the market plane it listens to."""

    session: Session
    subscriber: Subscriber
    plane: MarketPlane
    #: what the client sent (the admin API's request journal)
    journal: ConnectionJournal
    #: ``?seed=N[&start_time=...][&speed=...]``: the private market it gets once its first hello is accepted
    private: PrivateRequest | None = None
    #: closes the connection unless a hello is accepted in time (``--hello-timeout``)
    hello_deadline: asyncio.TimerHandle | None = None
    #: the client's address, counted against ``--max-connections-per-ip`` while the connection is open
    host: str | None = None
    #: while its private market is built (or a gateway fetches its book snapshots): the task that does it (held
    #: here because the event loop keeps only a weak reference to a task) and the client messages that came
    #: meanwhile
    moving: asyncio.Task[None] | None = None
    held: list[str | bytes] | None = None


class WebSocketEndpoint:
    """Serves CoinAPI WebSocket connections from an emulator's market planes."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        #: open connections by client address (``--max-connections``, ``--max-connections-per-ip``)
        self._open_by_host: Counter[str] = Counter()

    async def serve(self, websocket: WebSocket) -> None:
        """Serve one connection until it closes (or until the server takes it over, ``RawSink``)."""
        host = websocket.client.host if websocket.client else "unknown"
        refusal = self._refusal(websocket, host)
        if refusal is not None:
            await websocket.send_denial_response(refusal)
            return
        private = private_request(websocket.query_params)
        self._open_by_host[host] += 1  # counted from its admission, so that the next upgrade sees it
        try:
            # PROTOCOL.md §1.4: the upgrade always succeeds; a bad key is answered after the first hello.
            await websocket.accept()
        except BaseException:
            self._release(host)
            raise
        transport = transport_for(websocket)
        upgrade_key = key_from_request(
            Headers(scope=websocket.scope), websocket.scope["query_string"], websocket.scope["path"]
        )
        connection = self.connect(transport, _peer(websocket), upgrade_key, private=private)
        connection.host = host
        transport.set_flow_control(partial(self._pause, connection), partial(self._resume, connection))
        timeout_s = self._emulator.settings.hello_timeout_s
        if timeout_s > 0:
            loop = asyncio.get_running_loop()
            connection.hello_deadline = loop.call_later(timeout_s, self._hello_overdue, connection, timeout_s)
        logger.info(
            "%s connected%s", connection.subscriber.peer, "" if private is None else f" (private seed {private.seed})"
        )
        await transport.serve(partial(self.handle_message, connection), partial(self._closed, connection))

    def _refusal(self, websocket: WebSocket, host: str) -> JSONResponse | None:
        """The HTTP answer to an upgrade the server will not accept, or None to accept it."""
        settings = self._emulator.settings
        # PROTOCOL.md §6 (UNVERIFIED form): connection limits answer the upgrade with HTTP 429.
        if self._emulator.faults.refusing_connections():
            return JSONResponse({"error": "Too many connections, try again later"}, status_code=429)
        if self._open_by_host.total() >= settings.max_connections:
            text = f"Too many connections ({settings.max_connections}, --max-connections), try again later"
            return JSONResponse({"error": text}, status_code=429)
        if self._open_by_host[host] >= settings.max_connections_per_ip:
            limit = settings.max_connections_per_ip
            text = f"Too many connections from {host} ({limit}, --max-connections-per-ip), try again later"
            return JSONResponse({"error": text}, status_code=429)
        try:
            private_request(websocket.query_params)
        except ValueError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        return None

    def connect(
        self, sink: Sink, peer: str, upgrade_key: str | None, *, private: PrivateRequest | None = None
    ) -> Connection:
        """Register a connection with the shared market; with ``private`` it moves to a private market of its own
        when its first hello is accepted."""
        emulator = self._emulator
        settings = emulator.settings
        session = Session(
            key_policy=emulator.key_policy,
            upgrade_key=upgrade_key,
            allow_unfiltered_books=settings.allow_unfiltered_books,
            limits=SessionLimits(
                max_message_chars=settings.max_message_size,
                max_filter_values=settings.max_filter_values,
                max_messages_per_second=settings.max_messages_per_second,
            ),
        )
        plane = emulator.shared
        subscriber = plane.hub.attach(sink, peer)
        journal = emulator.journal.opened(subscriber.id, peer)
        if private is not None:
            journal.market, journal.seed = "private", private.seed
        return Connection(session=session, subscriber=subscriber, plane=plane, journal=journal, private=private)

    def _pause(self, connection: Connection) -> None:
        connection.plane.hub.pause(connection.subscriber)

    def _resume(self, connection: Connection) -> None:
        connection.plane.hub.resume(connection.subscriber)

    async def _move_to_private_market(self, connection: Connection) -> None:
        """Build the connection's private market (``TooManyPrivateMarkets`` past the limit), move it there, then
        apply its hello and the messages held meanwhile."""
        assert connection.private is not None
        try:
            plane = await self._emulator.private.open(connection.private)
        except ProtocolError as error:
            self._refuse(connection, error)
            return
        finally:
            connection.moving = None
        old = connection.subscriber
        if old.closed:  # it left, or was closed, while its market was built
            self._emulator.private.close(plane)
            return
        connection.plane.hub.detach(old)
        connection.plane = plane
        connection.subscriber = plane.hub.attach(old.sink, old.peer, connection_id=old.id)
        self._apply_then_release(connection)

    async def _fetch_snapshots(self, connection: Connection, missing: list[RouteKey]) -> None:
        """A gateway's new book routes: fetch their snapshots from the market's simulator, then apply the scope
        and the messages held meanwhile."""
        upstream = connection.plane.upstream
        assert upstream is not None
        try:
            await upstream.fetch(missing)
        except ProtocolError as error:
            self._refuse(connection, error)
            return
        finally:
            connection.moving = None
        if not connection.subscriber.closed:
            self._apply_then_release(connection)

    def _refuse(self, connection: Connection, error: ProtocolError) -> None:
        """The last message, accepted by the protocol, cannot be carried out: journal it as rejected, drop what
        was held for it, tell the client and close."""
        connection.held = None
        self._emulator.journal.refused_last(connection.journal, error.message)
        connection.plane.hub.fail(connection.subscriber, error)

    def _apply_then_release(self, connection: Connection) -> None:
        """Apply the scope a wait was for, then the client messages held while it lasted."""
        held, connection.held = connection.held or [], None
        if self._apply_scope(connection):
            self._answer(connection)
        for raw in held:
            if connection.subscriber.closed:
                return
            self.handle_message(connection, raw)

    def disconnect(self, connection: Connection) -> None:
        """Forget a connection (and close its private plane)."""
        connection.plane.hub.detach(connection.subscriber)
        if connection.plane.spec.kind == "private":
            self._emulator.private.close(connection.plane)

    def _hello_overdue(self, connection: Connection, timeout_s: float) -> None:
        connection.hello_deadline = None
        if connection.session.state is SessionState.AWAITING_HELLO:
            connection.plane.hub.fail(connection.subscriber, HelloTimeout(timeout_s))

    @staticmethod
    def _drop_hello_deadline(connection: Connection) -> None:
        if connection.hello_deadline is not None:
            connection.hello_deadline.cancel()
            connection.hello_deadline = None

    def _closed(self, connection: Connection) -> None:
        self._drop_hello_deadline(connection)
        if connection.host is not None:
            self._release(connection.host)
            connection.host = None
        self.disconnect(connection)
        self._emulator.journal.closed(connection.journal)
        logger.info("%s disconnected", connection.subscriber.peer)

    def _release(self, host: str) -> None:
        self._open_by_host[host] -= 1
        if not self._open_by_host[host]:
            del self._open_by_host[host]

    def handle_message(self, connection: Connection, raw: str | bytes) -> None:
        """Apply one client message: update routes (with snapshots), forward errors, close if the session says so."""
        if connection.held is not None:
            self._hold(connection, raw)
            return
        session = connection.session
        if session.state is SessionState.CLOSED:
            return
        self._receive(connection, raw)
        if session.scope_changed():
            if connection.private is not None and connection.plane.spec.kind == "shared":
                connection.held = []
                connection.moving = asyncio.create_task(self._move_to_private_market(connection))
                return
            if not self._apply_scope(connection):
                return
        self._answer(connection)

    def _receive(self, connection: Connection, raw: str | bytes) -> None:
        """Feed one message to the session and write down what came of it in the journal."""
        session, journal = connection.session, self._emulator.journal
        verb = None
        if isinstance(raw, str):
            verb = session.receive_text(raw, now_s=time.monotonic())
        else:
            session.receive_binary(raw)
        if verb is not None:
            journal.accepted(connection.journal, raw, verb, session.scope)
        elif session.error is not None:
            journal.rejected(connection.journal, raw, session.error)

    def _hold(self, connection: Connection, raw: str | bytes) -> None:
        """Keep a message that came while the connection's private market is built, as many as a second's worth."""
        assert connection.held is not None
        limit = self._emulator.settings.max_messages_per_second
        if len(connection.held) >= limit:
            connection.held = None
            error = TooManyMessages(limit)
            self._emulator.journal.rejected(connection.journal, raw, error.message)
            connection.plane.hub.fail(connection.subscriber, error)
        else:
            connection.held.append(raw)

    def _answer(self, connection: Connection) -> None:
        """Send what the session has to say, then close if it says so."""
        session, hub, subscriber = connection.session, connection.plane.hub, connection.subscriber
        for payload in session.data_to_send():
            hub.send(subscriber, payload)
        if session.close is not None:
            code, reason = session.close
            hub.close(subscriber, code, reason)
        else:
            hub.flush_sent()

    def _apply_scope(self, connection: Connection) -> bool:
        """Route the connection by its new scope; False if it failed (then it has been told, and closed) or waits
        for book snapshots from a gateway's bus (then ``_fetch_snapshots`` applies it)."""
        try:
            routes = connection.plane.resolver.routes_of(connection.session.scope)
        except ProtocolError as error:
            self._refuse(connection, error)
            return False
        session, subscriber, plane = connection.session, connection.subscriber, connection.plane
        missing = [] if plane.upstream is None else plane.upstream.missing(routes - subscriber.routes)
        if missing:
            connection.held = []
            connection.moving = asyncio.create_task(self._fetch_snapshots(connection, missing))
            return False
        plane.hub.set_routes(
            subscriber,
            routes,
            throttles_ms=session.limits.throttles_ms(),
            heartbeat=session.heartbeat,
            initial_frames=plane.snapshots.initial_frames(routes - subscriber.routes),
        )
        plane.subscribed()
        self._drop_hello_deadline(connection)
        return True


def private_request(query: Mapping[str, str]) -> PrivateRequest | None:
    """The private market a URL asks for (``seed``, ``start_time``, ``speed``), None without ``seed``;
    ``ValueError`` saying what is wrong."""
    seed = query.get("seed")
    if seed is None:
        if "start_time" in query or "speed" in query:
            raise ValueError("start_time and speed choose a private market's clock: give seed=N with them")
        return None
    try:
        number = int(seed)
    except ValueError:
        raise ValueError(f"seed must be an integer, got {seed[:32]!r}") from None
    start_ns = parse_time("start_time", query["start_time"]) if "start_time" in query else None
    if "speed" not in query:
        return PrivateRequest(number, start_ns)
    return PrivateRequest(number, start_ns, speed=_speed(query["speed"]), speed_given=True)


def _speed(text: str) -> float | None:
    if text.strip().lower() == "max":
        return None
    try:
        return check_speed(float(text))
    except ValueError:
        raise ValueError(
            f"speed must be a positive number at most {MAX_SPEED:.0f}, or max; got {text[:32]!r}"
        ) from None


def _peer(websocket: WebSocket) -> str:
    client = websocket.client
    return f"{client.host}:{client.port}" if client else "unknown"
