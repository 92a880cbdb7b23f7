"""Cross rates: ``exrate`` pairs whose quote is not the reference asset, computed when someone wants them.

The market simulates each asset's rate to USD; a rate such as ``BTC/EUR`` is ``BTC/USD`` over ``EUR/USD``
(PROTOCOL.md §3.7, rate type ``BASE_AND_QUOTE_TO_REF``). Only wanted pairs are computed: the feed tells this
table which ``exrate`` routes gained or lost their subscribers.
"""

from __future__ import annotations

from coinapi_emulator.server.protocol.routes import EXRATE_REFERENCE_ASSET, exrate_topic_parts


class CrossRates:
    """The wanted cross-rate pairs, by base asset."""

    __slots__ = ("_quotes_by_base",)

    def __init__(self) -> None:
        self._quotes_by_base: dict[str, set[str]] = {}

    def want(self, topic: str, wanted: bool) -> None:
        """Start or stop computing the pair of an ``exrate`` topic (``BASE/QUOTE``); USD pairs are simulated."""
        base, quote = exrate_topic_parts(topic)
        if quote == EXRATE_REFERENCE_ASSET:
            return
        if wanted:
            self._quotes_by_base.setdefault(base, set()).add(quote)
            return
        quotes = self._quotes_by_base.get(base)
        if quotes is not None:
            quotes.discard(quote)
            if not quotes:
                del self._quotes_by_base[base]

    def quotes_of(self, base: str) -> list[str]:
        """The wanted quote assets of ``base`` besides USD, sorted so that the stream's order is reproducible."""
        quotes = self._quotes_by_base.get(base)
        return sorted(quotes) if quotes else []
