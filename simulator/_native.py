"""The C speedups (``simulator/csrc/``) when the install built them, else None: the one switch.

Every module that has a C twin reads ``_native.speedups`` when it builds its objects, so a test can run the
pure-Python reference by setting it to None.
"""

from __future__ import annotations

__all__ = ["speedups"]

try:
    from coinapi_emulator.simulator import _speedups as speedups
except ImportError:  # built without a C compiler: the pure-Python classes, which give the same events
    speedups = None  # type: ignore[assignment]
