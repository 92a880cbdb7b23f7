"""``python -m bench.hubbench`` runs against the hub as it is: its fake sinks follow the ``Sink`` protocol."""

from __future__ import annotations

from bench import hubbench


def test_the_hub_benchmark_delivers_every_frame_to_every_subscriber() -> None:
    result = hubbench.run(subscribers=3, routes=20, messages=50, ticks=2, join=True, seed=0)
    assert result["frames_per_subscriber_per_tick"] == 50
    assert result["tick_ms_median"] > 0
