"""Replay: a recording (``server/replay/recording.py``) as the feed's source of messages, in place of the market.

``ReplaySource`` has the market's driving surface, ``now_ns`` and ``advance(until_ns)``, but yields
``RecordedMessage``s: the recorded bytes with the route they belong to and their time on the emulator's virtual
clock. The feed hands each one verbatim to the hub members of its route, so sequences and timestamps are the
recorded ones and the normal subscription filtering applies.

Time: the first recorded message maps to ``start_ns`` (the emulator's start time) and every later message keeps
its distance from it, so ``VirtualClock``'s speed (``--speed``) scales the original pacing. Receive times that
go backwards (a wall-clock step during recording) are clamped: file order is the order of the stream.

Which messages are replayed: every data message whose route can be derived (``route_key``). ``hearbeat``, ``error``
and ``reconnect`` are connection-level notices of the recording session and are skipped, as are types the
emulator cannot route (legacy ``volume``/``ticker``) and texts that are not JSON objects.

``ReplaySource.open`` reads the whole file once before the server listens: it validates it (a bad file fails
at start-up, not mid-stream) and collects the ids the recording uses (``RecordingInventory``), so that filters
resolve to recorded symbols the synthetic catalogue lacks (``server/replay/catalog.py``). Then it streams the
file a second time while replaying; neither pass holds the file in memory.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.routes import SYMBOL_TOPIC_TYPES, RouteKey, exrate_topic, ohlcv_topic
from coinapi_emulator.server.replay.late_join import LateJoinState
from coinapi_emulator.server.replay.recording import ReceivedMessage, RecordingError, RecordingHeader, RecordingReader

logger = logging.getLogger(__name__)

_NS_PER_S = 1_000_000_000


@dataclass(frozen=True, slots=True)
class RecordedMessage:
    """One recorded message ready to publish."""

    #: the route whose subscribers get it
    key: RouteKey
    #: the message's text exactly as recorded, UTF-8
    payload: bytes
    #: virtual ns: the emulator's start time + (this message's receive time - the first message's)
    time_ns: int


def route_key(message: Mapping[str, Any]) -> RouteKey | None:
    """The route of a parsed server message, or None for messages that are not replayed (see the module docstring).

    Topics follow ``server/protocol/routes.py``: ``symbol_id`` for the symbol streams and ``symbol`` messages,
    ``symbol_id.period_id`` for ``ohlcv``, ``BASE/QUOTE`` for ``exrate``, the entity id for ``asset``/``exchange``.
    """
    type_name = message.get("type")
    if not isinstance(type_name, str):
        return None
    try:
        data_type = DataType(type_name)
    except ValueError:  # hearbeat, error, reconnect, volume, ticker, anything else
        return None
    return None if (topic := _topic(data_type, message)) is None else (data_type, topic)


def _topic(data_type: DataType, message: Mapping[str, Any]) -> str | None:
    if data_type in SYMBOL_TOPIC_TYPES:
        return _text(message, "symbol_id")
    if data_type is DataType.OHLCV:
        symbol_id, period_id = _text(message, "symbol_id"), _text(message, "period_id")
        return ohlcv_topic(symbol_id, period_id) if symbol_id and period_id else None
    if data_type is DataType.EXRATE:
        base, quote = _text(message, "asset_id_base"), _text(message, "asset_id_quote")
        return exrate_topic(base, quote) if base and quote else None
    return _text(message, "asset_id" if data_type is DataType.ASSET else "exchange_id")


def _text(message: Mapping[str, Any], name: str) -> str | None:
    value = message.get(name)
    return value if isinstance(value, str) and value else None


def parse_message(text: str) -> tuple[RouteKey | None, Mapping[str, Any] | None]:
    """A recorded text's route and parsed object; ``(None, None)`` for text that is not a JSON object."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(message, dict):
        return None, None
    return route_key(message), message


@dataclass(frozen=True, slots=True)
class SymbolFacts:
    """What a recorded ``symbol`` message says about a symbol (for routing by exchange and asset filters)."""

    exchange_id: str
    asset_id_base: str
    asset_id_quote: str


@dataclass(slots=True)
class RecordingInventory:
    """What the first pass over a recording found: counts and the ids its messages use."""

    header: RecordingHeader
    messages: int = 0
    #: messages that will be replayed (the others are notices or unroutable)
    routable: int = 0
    #: skipped messages by ``type`` (``"?"`` when the text is not a JSON object with a string ``type``)
    skipped: dict[str, int] = field(default_factory=dict)
    first_received_ns: int | None = None
    last_received_ns: int | None = None
    symbol_ids: set[str] = field(default_factory=set)
    exchange_ids: set[str] = field(default_factory=set)
    asset_ids: set[str] = field(default_factory=set)
    #: from recorded ``symbol`` messages: the exact exchange and assets of a symbol
    symbol_facts: dict[str, SymbolFacts] = field(default_factory=dict)

    @property
    def duration_ns(self) -> int:
        """Receive time from the first message to the last (0 for fewer than two messages)."""
        if self.first_received_ns is None or self.last_received_ns is None:
            return 0
        return max(0, self.last_received_ns - self.first_received_ns)

    def add(self, received: ReceivedMessage) -> None:
        """Count one message and note the ids it uses."""
        self.messages += 1
        if self.first_received_ns is None:
            self.first_received_ns = received.received_ns
        self.last_received_ns = received.received_ns
        key, message = parse_message(received.text)
        if key is None or message is None:
            type_name = message.get("type") if message is not None else None
            name = type_name if isinstance(type_name, str) else "?"
            self.skipped[name] = self.skipped.get(name, 0) + 1
            return
        self.routable += 1
        data_type, topic = key
        if data_type is DataType.EXRATE:
            self.asset_ids.update(topic.split("/"))
        elif data_type is DataType.ASSET:
            self.asset_ids.add(topic)
        elif data_type is DataType.EXCHANGE:
            self.exchange_ids.add(topic)
        else:
            symbol_id = _text(message, "symbol_id")
            assert symbol_id is not None  # route_key needed it
            self.symbol_ids.add(symbol_id)
            if data_type is DataType.SYMBOL:
                self._add_symbol_facts(symbol_id, message)

    def _add_symbol_facts(self, symbol_id: str, message: Mapping[str, Any]) -> None:
        exchange_id = _text(message, "exchange_id")
        base, quote = _text(message, "asset_id_base"), _text(message, "asset_id_quote")
        if exchange_id and base and quote:
            self.symbol_facts[symbol_id] = SymbolFacts(exchange_id, base, quote)


def scan_recording(path: Path) -> RecordingInventory:
    """Read the whole recording once, validating every line (``RecordingError``) and collecting its inventory."""
    with RecordingReader(path) as reader:
        inventory = RecordingInventory(header=reader.header)
        for message in reader:
            inventory.add(message)
    return inventory


class ReplaySource:
    """Streams a recording on the virtual clock; drive it like the market: ``advance(until_ns)`` once per tick.

    Also keeps what a subscriber joining mid-replay needs (``initial_frames``): the current ``book`` of each
    recorded symbol and the latest recorded metadata messages (``server/replay/late_join.py``).
    """

    def __init__(self, path: Path, inventory: RecordingInventory, *, start_ns: int) -> None:
        self.path = path
        self.inventory = inventory
        self._start_ns = start_ns
        self._now_ns = start_ns
        self._first_received_ns = inventory.first_received_ns
        self._last_time_ns = start_ns
        self._reader: RecordingReader | None = None
        self._frames: Iterator[ReceivedMessage] | None = None
        self._pending: RecordedMessage | None = None
        self._state = LateJoinState()
        self.messages_replayed = 0
        self.finished = False

    @classmethod
    def open(cls, path: Path, *, start_ns: int) -> ReplaySource:
        """Validate ``path`` (``RecordingError``), collect its inventory and prepare to replay it from ``start_ns``."""
        return cls(path, scan_recording(path), start_ns=start_ns)

    def summary(self) -> str:
        """One line about the recording, for the start-up log."""
        inventory = self.inventory
        skipped = ", ".join(f"{count} {name}" for name, count in sorted(inventory.skipped.items())) or "none"
        return (
            f"replay {self.path}: {inventory.messages} messages over {inventory.duration_ns / _NS_PER_S:.1f} s "
            f"from {inventory.header.source_url}, {len(inventory.symbol_ids)} symbols; "
            f"{inventory.routable} to replay, skipped: {skipped}"
        )

    @property
    def now_ns(self) -> int:
        """Virtual time up to which messages have been yielded."""
        return self._now_ns

    def advance(self, until_ns: int) -> Iterator[RecordedMessage]:
        """Yield the messages not yet yielded whose virtual time is <= ``until_ns``, in file order.

        Afterwards ``now_ns == until_ns``. At the end of the recording the stream just stops: later calls yield
        nothing (connections stay open and heartbeats go on), and the end is logged once at INFO.
        """
        if until_ns < self._now_ns:
            raise ValueError(f"advance to {until_ns} is before now ({self._now_ns})")
        while not self.finished:
            message = self._pending if self._pending is not None else self._read_next()
            if message is None:
                self._finish()
                break
            if message.time_ns > until_ns:
                self._pending = message
                break
            self._pending = None
            self._state.apply(message.key, message.payload)
            self.messages_replayed += 1
            yield message
        self._now_ns = until_ns

    def initial_frames(self, keys: Iterable[RouteKey]) -> list[bytes]:
        """Framed messages a subscriber adding ``keys`` gets first: current books, latest metadata (sorted)."""
        return self._state.initial_frames(keys)

    def _read_next(self) -> RecordedMessage | None:
        """The next routable message of the file, or None at its end."""
        if self._frames is None:
            self._reader = RecordingReader(self.path)
            self._frames = iter(self._reader)
        try:
            for received in self._frames:
                key, _ = parse_message(received.text)
                if key is not None:
                    return RecordedMessage(key, received.text.encode(), self._time_ns(received.received_ns))
        except RecordingError as error:
            # The first pass validated the whole file, so it changed on disk since: stop here, keep serving.
            logger.error("replay stopped early: %s", error)
        return None

    def _time_ns(self, received_ns: int) -> int:
        first = self._first_received_ns if self._first_received_ns is not None else received_ns
        self._last_time_ns = max(self._last_time_ns, self._start_ns + received_ns - first)
        return self._last_time_ns

    def _finish(self) -> None:
        self.finished = True
        if self._reader is not None:
            self._reader.close()
        logger.info(
            "replay %s: end of recording after %d messages; the stream ends here, connections stay open",
            self.path,
            self.messages_replayed,
        )

    def close(self) -> None:
        """Stop replaying and close the file (idempotent); later ``advance`` calls yield nothing."""
        self.finished = True
        if self._reader is not None:
            self._reader.close()
