"""Seeded random generators for the simulator: one per entity, derived from a stable hash.

Every random draw in ``simulator/`` comes from a ``random.Random`` returned here. Each generator is seeded from
``blake2b(seed, *parts)`` (never ``hash()``, which is salted per process), so one entity's stream depends only on
the global seed and its own id: adding or removing a symbol never changes another symbol's events.
"""

from __future__ import annotations

import hashlib
import math
import random


def stable_seed(seed: int, *parts: str) -> int:
    """A 64-bit integer derived from ``seed`` and ``parts``; identical across processes, platforms and runs.

    Parts are length-prefixed so that ``("ab", "c")`` and ``("a", "bc")`` give different seeds.
    """
    h = hashlib.blake2b(digest_size=8, person=b"coinapi-emu")
    h.update(str(seed).encode())
    for part in parts:
        raw = part.encode()
        h.update(len(raw).to_bytes(4, "big"))
        h.update(raw)
    return int.from_bytes(h.digest(), "big")


def symbol_rng(seed: int, symbol_id: str) -> random.Random:
    """The generator for everything one symbol does: arrivals, sizes, sides, book changes, basis, uuids."""
    return random.Random(stable_seed(seed, "symbol", symbol_id))


def asset_rng(seed: int, asset_id: str) -> random.Random:
    """The generator for one asset's USD price factor (shared by every exchange that lists the asset)."""
    return random.Random(stable_seed(seed, "asset", asset_id))


def catalog_rng(seed: int, *parts: str) -> random.Random:
    """A generator for one catalogue decision (e.g. the symbol list of one exchange), so decisions stay independent."""
    return random.Random(stable_seed(seed, "catalog", *parts))


def geometric_wait(rng: random.Random, probability: float) -> int:
    """Trials until the first success at a per-trial ``probability`` (0 < p < 1), at least 1: one draw per event
    instead of one per trial, for events as rare as co-jumps and stress episodes."""
    return math.floor(math.log(1.0 - rng.random()) / math.log(1.0 - probability)) + 1


def uuid4_string(bits: int) -> str:
    """A lower-case RFC 4122 version-4 UUID string from 128 random bits (trade uuids, order ids)."""
    bits = (bits & ~(0xF << 76) | (0x4 << 76)) & ~(0x3 << 62) | (0x2 << 62)
    h = f"{bits:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
