"""A feed outlet that publishes into two: the plane's own hub and another outlet (the bus of ``simulate``).

The feed looks each event's route up once (``routes.get``); here that lookup asks both and hands the pair back to
``deliver``. A route is wanted while either side wants it, so the feed encodes it once for both.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Protocol

from coinapi_emulator.server.fanout.hub import Hub
from coinapi_emulator.server.protocol.routes import RouteKey


class FlushingOutlet(Protocol):
    """An outlet (``feed.Outlet``) that also sends what it was given once per pass."""

    @property
    def routes(self) -> Mapping[RouteKey, Any]:
        """Route -> its members, for the routes that have any."""

    def deliver(self, members: Any, key: RouteKey, frame: bytes, time_ns: int) -> None:
        """Queue one frame for the members of the route ``key``."""

    def take_interest(self) -> dict[RouteKey, bool]:
        """Routes that gained their first (True) or lost their last (False) member since the last call."""

    def flush(self) -> None:
        """Send what this pass queued."""

    def behind(self) -> bool:
        """A consumer is too far behind for more at ``--speed max`` (the driver waits for it)."""


class _BothRoutes(Mapping[RouteKey, tuple[Any, Any]]):
    """The members of a route on each side, or None when neither side has any."""

    def __init__(self, hub: Hub, other: FlushingOutlet) -> None:
        self._mine = hub.routes
        self._other = other.routes

    def get(self, key: RouteKey, default: Any = None) -> Any:
        mine, other = self._mine.get(key), self._other.get(key)
        return (mine, other) if mine or other else default

    def __getitem__(self, key: RouteKey) -> tuple[Any, Any]:
        both: tuple[Any, Any] | None = self.get(key)
        if both is None:
            raise KeyError(key)
        return both

    def __iter__(self) -> Iterator[RouteKey]:
        return iter(self._mine.keys() | self._other.keys())

    def __len__(self) -> int:
        return len(self._mine.keys() | self._other.keys())


class TeeOutlet:
    """Delivers every frame to the hub's members and to the other outlet's; flushes both once per pass."""

    def __init__(self, hub: Hub, other: FlushingOutlet) -> None:
        self._hub = hub
        self._other = other
        self.routes = _BothRoutes(hub, other)
        self._wanted_here: set[RouteKey] = set()
        self._wanted_there: set[RouteKey] = set()

    def deliver(self, members: tuple[Any, Any], key: RouteKey, frame: bytes, time_ns: int) -> None:
        """Queue one frame for the members of ``key`` on each side that has some."""
        mine, other = members
        if mine:
            self._hub.deliver(mine, key, frame, time_ns)
        if other:
            self._other.deliver(other, key, frame, time_ns)

    def take_interest(self) -> dict[RouteKey, bool]:
        """The routes whose wanted state (either side) may have changed, and that state."""
        changed = self._note(self._hub.take_interest(), self._wanted_here)
        changed |= self._note(self._other.take_interest(), self._wanted_there)
        return {key: key in self._wanted_here or key in self._wanted_there for key in changed}

    @staticmethod
    def _note(notes: dict[RouteKey, bool], wanted: set[RouteKey]) -> set[RouteKey]:
        for key, now in notes.items():
            if now:
                wanted.add(key)
            else:
                wanted.discard(key)
        return set(notes)

    def flush(self) -> None:
        """Write the hub's sockets, then send the other outlet's pass."""
        self._hub.flush()
        self._other.flush()

    def behind(self) -> bool:
        """The hub's clients or the other outlet's consumers are too far behind."""
        return self._hub.behind() or self._other.behind()
