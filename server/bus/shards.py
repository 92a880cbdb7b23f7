"""Which simulator shard publishes a route: ``simulate --shard i/n`` runs the exchanges at index ``i``, ``i + n``,
... of the catalogue, and shard 0 also the exchange rates (every shard computes the same asset factors from the
seed, so any one of them could)."""

from __future__ import annotations

from coinapi_emulator.server.protocol.datatypes import DataType
from coinapi_emulator.server.protocol.routes import RouteKey, ohlcv_topic_parts
from coinapi_emulator.simulator.catalog import Catalog


class ShardMap:
    """Route -> shard over one catalogue split ``shards`` ways."""

    def __init__(self, catalog: Catalog, shards: int) -> None:
        self.shards = shards
        index = {exchange.exchange_id: i for i, exchange in enumerate(catalog.exchanges)}
        # the rule of ``simulator.catalog.shard_catalog``
        self._of_symbol = {symbol.symbol_id: index[symbol.exchange_id] % shards for symbol in catalog.symbols}

    def shard(self, key: RouteKey) -> int:
        """The shard that publishes ``key`` (0 for a route of no known symbol: exchange rates)."""
        data_type, topic = key
        return self.shard_of_symbol(ohlcv_topic_parts(topic)[0] if data_type is DataType.OHLCV else topic)

    def shard_of_symbol(self, symbol_id: str) -> int:
        """The shard that simulates ``symbol_id``'s exchange (0 for an unknown symbol, which it answers for)."""
        return self._of_symbol.get(symbol_id, 0)
