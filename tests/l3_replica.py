"""What a client following ``book_l3`` keeps: every order by id, under CoinAPI's rules (PROTOCOL.md §3.5).

Strict on purpose: an entry a client could not apply (an unknown id, a size that goes negative, a match that
skips the front of its queue, a deletion of another size than the order's) fails the test that fed it. Numbers
are whatever the caller parses them into (``int`` lots, or ``Decimal`` tokens of a wire message).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, NamedTuple

SIDES = ("asks", "bids")


class Entry(NamedTuple):
    """One entry of a side of a ``book_l3`` message."""

    order_id: str
    price: Any
    size: Any
    update_type: str | None


class L3Replica:
    """Orders by side and id (insertion order is queue order within a price)."""

    def __init__(self) -> None:
        self.orders: dict[str, dict[str, list[Any]]] = {side: {} for side in SIDES}
        self.sequence: int | None = None

    def snapshot(self, sides: Mapping[str, Iterable[Entry]]) -> None:
        """Replace everything with a snapshot's orders."""
        self.orders = {side: {} for side in SIDES}
        for side in SIDES:
            for entry in sides[side]:
                assert entry.update_type is None, "snapshot entries carry no update_type"
                assert entry.order_id not in self.orders[side], f"order {entry.order_id} listed twice"
                assert entry.size > 0
                self.orders[side][entry.order_id] = [entry.price, entry.size]

    def update(self, sides: Mapping[str, Iterable[Entry]]) -> None:
        """Apply an update's entries, side by side, in order."""
        for side in SIDES:
            for entry in sides[side]:
                self._apply(self.orders[side], entry)

    def message(self, message: Mapping[str, Any]) -> None:
        """Apply a parsed wire message (numbers as ``Decimal``); sequences must follow on from the last one."""
        sequence = int(message["sequence"])
        sides = {side: [_entry(raw) for raw in message[side]] for side in SIDES}
        if message["is_snapshot"]:
            self.snapshot(sides)
        else:
            assert self.sequence is not None, "an update before any snapshot"
            assert sequence == self.sequence + 1, f"sequence {sequence} after {self.sequence}"
            self.update(sides)
        self.sequence = sequence

    def levels(self, side: str) -> dict[Any, Any]:
        """The side as L2: price -> the sum of its orders."""
        levels: dict[Any, Any] = {}
        for price, size in self.orders[side].values():
            levels[price] = levels.get(price, 0) + size
        return levels

    def queues(self, side: str) -> dict[Any, list[tuple[str, Any]]]:
        """The side's queues: price -> its orders ``(id, size)``, front first."""
        queues: dict[Any, list[tuple[str, Any]]] = {}
        for order_id, (price, size) in self.orders[side].items():
            queues.setdefault(price, []).append((order_id, size))
        return queues

    def _apply(self, orders: dict[str, list[Any]], entry: Entry) -> None:
        kind, order_id = entry.update_type, entry.order_id
        if kind == "ADD":
            assert order_id not in orders, f"ADD of a resting order {order_id}"
            assert entry.size > 0
            orders[order_id] = [entry.price, entry.size]
            return
        assert order_id in orders, f"{kind} of an unknown order {order_id}"
        order = orders[order_id]
        assert order[0] == entry.price, f"{kind} of {order_id} at another price"
        if kind == "UPDATE":
            assert entry.size > 0
            order[1] = entry.size
        elif kind in ("SUBTRACT", "MATCH"):
            if kind == "MATCH":
                front = next(oid for oid, (price, _) in orders.items() if price == entry.price)
                assert front == order_id, f"MATCH of {order_id} behind {front}"
            assert 0 < entry.size <= order[1], f"{kind} of {entry.size} from {order[1]}"
            order[1] -= entry.size
            if not order[1]:
                del orders[order_id]
        else:
            assert kind == "DELETE", f"unknown update_type {kind}"
            assert entry.size == order[1], f"DELETE of {order_id} says {entry.size}, it holds {order[1]}"
            del orders[order_id]


def _entry(raw: Mapping[str, Any]) -> Entry:
    assert set(raw) <= {"id", "price", "size", "update_type"}, raw
    return Entry(raw["id"], raw["price"], raw["size"], raw.get("update_type"))


def apply_book(levels: dict[str, dict[Any, Any]], message: Mapping[str, Any]) -> dict[str, dict[Any, Any]]:
    """An L2 ``book`` message applied to ``levels`` (side -> price -> size): a snapshot replaces them, size 0
    deletes; returns the levels after it."""
    if message["is_snapshot"]:
        levels = {side: {} for side in SIDES}
    for side in SIDES:
        for level in message[side]:
            if level["size"]:
                levels[side][level["price"]] = level["size"]
            else:
                levels[side].pop(level["price"], None)
    return levels


def parse(payload: bytes | str) -> dict[str, Any]:
    """A wire message with every number as an exact ``Decimal``."""
    return dict(json.loads(payload, parse_float=Decimal, parse_int=Decimal))
