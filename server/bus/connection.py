"""Opening a NATS connection the way both sides of the bus need it: retried until the server answers, then
reconnecting on its own for as long as the process lives, with each event logged once."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import nats
from nats.aio.client import Client

logger = logging.getLogger(__name__)

#: between two attempts to reach a NATS server that is not up yet (a compose stack starts in any order)
_RETRY_S = 0.5


async def disconnect(client: Client | None, tasks: Sequence[asyncio.Task[None]]) -> None:
    """Cancel a bus side's ``tasks``, then close its connection."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    if client is not None:
        await client.close()


class BusUnreachable(Exception):
    """No NATS server answered at the bus URL within the wait."""


async def connect(
    url: str,
    *,
    name: str,
    wait_s: float,
    on_reconnected: Callable[[], Awaitable[None]] | None = None,
    on_disconnected: Callable[[], Awaitable[None]] | None = None,
) -> Client:
    """A connection to the NATS server at ``url``, tried for ``wait_s`` seconds (``BusUnreachable`` after); once
    connected it reconnects by itself, for good."""

    async def reconnected() -> None:
        logger.info("bus: reconnected to %s", client.connected_url.netloc if client.connected_url else url)
        if on_reconnected is not None:
            await on_reconnected()

    async def disconnected() -> None:
        if client.is_closed:  # closed on purpose (a gateway's first question, or a shutdown)
            return
        logger.warning("bus: disconnected from %s, reconnecting", url)
        if on_disconnected is not None:
            await on_disconnected()

    connected = False

    async def error(exception: Exception) -> None:
        # before the first connection nats-py retries by itself: one line at the end says why it gave up
        logger.log(logging.WARNING if connected else logging.DEBUG, "bus: %s", exception)

    try:
        client = await asyncio.wait_for(
            nats.connect(
                # a cluster: several seed URLs, comma-separated (the client also learns the others from the server)
                [server.strip() for server in url.split(",")],
                name=name,
                max_reconnect_attempts=-1,
                reconnect_time_wait=_RETRY_S,
                connect_timeout=2,
                allow_reconnect=True,
                reconnected_cb=reconnected,
                disconnected_cb=disconnected,
                error_cb=error,
            ),
            timeout=max(wait_s, _RETRY_S),
        )
    except (OSError, nats.errors.NoServersError, TimeoutError) as exception:
        raise BusUnreachable(f"no NATS server at {url} after {wait_s:g} s ({str(exception) or 'timed out'})") from None
    connected = True
    logger.info("bus: connected to %s as %s", url, name)
    return client
