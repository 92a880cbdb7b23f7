"""What crosses the bus, sans I/O: subjects, frame batches, and the gateways' messages to the simulators.

Frames go in **batches**: one NATS message per gateway and market pass holding every frame that gateway wants, in
market order, each with its route and virtual time. One Python subscriber takes in ~150k NATS messages a second,
so a message per frame would cap a gateway there. A batch header numbers it twice: ``stream_seq`` counts the
batches one simulator sent one gateway (a gap is a loss), ``pass_number`` counts the simulator's market passes (a
snapshot reply names the pass it reflects, so a gateway knows which deltas it already holds). ``instance`` is
the simulator process's random id: a new one is a restarted market.

Everything a gateway says to the simulators goes on one subject (``UP``), so that one simulator subscription sees
a gateway's interest changes and snapshot requests in the order they were sent: nats-py keeps order within a
subscription, not across them. The frames are the market's bytes, never parsed here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.routes import RouteKey

#: gateways -> simulators: interest, snapshot requests, the market's description (one subject: see above)
UP = "coinapi_emulator.up"
#: simulators -> every gateway: "a simulator (re)started: send your whole interest"
SYNC = "coinapi_emulator.sync"


def down_subject(gateway_id: str) -> str:
    """The subject a gateway's batches arrive on (every simulator shard publishes there)."""
    return f"coinapi_emulator.down.{gateway_id}"


# -- route keys ---------------------------------------------------------------------------------------------------

_BY_VALUE = {data_type.value: data_type for data_type in DataType}


def key_text(key: RouteKey) -> str:
    """A route as text: ``"trade BINANCE_SPOT_BTC_USDT"`` (no topic holds a space)."""
    return f"{key[0].value} {key[1]}"


def parse_key(text: str) -> RouteKey:
    """The route of ``key_text``; ``ValueError`` for anything else."""
    data_type, space, topic = text.partition(" ")
    if not space or not topic or data_type not in _BY_VALUE:
        raise ValueError(f"not a route: {text[:64]!r}")
    return _BY_VALUE[data_type], topic


# -- batches ------------------------------------------------------------------------------------------------------

_MAGIC = b"CAE1"
#: magic, instance, shard, stream_seq, pass_number, time_ns, sent_ns, speed, paused, route count, frame count
_HEADER = struct.Struct("<4sQHQQqqd?II")
_KEY = struct.Struct("<H")
#: route index, time_ns, frame length
_ENTRY = struct.Struct("<Iqi")


#: the most bytes of one NATS message this project sends (a batch is sealed early past it, a REST reply split):
#: NATS refuses messages over its max_payload, 1 MiB by default
MAX_MESSAGE_BYTES = 512 * 1024


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """Where a batch comes from and where it sits in its stream."""

    instance: int
    shard: int
    stream_seq: int
    pass_number: int
    #: the simulator's virtual time at the end of the pass
    time_ns: int
    #: the simulator's wall clock when it sent the batch (ns since the epoch): the gateway's measure of bus lag
    sent_ns: int
    #: the market clock's speed (virtual seconds per wall second; 0 for "max") and whether it is paused
    speed: float = 1.0
    paused: bool = False


@dataclass(slots=True)
class BatchBuilder:
    """The frames of one pass for one gateway, in the order they were delivered."""

    _index: dict[RouteKey, int] = field(default_factory=dict)
    _parts: list[bytes] = field(default_factory=list)
    count: int = 0
    #: bytes of the frames so far (``MAX_MESSAGE_BYTES``)
    size: int = 0

    def add(self, key: RouteKey, frame: bytes, time_ns: int) -> None:
        """Append one frame of route ``key``."""
        index = self._index.get(key)
        if index is None:
            index = self._index[key] = len(self._index)
        self._parts.append(_ENTRY.pack(index, time_ns, len(frame)))
        self._parts.append(frame)
        self.count += 1
        self.size += len(frame)

    def build(self, header: BatchHeader) -> bytes:
        """The batch as one message; the builder is empty afterwards."""
        keys = [key_text(key).encode() for key in self._index]
        head = _HEADER.pack(
            _MAGIC,
            header.instance,
            header.shard,
            header.stream_seq,
            header.pass_number,
            header.time_ns,
            header.sent_ns,
            header.speed,
            header.paused,
            len(keys),
            self.count,
        )
        message = b"".join([head, *(_KEY.pack(len(k)) + k for k in keys), *self._parts])
        self._index.clear()
        self._parts.clear()
        self.count = self.size = 0
        return message


def read_header(message: bytes) -> BatchHeader:
    """The header of a batch; ``ValueError`` when ``message`` is not one."""
    if len(message) < _HEADER.size or message[:4] != _MAGIC:
        raise ValueError("not a frame batch")
    _, instance, shard, stream_seq, pass_number, time_ns, sent_ns, speed, paused, _, _ = _HEADER.unpack_from(message)
    return BatchHeader(instance, shard, stream_seq, pass_number, time_ns, sent_ns, speed, paused)


def read_frames(message: bytes, keys: dict[bytes, RouteKey]) -> Iterator[tuple[RouteKey, bytes, int]]:
    """The (route, frame, time_ns) of a batch, in order; ``keys`` caches the routes already seen (it grows with
    the routes a gateway has ever had, which the catalogue bounds)."""
    *_, key_count, frame_count = _HEADER.unpack_from(message)
    offset = _HEADER.size
    routes = []
    for _ in range(key_count):
        (length,) = _KEY.unpack_from(message, offset)
        offset += _KEY.size
        raw = message[offset : offset + length]
        offset += length
        route = keys.get(raw)
        if route is None:
            route = keys[raw] = parse_key(raw.decode())
        routes.append(route)
    unpack, size = _ENTRY.unpack_from, _ENTRY.size
    for _ in range(frame_count):
        index, time_ns, length = unpack(message, offset)
        offset += size
        yield routes[index], message[offset : offset + length], time_ns
        offset += length


# -- gateway -> simulator ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Interest:
    """A gateway's routes: all of them (``full``) or what changed since its last message."""

    gateway: str
    add: frozenset[RouteKey] = frozenset()
    remove: frozenset[RouteKey] = frozenset()
    full: bool = False


@dataclass(frozen=True, slots=True)
class SnapshotRequest:
    """A gateway asks a shard for book snapshots of ``keys`` (and starts receiving their deltas)."""

    gateway: str
    shard: int
    keys: tuple[RouteKey, ...]


@dataclass(frozen=True, slots=True)
class MarketRequest:
    """A gateway asks what market the simulators run (to build the same catalogue)."""


#: what a ``Control`` may ask of every simulator's clock
CONTROL_ACTIONS = frozenset({"pause", "resume", "speed", "step"})


@dataclass(frozen=True, slots=True)
class Control:
    """A gateway's admin API moves the market's clock: every shard does the same and answers with its status.
    ``value``: the speed (0 for "max") or the step's virtual ns."""

    action: str
    value: float = 0.0


@dataclass(frozen=True, slots=True)
class Ack:
    """A gateway has delivered shard ``shard``'s batches up to ``stream_seq``: a simulator at ``--speed max``
    publishes no further ahead of its slowest gateway than ``publisher.MAX_UNACKED`` batches."""

    gateway: str
    shard: int
    stream_seq: int


@dataclass(frozen=True, slots=True)
class RestRequest:
    """A gateway forwards a REST read of the running market (``GET path?query``) to shard ``shard``, which
    answers with ``encode_rest_reply``. The gateway has already checked the key and charged the quota."""

    shard: int
    path: str
    query: str = ""


@dataclass(frozen=True, slots=True)
class ScenarioLoad:
    """A gateway's admin API loads a scenario on every shard, each carrying out its part from virtual
    ``start_ns`` (``Scenario.within``); each answers with a ``ScenarioAnswer``."""

    text: str
    source: str
    start_ns: int


UpMessage = Interest | SnapshotRequest | MarketRequest | Control | Ack | RestRequest | ScenarioLoad


def encode_up(message: UpMessage) -> bytes:
    """One gateway -> simulator message."""
    match message:
        case Interest():
            body: dict[str, Any] = {
                "interest": message.gateway,
                "full": message.full,
                "add": sorted(map(key_text, message.add)),
                "remove": sorted(map(key_text, message.remove)),
            }
        case SnapshotRequest():
            body = {"snapshot": message.gateway, "shard": message.shard, "keys": list(map(key_text, message.keys))}
        case MarketRequest():
            body = {"market": True}
        case Control():
            body = {"control": message.action, "value": message.value}
        case Ack():
            body = {"ack": message.gateway, "shard": message.shard, "seq": message.stream_seq}
        case RestRequest():
            body = {"rest": message.path, "shard": message.shard, "query": message.query}
        case ScenarioLoad():
            body = {"scenario": message.text, "source": message.source, "start_ns": message.start_ns}
    return orjson.dumps(body)


def decode_up(data: bytes) -> UpMessage:
    """The message ``encode_up`` made; ``ValueError`` saying what is wrong with anything else."""
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(body, dict):
        raise ValueError("not a JSON object")
    if "interest" in body:
        return Interest(
            gateway=_text(body, "interest"),
            add=frozenset(_keys(body, "add")),
            remove=frozenset(_keys(body, "remove")),
            full=body.get("full") is True,
        )
    if "snapshot" in body:
        keys = tuple(_keys(body, "keys"))
        return SnapshotRequest(gateway=_text(body, "snapshot"), shard=_number(body, "shard"), keys=keys)
    if "ack" in body:
        return Ack(gateway=_text(body, "ack"), shard=_number(body, "shard"), stream_seq=_number(body, "seq"))
    if body.get("market") is True:
        return MarketRequest()
    if "control" in body:
        action, value = body["control"], body.get("value", 0.0)
        if action not in CONTROL_ACTIONS or isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"'control' must be one of {', '.join(sorted(CONTROL_ACTIONS))}, with a number")
        return Control(action, float(value))
    if "rest" in body:
        path, query = body["rest"], body.get("query", "")
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(query, str):
            raise ValueError("'rest' must be a path from '/', with a text 'query'")
        return RestRequest(shard=_number(body, "shard"), path=path, query=query)
    if "scenario" in body:
        text, source = body["scenario"], body.get("source")
        if not isinstance(text, str) or not isinstance(source, str):
            raise ValueError("'scenario' and 'source' must be text")
        return ScenarioLoad(text, source, _number(body, "start_ns"))
    raise ValueError("neither interest, snapshot, market, control, ack, rest nor scenario")


def _text(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name!r} must be a gateway id")
    return value


def _number(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name!r} must be a number from 0")
    return value


def _keys(body: dict[str, Any], name: str) -> Iterable[RouteKey]:
    values = body.get(name, [])
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise ValueError(f"{name!r} must be a list of routes")
    return map(parse_key, values)


@dataclass(frozen=True, slots=True)
class ScenarioAnswer:
    """A shard's answer to a ``ScenarioLoad``: the steps it scheduled, or why it refused the scenario."""

    shard: int
    steps: int = 0
    error: str | None = None

    def encode(self) -> bytes:
        """As the reply to a ``ScenarioLoad``."""
        return orjson.dumps({"shard": self.shard, "steps": self.steps, "error": self.error})

    @classmethod
    def decode(cls, data: bytes) -> ScenarioAnswer:
        """The answer ``encode`` made; ``ValueError`` for anything else."""
        try:
            body = orjson.loads(data)
            error = body["error"]
            if error is not None and not isinstance(error, str):
                raise TypeError("'error' is not text")
            return cls(int(body["shard"]), int(body["steps"]), error)
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a scenario answer: {error}") from None


def encode_rest_reply(status: int, body: bytes) -> list[bytes]:
    """A shard's answer to a ``RestRequest``, as the NATS messages that carry it, in order: each the HTTP status in
    three digits, then ``+`` (more follow) or ``.`` (the last), then the next slice of the JSON body, at most
    ``MAX_MESSAGE_BYTES`` (a history answer can be tens of MB). NATS delivers one publisher's messages to one
    subject in the order sent."""
    slices = [body[at : at + MAX_MESSAGE_BYTES] for at in range(0, len(body), MAX_MESSAGE_BYTES)] or [b""]
    head, last = b"%03d" % status, len(slices) - 1
    return [head + (b"." if i == last else b"+") + part for i, part in enumerate(slices)]


def decode_rest_part(data: bytes) -> tuple[int, bool, bytes]:
    """(status, whether it is the last, body slice) of one of ``encode_rest_reply``'s messages; ``ValueError`` for
    anything else."""
    if len(data) < 4 or not data[:3].isdigit() or data[3:4] not in (b"+", b"."):
        raise ValueError("a REST reply starts with a three-digit status and + or .")
    return int(data[:3]), data[3:4] == b".", data[4:]


# -- the market's description ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MarketDescription:
    """What a gateway needs to build the simulators' catalogue and answer for their market."""

    seed: int
    start_ns: int
    exchanges: int
    max_symbols_per_exchange: int
    #: how many simulator shards split the exchanges (``simulator.catalog.shard_catalog``)
    shards: int

    def encode(self) -> bytes:
        """As the reply to a ``MarketRequest``."""
        return orjson.dumps(
            {
                "seed": self.seed,
                "start_ns": self.start_ns,
                "exchanges": self.exchanges,
                "max_symbols_per_exchange": self.max_symbols_per_exchange,
                "shards": self.shards,
            }
        )

    @classmethod
    def decode(cls, data: bytes) -> MarketDescription:
        """The description ``encode`` made; ``ValueError`` for anything else."""
        try:
            body = orjson.loads(data)
            return cls(**{name: int(body[name]) for name in cls.__slots__})
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as error:
            raise ValueError(f"not a market description: {error}") from None
