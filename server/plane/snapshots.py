"""What a new subscription gets before the stream: a snapshot of each new ``book`` and ``book_l3`` route, the
object of each new metadata route (PROTOCOL.md §3.3, §3.5, §3.8). Every other type is complete message by
message, so it gets nothing.

``MarketSnapshots`` answers from the simulated market; a replay answers from the recording instead
(``server/replay/late_join.py``). Both sort the frames, so that a client's bytes never depend on set order.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from coinapi_emulator.server.plane.streams import Channel, Stamper, wire_sequence
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.metadata import Metadata
from coinapi_emulator.server.protocol.routes import RouteKey
from coinapi_emulator.server.transport.frames import text_frame
from coinapi_emulator.simulator.market import Market

#: the data types whose new subscribers get a snapshot first
_SNAPSHOT_TYPES = frozenset(t for t in DataType if t.is_incremental_book or t.is_metadata)


def with_snapshots(keys: Iterable[RouteKey]) -> list[RouteKey]:
    """The routes of ``keys`` whose new subscribers get a first frame, in the order they get them."""
    # filtered before sorting: a hello for every symbol's trades and quotes adds thousands of keys, none of
    # which has a snapshot, and sorting them all took ~30 ms per subscriber
    with_snapshot = [key for key in keys if key[0] in _SNAPSHOT_TYPES]
    return sorted(with_snapshot, key=lambda key: (key[0].value, key[1]))


class Snapshots(Protocol):
    """Where a plane's new subscriptions get their first frames from."""

    def initial_frames(self, keys: Iterable[RouteKey]) -> list[bytes]:
        """The frames a subscriber adding ``keys`` gets before anything routed, in a reproducible order."""


class MarketSnapshots:
    """Snapshots of the simulated market's books, numbered in their streams, and its metadata objects."""

    def __init__(self, market: Market, channels: dict[str, Channel], metadata: Metadata, stamper: Stamper) -> None:
        self._market = market
        self._channels = channels
        self._metadata = metadata
        self._stamper = stamper

    def initial_frames(self, keys: Iterable[RouteKey]) -> list[bytes]:
        """A book snapshot per new ``book`` or ``book_l3`` route and the object of each new metadata route, sorted."""
        frames = []
        for data_type, topic in with_snapshots(keys):
            if data_type is DataType.BOOK:
                frames.append(self._book_snapshot(self._channels[topic]))
            elif data_type is DataType.BOOK_L3:
                frames.append(self._order_book_snapshot(self._channels[topic]))
            else:  # a metadata type: _SNAPSHOT_TYPES holds nothing else
                frames.append(text_frame(self._metadata.payload(data_type, topic)))
        return frames

    def _book_snapshot(self, channel: Channel) -> bytes:
        """A snapshot of the channel's book now, with the sequence of the book stream's last message."""
        book = self._market.book(channel.symbol_id)
        now_ns = self._market.now_ns
        return channel.codec.book_frame(
            DataType.BOOK,
            book.asks(),
            book.bids(),
            wire_sequence(channel.counts[DataType.BOOK]),
            now_ns,
            self._stamper.stamp(now_ns),
            is_snapshot=True,
        )

    def _order_book_snapshot(self, channel: Channel) -> bytes:
        """Every order of the channel's book now, numbered as its ``book`` stream; the first subscriber's
        snapshot starts following the symbol's orders (``streams.py``)."""
        orders = channel.follow_orders(self._market)
        now_ns = self._market.now_ns
        sequence = wire_sequence(channel.counts[DataType.BOOK])
        return orders.snapshot_frame(sequence, now_ns, self._stamper.stamp(now_ns))
