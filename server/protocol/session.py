"""The per-connection protocol state machine, sans I/O (like python-websockets' protocol objects).

Call order for the endpoint::

    session.receive_text(raw)                     # one client message; never raises a ProtocolError
    if session.scope_changed(): hub.set_routes(resolve_routes(session.scope, ...), heartbeat=..., limits=...)
    for payload in session.data_to_send(): send(payload)  # already-encoded error messages
    if session.close is not None: close(*session.close)

States: ``AWAITING_HELLO`` until the first hello/subscribe is accepted, then ``OPEN``; any ``ProtocolError``
moves to ``CLOSED``: its error message is queued, ``close`` is set and later input is ignored. A failing message
changes nothing else (scope, heartbeat and limits stay as they were).

Authentication (PROTOCOL.md §1.3-1.4): the first hello/subscribe is checked with its non-empty ``apikey``,
else the key of the upgrade request; later messages' keys are ignored (the connection is authenticated once).
Keys are never logged or echoed.

Heartbeat and throttles: ``hello`` replaces both (absent heartbeat = off, absent limits = none);
``subscribe`` and ``unsubscribe`` set ``heartbeat`` when they carry it, and ``subscribe`` overrides each
limit it gives as non-zero (0 and null in a subscribe mean "not given", since Go always sends 0).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import assert_never

from coinapi_emulator.server.protocol.errors import (
    BinaryMessage,
    FirstMessageNotHello,
    InvalidApiKey,
    MessageTooBig,
    ProtocolError,
    TooManyMessages,
)
from coinapi_emulator.server.protocol.messages import NO_LIMITS, ClientMessage, UpdateLimits, Verb, parse_client_message
from coinapi_emulator.server.protocol.scope import (
    EMPTY_SCOPE,
    Scope,
    apply_hello,
    apply_subscribe,
    apply_unsubscribe,
    check_required_filters,
)


@dataclass(frozen=True, slots=True)
class KeyPolicy:
    """Which API keys the server accepts."""

    #: the accepted keys; None accepts any non-empty key
    allowed: frozenset[str] | None = None

    def accepts(self, key: str) -> bool:
        """Whether ``key`` may connect. The empty key never may."""
        return bool(key) and (self.allowed is None or key in self.allowed)

    @classmethod
    def from_lines(cls, text: str, *, source: str) -> KeyPolicy:
        """The keys in ``text``, one a line, ``#`` starting a comment.

        Raises ``ValueError`` naming ``source`` when there is no key, so that a wrong file cannot silently lock
        everyone out.
        """
        keys = frozenset(line.split("#", 1)[0].strip() for line in text.splitlines()) - {""}
        if not keys:
            raise ValueError(f"{source}: no API key in the file (one key per line)")
        return cls(allowed=keys)


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """What one connection may send (issue 14: a 14 MB hello of 900k filter values stalled every client for 2 s)."""

    #: characters of one message (``--max-message-size``)
    max_message_chars: int = 1 << 20
    #: ``subscribe_filter_*`` entries of one message, all fields together (``--max-filter-values``)
    max_filter_values: int = 10_000
    #: messages in one second (``--max-messages-per-second``)
    max_messages_per_second: int = 50


class SessionState(enum.Enum):
    """Where a session is in its life."""

    AWAITING_HELLO = "awaiting_hello"
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class _Subscription:
    """What the client asked for; replaced as a whole when a message is accepted."""

    scope: Scope = EMPTY_SCOPE
    heartbeat: bool = False
    limits: UpdateLimits = NO_LIMITS


class Session:
    """One client connection's protocol state. Feed it messages with ``receive_text``; it never does I/O."""

    __slots__ = (
        "_allow_unfiltered_books",
        "_authenticated",
        "_close",
        "_error",
        "_key_policy",
        "_limits",
        "_out",
        "_reported",
        "_state",
        "_subscription",
        "_upgrade_key",
        "_window",
    )

    def __init__(
        self,
        *,
        key_policy: KeyPolicy,
        upgrade_key: str | None,
        allow_unfiltered_books: bool = False,
        limits: SessionLimits = SessionLimits(),
    ) -> None:
        """``upgrade_key``: the key the upgrade request carried (header, query, path or Authorization), if any.

        ``allow_unfiltered_books``: serve book types without a filter, as old CoinAPI examples expect
        (PROTOCOL.md §2.3); by default they are refused like the real service documents.
        """
        self._key_policy = key_policy
        self._upgrade_key = upgrade_key
        self._allow_unfiltered_books = allow_unfiltered_books
        self._state = SessionState.AWAITING_HELLO
        self._authenticated = False
        self._subscription = _Subscription()
        self._reported = self._subscription
        self._out: list[bytes] = []
        self._close: tuple[int, str] | None = None
        self._error: str | None = None
        self._limits = limits
        #: (second, messages in it) of the rate limit
        self._window = (0, 0)

    @property
    def state(self) -> SessionState:
        """The current state."""
        return self._state

    @property
    def authenticated(self) -> bool:
        """True once the key was accepted (it stays True after a later error)."""
        return self._authenticated

    @property
    def close(self) -> tuple[int, str] | None:
        """``(code, reason)`` once the session must close, else None. ``reason`` fits a close frame."""
        return self._close

    @property
    def error(self) -> str | None:
        """The text of the ``error`` message that closed the session, if one did. The text only: the exception's
        traceback would keep the offending message (up to 4 MiB) alive in a reference cycle."""
        return self._error

    @property
    def scope(self) -> Scope:
        """The current subscription scope (empty before the first hello)."""
        return self._subscription.scope

    @property
    def heartbeat(self) -> bool:
        """Whether the client asked for ``hearbeat`` messages on idle."""
        return self._subscription.heartbeat

    @property
    def limits(self) -> UpdateLimits:
        """The current per-symbol throttles."""
        return self._subscription.limits

    def scope_changed(self) -> bool:
        """True if the scope, heartbeat flag or limits changed since the previous call (False on the first call
        only if nothing was accepted yet). Call it after ``receive_text``; it resets on every call."""
        changed = self._subscription != self._reported
        self._reported = self._subscription
        return changed

    def data_to_send(self) -> list[bytes]:
        """The payloads to send, oldest first, already encoded; the buffer is emptied."""
        out, self._out = self._out, []
        return out

    def receive_text(self, raw: str | bytes, *, now_s: float | None = None) -> Verb | None:
        """Handle one client text message received at ``now_s`` (seconds on any monotonic clock; None: not
        rate-limited); the verb of the message if it was accepted, else None. A protocol error becomes an error
        message plus ``close`` (and ``error``); nothing is raised. Once closed, messages are ignored."""
        if self._state is SessionState.CLOSED:
            return None
        limits = self._limits
        try:
            self._count(now_s)
            if len(raw) > limits.max_message_chars:
                raise MessageTooBig(len(raw), limits.max_message_chars)
            return self._receive(parse_client_message(raw, max_filter_values=limits.max_filter_values))
        except ProtocolError as error:
            self.fail(error)
            return None

    def receive_binary(self, data: bytes, *, now_s: float | None = None) -> None:
        """Handle a binary client message: CoinAPI's are text, so it is an error (``BinaryMessage``)."""
        self.fail(BinaryMessage())

    def _count(self, now_s: float | None) -> None:
        """Count one message in its second; ``TooManyMessages`` past the limit."""
        if now_s is None:
            return
        second, count = self._window
        count = count + 1 if int(now_s) == second else 1
        self._window = (int(now_s), count)
        if count > self._limits.max_messages_per_second:
            raise TooManyMessages(self._limits.max_messages_per_second)

    def fail(self, error: ProtocolError) -> None:
        """Close the session because of ``error`` (also for errors found outside, e.g. by routing or the hub)."""
        if self._state is SessionState.CLOSED:
            return
        self._state = SessionState.CLOSED
        self._error = error.message
        self._out.append(error.payload())
        self._close = (error.close_code, error.close_reason)

    def _receive(self, msg: ClientMessage) -> Verb:
        if self._state is SessionState.AWAITING_HELLO:
            self._authenticate(msg)
        self._subscription = self._apply(msg)
        self._state = SessionState.OPEN
        return msg.verb

    def _authenticate(self, msg: ClientMessage) -> None:
        if msg.verb is Verb.UNSUBSCRIBE:
            raise FirstMessageNotHello(msg.verb.value)
        key = msg.apikey or self._upgrade_key
        if key is None or not self._key_policy.accepts(key):
            raise InvalidApiKey()
        self._authenticated = True

    def _apply(self, msg: ClientMessage) -> _Subscription:
        current = self._subscription
        match msg.verb:
            case Verb.HELLO:
                heartbeat = bool(msg.heartbeat)
                return self._checked(_Subscription(apply_hello(msg), heartbeat, msg.limits))
            case Verb.SUBSCRIBE:
                heartbeat = current.heartbeat if msg.heartbeat is None else msg.heartbeat
                limits = _override(current.limits, msg.limits)
                return self._checked(_Subscription(apply_subscribe(current.scope, msg), heartbeat, limits))
            case Verb.UNSUBSCRIBE:
                # Removing types cannot make a filter go missing, so there is nothing to check.
                heartbeat = current.heartbeat if msg.heartbeat is None else msg.heartbeat
                return _Subscription(apply_unsubscribe(current.scope, msg), heartbeat, current.limits)
            case _:
                assert_never(msg.verb)

    def _checked(self, subscription: _Subscription) -> _Subscription:
        check_required_filters(subscription.scope, allow_unfiltered_books=self._allow_unfiltered_books)
        return subscription


def _override(current: UpdateLimits, given: UpdateLimits) -> UpdateLimits:
    """``current`` with each non-zero limit of ``given`` taken over."""
    return UpdateLimits(
        quote_ms=given.quote_ms or current.quote_ms,
        book_snapshot_ms=given.book_snapshot_ms or current.book_snapshot_ms,
        exrate_ms=given.exrate_ms or current.exrate_ms,
    )
