"""The asset log-USD paths of the market history before the start (``history.py``), at minute resolution.

Each asset's path is written as its offset from the asset's rate at the start (0 at ``start_ns``). Going backward
hour by hour (epoch-aligned hours; the one that holds the start ends at the start), each hour's increment is
N(0, sigma^2 * dt) with sigma the asset's annual volatility, split as in ``price.py`` into a common crypto factor
(one draw per hour for every asset) and the asset's own part with its ``market_correlation``. (Those hourly draws
come a day at a time, from one generator per (asset or common factor, epoch day).) Within an hour, the minute
points are Brownian bridges pinned to the hour's ends (common and own bridges, combined the same way). USD is
constant; fiat and stablecoins move with their small volatility. Unlike live prices, history has no volatility
clustering, jumps or stablecoin peg pull: plain Brownian motion.

Every number is a function of (seed, ids, hour): the same path comes out whatever the order of the requests.
Pure: no wall clock, no I/O; every draw comes from a ``random.Random`` seeded by ``stable_seed``.
"""

from __future__ import annotations

import functools
import math
import random
from array import array
from dataclasses import dataclass
from itertools import accumulate, pairwise
from operator import mul

from coinapi_emulator.simulator.catalog import Asset, Catalog
from coinapi_emulator.simulator.rng import stable_seed

MINUTE_NS = 60_000_000_000
HOUR_NS = 60 * MINUTE_NS
_YEAR_S = 365.0 * 86_400.0
#: The variance of a log price over one minute, per unit of annual variance.
MINUTE_VARIANCE = 60.0 / _YEAR_S
#: Cache bound, in hours: minute paths of an asset or of the common factor (~0.5 KB each).
_PATH_CACHE = 4096

_log, _sqrt, _cos, _sin = math.log, math.sqrt, math.cos, math.sin
_TAU = math.tau


class _AssetPath:
    """One asset's hourly knots, drawn backward from the start: ``ends[k]`` is the offset at the end of hour
    ``last_hour - k``, ``own[k]`` that hour's own (non-common) N(0, 1) draw (``own`` may run ahead of ``ends``)."""

    __slots__ = ("asset_id", "ends", "idio", "own", "rho", "sigma")

    def __init__(self, asset: Asset) -> None:
        self.asset_id = asset.asset_id
        self.sigma = asset.volatility
        self.rho = asset.market_correlation
        self.idio = math.sqrt(1.0 - self.rho**2)
        self.ends = [0.0]
        self.own: list[float] = []


@dataclass(frozen=True, slots=True)
class _Grid:
    """The points of an hour (or of the part of it before the start): each minute boundary, and its end."""

    #: the points as fractions of the hour's length, 0 first and 1 last
    fractions: list[float]
    #: square roots of the gaps between consecutive fractions
    steps: list[float]

    @staticmethod
    def of(length_ns: int) -> _Grid:
        """The grid of an hour that lasts ``length_ns`` (up to ``HOUR_NS``)."""
        fractions = [i * MINUTE_NS / length_ns for i in range(length_ns // MINUTE_NS + 1)]
        if length_ns % MINUTE_NS:
            fractions.append(1.0)
        return _Grid(fractions, [math.sqrt(b - a) for a, b in pairwise(fractions)])


_FULL_HOUR = _Grid.of(HOUR_NS)


class AssetPaths:
    """The log-USD offsets of the catalogue's assets before ``start_ns``, generated on demand a few hours at a time.

    ``minutes(asset_id, hour)`` is the only query; the ids it gets must be the catalogue's (its callers check).
    """

    def __init__(self, catalog: Catalog, *, seed: int, start_ns: int) -> None:
        self._catalog, self._seed, self._start = catalog, seed, start_ns
        self._last_hour = (start_ns - 1) // HOUR_NS
        self._last_grid = _Grid.of(start_ns - self._last_hour * HOUR_NS)
        self._common: list[float] = []
        self._paths: dict[str, _AssetPath] = {}
        # bounded caches of what costs: per instance, so that the paths and their caches go together
        cache = functools.lru_cache
        self._common_bridge = cache(_PATH_CACHE)(self._build_common_bridge)
        self._minutes = cache(_PATH_CACHE)(self._build_minutes)
        self._built_hours = 0

    def minutes(self, asset_id: str, hour: int) -> array[float]:
        """The asset's offsets at each minute boundary of epoch hour ``hour`` and at its end (the start, for the
        hour that holds it): 61 points for a whole hour; all zero for a constant asset. Cached."""
        return self._minutes(asset_id, hour)

    @property
    def assets(self) -> frozenset[str]:
        """The assets whose hourly path was drawn (constant assets never are)."""
        return frozenset(self._paths)

    @property
    def built_hours(self) -> int:
        """The (asset, hour) minute paths built so far, counting rebuilds after eviction."""
        return self._built_hours

    def _path(self, asset_id: str, hour: int) -> _AssetPath:
        """The asset's path with its knots drawn back to the start of ``hour``."""
        path = self._paths.get(asset_id)
        if path is None:
            asset = self._catalog.asset(asset_id)
            assert asset is not None  # ids are checked by the callers
            path = self._paths[asset_id] = _AssetPath(asset)
        own = self._draws(path.own, hour, "history", asset_id)
        common = self._draws(self._common, hour, "history-common")
        ends = path.ends
        while len(ends) <= self._last_hour - hour + 1:
            k = len(ends) - 1
            step = path.rho * common[k] + path.idio * own[k]
            ends.append(ends[-1] - path.sigma * _sqrt(self._hour_years(self._last_hour - k)) * step)
        return path

    def _draws(self, draws: list[float], hour: int, *parts: str) -> list[float]:
        """``draws``, where ``draws[k]`` is the N(0, 1) draw of hour ``last_hour - k``, extended back to ``hour``.

        They are drawn a whole epoch day at a time from the generator of (seed, parts, day): seeding a generator
        costs as much as a dozen draws.
        """
        while len(draws) <= self._last_hour - hour:
            h = self._last_hour - len(draws)
            rng = random.Random(stable_seed(self._seed, *parts, str(h // 24)))
            day = [rng.gauss(0.0, 1.0) for _ in range(24)]
            draws += day[h % 24 :: -1]
        return draws

    def _hour_years(self, hour: int) -> float:
        return (min(HOUR_NS, self._start - hour * HOUR_NS) / 1e9) / _YEAR_S

    def _grid(self, hour: int) -> _Grid:
        """Where the hour's points lie: each minute boundary, and its end (the start, for the last hour)."""
        return self._last_grid if hour == self._last_hour else _FULL_HOUR

    def _build_minutes(self, asset_id: str, hour: int) -> array[float]:
        """The asset's offsets at the hour's points (``_grid``); all zero for a constant asset."""
        grid = self._grid(hour)
        asset = self._catalog.asset(asset_id)
        if asset is None or asset.volatility == 0.0:
            return array("d", bytes(8 * len(grid.fractions)))
        path = self._path(asset_id, hour)
        self._built_hours += 1
        k = self._last_hour - hour
        seed = stable_seed(self._seed, "history-bridge", asset_id, str(hour))
        own = _bridge(random.Random(seed), grid, path.own[k])
        begin, end, scale = path.ends[k + 1], path.ends[k], path.sigma * _sqrt(self._hour_years(hour))
        if path.rho:
            common = self._common_bridge(hour)
            points = [begin + scale * (path.rho * c + path.idio * o) for c, o in zip(common, own, strict=True)]
        else:
            points = [begin + scale * o for o in own]
        points[-1] = end  # exactly the knot, so that adjacent hours meet
        return array("d", points)

    def _build_common_bridge(self, hour: int) -> array[float]:
        rng = random.Random(stable_seed(self._seed, "history-common-bridge", str(hour)))
        end = self._draws(self._common, hour, "history-common")[self._last_hour - hour]
        return array("d", _bridge(rng, self._grid(hour), end))


def pair_variance(base: Asset, quote: Asset) -> float:
    """Annual variance of log(base / quote): the two share the common factor through their correlations."""
    cov = base.volatility * quote.volatility * base.market_correlation * quote.market_correlation
    return max(0.0, base.volatility**2 + quote.volatility**2 - 2.0 * cov)


def _bridge(rng: random.Random, grid: _Grid, end: float) -> list[float]:
    """A standard Brownian bridge from 0 to ``end`` at the grid's points."""
    rand, steps, fractions = rng.random, grid.steps, grid.fractions
    # normals in pairs (Box-Muller), in list comprehensions: a few times cheaper than a gauss() per point
    polar = [(_sqrt(-2.0 * _log(1.0 - rand())), _TAU * rand()) for _ in range((len(steps) + 1) // 2)]
    normals = [r * _cos(a) for r, a in polar] + [r * _sin(a) for r, a in polar]
    walk = list(accumulate(map(mul, steps, normals), initial=0.0))
    shift = end - walk[-1]
    return [w + u * shift for w, u in zip(walk, fractions, strict=True)]
