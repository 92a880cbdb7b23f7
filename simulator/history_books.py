"""The order books behind the history's quotes (``history_ticks.py``): a snapshot after each touch change.

A history quote fixes the touch: the best ask and bid and their sizes. The levels behind it keep the shape the
symbol's live book opens with (each level's distance from the best price, in ticks, and its size), moving with
the touch: a book that drifts as one piece. Their sizes vary from minute to minute (lognormal, drawn per minute
and level), and hold still within a minute, where only the touch changes, as the quotes do between trades.

So every snapshot's best levels are its quote, no side crosses or holds a level twice, prices stay on the tick
grid and above zero, and a symbol's book at the start of the live market has the live book's shape. What it is
not: a book whose deep levels stay put while the touch moves through them, or that thins before a move.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from coinapi_emulator.simulator.events import Level, Quote

#: Spread of a deep level's size around the opening book's, minute to minute: lognormal with this sigma.
DEPTH_SIZE_SIGMA = 0.35


#: a book's best levels, (asks ascending, bids descending)
BookSides = tuple[tuple[Level, ...], tuple[Level, ...]]
#: the sizes of a book's levels behind its touch for one minute, (asks, bids), best first
DepthSizes = tuple[tuple[int, ...], tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class Depth:
    """A book's shape behind its touch: per side, each deeper level's distance from the best price (ticks, growing)
    and its size (lots), best first."""

    ask_offsets: tuple[int, ...]
    ask_sizes: tuple[int, ...]
    bid_offsets: tuple[int, ...]
    bid_sizes: tuple[int, ...]

    @classmethod
    def of(cls, asks: Sequence[Level], bids: Sequence[Level]) -> Depth:
        """The shape of a book whose best levels are ``asks`` and ``bids`` (best first, each side non-empty)."""
        best_ask, best_bid = asks[0].price_ticks, bids[0].price_ticks
        return cls(
            tuple(level.price_ticks - best_ask for level in asks[1:]),
            tuple(level.size_lots for level in asks[1:]),
            tuple(best_bid - level.price_ticks for level in bids[1:]),
            tuple(level.size_lots for level in bids[1:]),
        )

    def sizes_of_minute(self, rand: random.Random) -> DepthSizes:
        """The deeper levels' sizes for one minute, (asks, bids): each the opening book's times a lognormal factor,
        at least one lot."""
        lognormal = rand.lognormvariate
        asks = tuple(max(1, round(size * lognormal(0.0, DEPTH_SIZE_SIGMA))) for size in self.ask_sizes)
        bids = tuple(max(1, round(size * lognormal(0.0, DEPTH_SIZE_SIGMA))) for size in self.bid_sizes)
        return asks, bids


def book_at(quote: Quote, depth: Depth, sizes: DepthSizes, levels: int) -> BookSides:
    """The book after ``quote``: its touch, then ``depth``'s levels with ``sizes`` (``Depth.sizes_of_minute`` of the
    quote's minute), at most ``levels`` (at least 1) a side; bids at or below zero are left out."""
    ask, bid = quote.ask_price_ticks, quote.bid_price_ticks
    ask_sizes, bid_sizes = sizes
    deeper = levels - 1
    asks = (
        Level(ask, quote.ask_size_lots),
        *(Level(ask + offset, size) for offset, size in zip(depth.ask_offsets[:deeper], ask_sizes, strict=False)),
    )
    bids = (
        Level(bid, quote.bid_size_lots),
        *(
            Level(bid - offset, size)
            for offset, size in zip(depth.bid_offsets[:deeper], bid_sizes, strict=False)
            if bid - offset > 0
        ),
    )
    return asks, bids
