"""Feeds: advance a source to a virtual time and publish what happened, each message encoded once.

``MarketFeed`` numbers and encodes the simulated market's events (``streams.py``); ``ReplayFeed`` publishes a
recording's messages verbatim. Both publish into an ``Outlet``: the plane's hub in this process. The outlet also
says which routes gained or lost all their subscribers (``take_interest``), drained before each pass, so that the
feed encodes only streams someone listens to, has the market build only wanted candles, and computes only wanted
cross rates. Counting never depends on interest: a stream's sequence is the same whoever listens and since when.

A feed does not decide when to publish (``driver.py`` does) and does not flush (its caller does, once per pass).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol, assert_never

from coinapi_emulator.server.plane.crosses import CrossRates
from coinapi_emulator.server.plane.retention import Retention
from coinapi_emulator.server.plane.streams import COUNTED, Channel, OrderStream, Stamper, wire_sequence
from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.encode import encode_exrate
from coinapi_emulator.server.protocol.routes import RouteKey, exrate_topic, ohlcv_topic, ohlcv_topic_parts
from coinapi_emulator.server.replay.source import ReplaySource
from coinapi_emulator.server.transport.frames import text_frame
from coinapi_emulator.simulator.events import Bar, BookDelta, ExchangeRate, Quote, Trade
from coinapi_emulator.simulator.market import Market

_NS_PER_S = 1_000_000_000
# Module constants: the hot path reads these without an attribute lookup on the enum class.
_TRADE, _QUOTE, _BOOK, _BOOK5, _BOOK20, _BOOK50 = COUNTED
_BOOK_L3 = DataType.BOOK_L3
_COUNTED_TYPES = frozenset(COUNTED)
_BOOK_TYPES = frozenset((_BOOK, _BOOK5, _BOOK20, _BOOK50))
#: book5/20/50 are the top levels of the book after a change
_DEPTHS = {_BOOK5: 5, _BOOK20: 20, _BOOK50: 50}
#: virtual time between two evictions of what REST retains: trades leave it in whole minutes, so more often
#: would find nothing to do (and at --speed max a sweep of every symbol's tape is not free)
_EVICT_EVERY_NS = 60 * _NS_PER_S


class Outlet(Protocol):
    """Where a feed publishes: the routing table to look members up in, delivery, and interest notes."""

    @property
    def routes(self) -> Mapping[RouteKey, Any]:
        """Route -> its members, for the routes that have any; ``deliver`` takes the members back."""

    def deliver(self, members: Any, key: RouteKey, frame: bytes, time_ns: int) -> None:
        """Queue one frame for the members of the route ``key``."""

    def take_interest(self) -> dict[RouteKey, bool]:
        """Routes that gained their first (True) or lost their last (False) subscriber since the last call."""


class MarketFeed:
    """Publishes the simulated market: every message counted, stamped and, when someone listens, encoded once."""

    def __init__(
        self,
        market: Market,
        channels: dict[str, Channel],
        outlet: Outlet,
        stamper: Stamper,
        crosses: CrossRates,
        retention: Retention | None = None,
    ) -> None:
        """``retention``: where every trade, quote and rate is also kept for REST (the shared market's)."""
        self._market = market
        self._retention = retention
        self._books = None if retention is None else retention.books
        self._next_evict_ns = market.now_ns + _EVICT_EVERY_NS
        self._channels = channels
        self._outlet = outlet
        self._routes = outlet.routes
        self._stamp = stamper.stamp
        self._stamper = stamper
        self._crosses = crosses

    @property
    def now_ns(self) -> int:
        """Virtual time up to which the market has been published."""
        return self._market.now_ns

    def publish_until(self, until_ns: int) -> None:
        """Publish every market event up to ``until_ns`` (virtual), in the market's order."""
        for key, wanted in self._outlet.take_interest().items():
            self._route_wanted(key, wanted)
        self._stamper.refresh()
        for event in self._market.advance(until_ns):
            # most frequent first: a book change comes with most events
            match event:
                case BookDelta():
                    self._on_book_delta(event)
                case Quote():
                    self._on_quote(event)
                case Trade():
                    self._on_trade(event)
                case Bar():
                    self._on_bar(event)
                case ExchangeRate():
                    self._on_rate(event)
                case _:
                    assert_never(event)
        if self._retention is not None and until_ns >= self._next_evict_ns:
            self._retention.evict(until_ns)
            self._next_evict_ns = until_ns + _EVICT_EVERY_NS

    # -- interest -------------------------------------------------------------------------------------------

    def _route_wanted(self, key: RouteKey, wanted: bool) -> None:
        data_type, topic = key
        if data_type in _COUNTED_TYPES:
            listened = self._channels[topic].listened
            if wanted:
                listened.add(data_type)
                if self._books is not None and data_type in _BOOK_TYPES:
                    self._books.watch(topic)  # a book subscriber may compare with REST's order-book history
            else:
                listened.discard(data_type)
        elif data_type is _BOOK_L3:
            self._follow_orders(self._channels[topic], wanted)
        elif data_type is DataType.OHLCV:
            symbol_id, period_id = ohlcv_topic_parts(topic)
            self._market.want_bars(symbol_id, period_id, wanted)
        elif data_type is DataType.EXRATE:
            self._crosses.want(topic, wanted)
        # metadata routes: their objects go out as snapshots only (``snapshots.py``)

    def _follow_orders(self, channel: Channel, wanted: bool) -> None:
        """Keep the symbol's order book while its ``book_l3`` route has subscribers (``streams.py``). The first
        subscriber's snapshot has already started it; a route dropped before the pass started nothing."""
        if wanted:
            channel.listened.add(_BOOK_L3)
            channel.follow_orders(self._market)
        else:
            channel.listened.discard(_BOOK_L3)
            channel.orders = None

    # -- per-event handlers (the hot path) ------------------------------------------------------------------
    # Every message is counted, whoever listens; only the streams in ``channel.listened`` are encoded. Counting
    # is inlined (no call per message): most events belong to streams nobody listens to.

    def _on_trade(self, trade: Trade) -> None:
        channel = self._channels[trade.symbol_id]
        channel.counts[_TRADE] += 1
        if self._retention is not None:
            self._retention.record_trade(trade, self._stamp(trade.time_exchange_ns))
        listened = channel.listened
        if listened:
            if _TRADE in listened:
                self._publish(channel, _TRADE, channel.codec.trade_frame, trade, trade.time_exchange_ns)
            orders = channel.orders
            if orders is not None:
                orders.book.match(trade)

    def _on_quote(self, quote: Quote) -> None:
        channel = self._channels[quote.symbol_id]
        channel.counts[_QUOTE] += 1
        if self._retention is not None:
            self._retention.record_quote(quote, self._stamp(quote.time_exchange_ns))
        if _QUOTE in channel.listened:
            self._publish(channel, _QUOTE, channel.codec.quote_frame, quote, quote.time_exchange_ns)

    def _on_book_delta(self, delta: BookDelta) -> None:
        channel = self._channels[delta.symbol_id]
        counts, time_ns = channel.counts, delta.time_exchange_ns
        if self._books is not None:
            self._books.record(delta, self._stamp)
        counts[_BOOK] += 1
        counts[_BOOK5] += 1
        slow = time_ns >= channel.next_slow_book_ns
        if slow:
            channel.next_slow_book_ns = time_ns + _NS_PER_S
            counts[_BOOK20] += 1
            counts[_BOOK50] += 1
        listened = channel.listened
        if listened:
            if _BOOK in listened:
                self._publish(channel, _BOOK, channel.codec.book_delta_frame, delta, time_ns)
            for data_type in (_BOOK5, _BOOK20, _BOOK50) if slow else (_BOOK5,):
                if data_type in listened:
                    self._publish_top(channel, data_type, time_ns)
            orders = channel.orders
            if orders is not None:
                self._publish_orders(channel, orders, delta)

    def _publish(
        self, channel: Channel, data_type: DataType, frame: Callable[[Any, int, int], bytes], event: Any, time_ns: int
    ) -> None:
        """Encode the stream's last counted message in a frame (``frame``: a ``SymbolCodec.*_frame`` method) and
        hand it to the members of its route."""
        key = channel.keys[data_type]
        members = self._routes.get(key)
        if members:
            sequence = wire_sequence(channel.counts[data_type])
            self._outlet.deliver(members, key, frame(event, sequence, self._stamp(time_ns)), time_ns)

    def _publish_top(self, channel: Channel, data_type: DataType, time_ns: int) -> None:
        key = channel.keys[data_type]
        members = self._routes.get(key)
        if members:
            asks, bids = self._market.book(channel.symbol_id).top(_DEPTHS[data_type])
            sequence = wire_sequence(channel.counts[data_type])
            frame = channel.codec.book_frame(data_type, asks, bids, sequence, time_ns, self._stamp(time_ns))
            self._outlet.deliver(members, key, frame, time_ns)

    def _publish_orders(self, channel: Channel, orders: OrderStream, delta: BookDelta) -> None:
        """Carry a book change into the followed order book; its order changes are the ``book_l3`` update,
        numbered as the change's ``book`` message."""
        update = orders.book.apply(delta)
        key = channel.keys[_BOOK_L3]
        members = self._routes.get(key)
        if members:
            time_ns = delta.time_exchange_ns
            frame = orders.update_frame(update, wire_sequence(channel.counts[_BOOK]), self._stamp(time_ns))
            self._outlet.deliver(members, key, frame, time_ns)

    def _on_bar(self, bar: Bar) -> None:
        key = (DataType.OHLCV, ohlcv_topic(bar.symbol_id, bar.period_id))
        members = self._routes.get(key)
        if members:
            frame = self._channels[bar.symbol_id].codec.bar_frame(bar, wire_sequence(bar.sequence))
            self._outlet.deliver(members, key, frame, bar.time_ns)

    def _on_rate(self, rate: ExchangeRate) -> None:
        if self._retention is not None:
            self._retention.record_rate(rate)
        base, time_ns = rate.asset_id_base, rate.time_ns
        self._publish_rate(base, rate.asset_id_quote, "BASE_ALL_CROSSES_TO_REF", time_ns, rate.rate)
        for quote in self._crosses.quotes_of(base):
            cross = rate.rate / self._market.rate_usd(quote)
            self._publish_rate(base, quote, "BASE_AND_QUOTE_TO_REF", time_ns, cross)

    def _publish_rate(self, base: str, quote: str, rate_type: str, time_ns: int, rate: float) -> None:
        key = (DataType.EXRATE, exrate_topic(base, quote))
        members = self._routes.get(key)
        if members:
            payload = encode_exrate(base, quote, rate_type, time_ns, rate)
            self._outlet.deliver(members, key, text_frame(payload), time_ns)


class ReplayFeed:
    """Publishes a recording: each replayed message's bytes, verbatim, to the members of its route."""

    def __init__(self, source: ReplaySource, outlet: Outlet) -> None:
        self._source = source
        self._outlet = outlet

    @property
    def now_ns(self) -> int:
        """Virtual time up to which the recording has been published."""
        return self._source.now_ns

    def publish_until(self, until_ns: int) -> None:
        """Publish every recorded message up to ``until_ns`` (virtual), in file order."""
        # a replay needs no interest notes: recorded messages are never encoded or computed
        self._outlet.take_interest()
        routes = self._outlet.routes
        for message in self._source.advance(until_ns):
            members = routes.get(message.key)
            if members:
                self._outlet.deliver(members, message.key, text_frame(message.payload), message.time_ns)
