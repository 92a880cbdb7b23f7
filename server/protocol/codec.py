"""The ``SymbolCodec`` the server encodes with: the C twin when it was built, else the reference in ``encode.py``.

This is the one place that chooses; both give the same bytes (tests/server/protocol/test_encode_speedups.py).
"""

from __future__ import annotations

try:  # server/protocol/_speedups.c: the same bytes, several times faster
    from ._speedups import SymbolCodec
except ImportError:  # built without a C compiler
    from .encode import SymbolCodec

__all__ = ["SymbolCodec"]
