"""Hub-only micro-benchmark: many subscribers with one route set, fake sinks, no sockets, no market.

    python -m bench.hubbench [--subscribers 100] [--routes 7000] [--messages 10000] [--ticks 20] [--join]
                             [--throttle-ms 0]

Attaches ``--subscribers`` subscribers to a ``server/fanout/hub.py`` ``Hub`` and gives them all the same frozenset of
``--routes`` trade and quote routes (what the gateway hands a fleet that sent one hello). A tick then delivers
``--messages`` pre-framed ~250-byte frames to routes drawn at random (seeded), as the feed does
(``hub.routes.get(key)`` then ``hub.deliver``), 2 virtual µs apart (a tick is 20 virtual ms, the feed's step),
and flushes once. ``--throttle-ms N`` gives every subscriber the hello's ``subscribe_update_limit_ms_quote: N``
(a throttled fleet). The sinks are always writable and do
nothing with the frames, or join them as ``RawSink`` does without compression (``--join``), so the figures are
the hub's own work. Prints one JSON object: ms per tick (median and min over ``--ticks``, split into deliver and
flush) and the time ``set_routes`` took for all subscribers.

To compare with another checkout of the hub, run its own copy of this file with its own interpreter
(``../other/.venv/bin/python -m bench.hubbench`` from ``../other``); the output names the hub module it measured.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from typing import Any


class NullSink:
    """Always writable; counts what it is handed (or joins it, like ``RawSink`` without deflate)."""

    def __init__(self, join: bool) -> None:
        self.join = join
        self.frames = 0

    def send_frames(self, frames: list[bytes]) -> None:
        self.frames += len(frames)
        if self.join:
            b"".join(frames)

    def offer_shared(self, shared: Any) -> bool:
        """A group's frames (``server.frames.SharedFrames``; absent from hubs before groups)."""
        self.frames += len(shared.frames)
        if self.join:
            shared.joined()
        return True

    def writable(self) -> bool:
        return True

    def buffered(self) -> int:
        return 0

    def close(self, code: int, reason: str) -> None:
        pass


def run(
    subscribers: int, routes: int, messages: int, ticks: int, join: bool, seed: int, throttle_ms: int = 0
) -> dict[str, Any]:
    from coinapi_emulator.server.fanout import hub as hub_module
    from coinapi_emulator.server.fanout.hub import Hub
    from coinapi_emulator.server.protocol.datatypes import DataType
    from coinapi_emulator.server.transport.frames import text_frame

    keys = [
        (data_type, f"BENCH_SPOT_{i:05d}_USD")
        for i in range(routes // 2)
        for data_type in (DataType.TRADE, DataType.QUOTE)
    ]
    route_set = frozenset(keys)
    hub = Hub(max_messages=1 << 30, max_bytes=1 << 40, clock=time.monotonic)
    sinks = [NullSink(join) for _ in range(subscribers)]
    t0 = time.perf_counter()
    for sink in sinks:
        throttles_ms = {DataType.QUOTE: throttle_ms} if throttle_ms else {}
        hub.set_routes(hub.attach(sink, "bench"), route_set, throttles_ms=throttles_ms, heartbeat=False)
    subscribe_s = time.perf_counter() - t0
    rng = random.Random(seed)
    padding = b"x" * 200
    tick = [
        (key, text_frame(b'{"type":"%s","symbol_id":"%s",%s}' % (key[0].value.encode(), key[1].encode(), padding)))
        for key in rng.choices(keys, k=messages)
    ]
    deliver_ms, flush_ms = [], []
    time_ns = 0
    for _ in range(ticks):
        t0 = time.perf_counter()
        for key, frame in tick:
            time_ns += 2_000
            members = hub.routes.get(key)
            if members:
                hub.deliver(members, key, frame, time_ns)
        t1 = time.perf_counter()
        hub.flush()
        t2 = time.perf_counter()
        deliver_ms.append((t1 - t0) * 1e3)
        flush_ms.append((t2 - t1) * 1e3)
    received = {sink.frames for sink in sinks}
    assert len(received) == 1, "every subscriber gets the same frames"
    assert throttle_ms or received == {messages * ticks}, "unthrottled, every subscriber gets every frame"
    total_ms = [d + f for d, f in zip(deliver_ms, flush_ms, strict=True)]
    return {
        "hub": hub_module.__file__,
        "subscribers": subscribers,
        "routes": len(route_set),
        "messages_per_tick": messages,
        "sink_joins": join,
        "throttle_ms": throttle_ms,
        "frames_per_subscriber_per_tick": received.pop() / ticks,
        "tick_ms_median": round(statistics.median(total_ms), 2),
        "tick_ms_min": round(min(total_ms), 2),
        "deliver_ms_median": round(statistics.median(deliver_ms), 2),
        "flush_ms_median": round(statistics.median(flush_ms), 2),
        "set_routes_all_ms": round(subscribe_s * 1e3, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=100)
    parser.add_argument("--routes", type=int, default=7000)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--ticks", type=int, default=20)
    parser.add_argument("--join", action="store_true", help="sinks join the frames, as RawSink does")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--throttle-ms", type=int, default=0, help="every subscriber's quote update limit")
    args = parser.parse_args()
    call = (args.subscribers, args.routes, args.messages, args.ticks, args.join, args.seed, args.throttle_ms)
    print(json.dumps(run(*call)))


if __name__ == "__main__":
    main()
