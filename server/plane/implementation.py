"""Which implementation of each hot part runs: the C speedups or their pure-Python twins, and the event loop.

A wheel built without a C compiler still works, at about half the speed, so the choice must be visible: the
start-up line, ``GET /`` and the ``coinapi_emulator_build_info`` metric all report what this module reads.
"""

from __future__ import annotations

import asyncio
from importlib.metadata import PackageNotFoundError, version
from typing import Final

from coinapi_emulator.server.plane.codec import ReferenceCodec, SymbolCodec
from coinapi_emulator.simulator import _native

DISTRIBUTION: Final = "coinapi-emulator"


def package_version() -> str:
    """The installed distribution's version; ``unknown`` when run from a source tree that was never installed."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


def implementations() -> dict[str, str]:
    """``c`` or ``python`` for the market simulator and the frame codec, and the running event loop's module
    (``uvloop`` or ``asyncio``; ``none`` outside a loop)."""
    return {
        "simulator": "python" if _native.speedups is None else "c",
        "codec": "python" if SymbolCodec is ReferenceCodec else "c",
        "loop": _loop_name(),
    }


def _loop_name() -> str:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return "none"
    return type(loop).__module__.partition(".")[0]
