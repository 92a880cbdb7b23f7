"""The synthetic market: instruments, price/book/trade models, virtual time.

Pure and deterministic: nothing here reads the wall clock, global random state, or imports ``server``.
The same seed and configuration always give the same events, byte for byte.
"""

from __future__ import annotations
