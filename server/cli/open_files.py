"""The open-files limit a server needs: one descriptor per WebSocket connection, and a few of its own.

Many systems start a process with a soft limit of 1,024 open files (a hard limit far above it): a server left at
that refuses connections past about a thousand, the kernel's ``EMFILE`` in its log and nothing in the client's
(asyncio stops accepting for a second at a time). Like Go's runtime (so nats-server) and nginx's
``worker_rlimit_nofile``, a server raises its own soft limit, here as far as ``--max-connections`` needs and the
hard limit allows, and says so when the hard limit is too low (``ulimit -Hn``, compose's ``ulimits: nofile``).
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Final

logger = logging.getLogger(__name__)

#: descriptors a server holds besides its connections: the listening sockets, the event loop's, log files, a bus
SPARE_DESCRIPTORS: Final = 64


@dataclass(frozen=True, slots=True)
class OpenFilesLimit:
    """A soft limit on open files: the one the process started with, the one it set, and the hard one."""

    before: int
    after: int
    hard: int

    @property
    def connections(self) -> int:
        """The WebSocket connections the soft limit leaves room for."""
        return max(0, self.after - SPARE_DESCRIPTORS)


def wanted_soft_limit(soft: int, hard: int, max_connections: int) -> int:
    """The soft limit for ``max_connections``: never lower than ``soft``, never above ``hard`` (-1: unlimited)."""
    wanted = max(soft, max_connections + SPARE_DESCRIPTORS)
    return wanted if hard < 0 else min(wanted, hard)


def raise_open_files_limit(max_connections: int) -> OpenFilesLimit | None:
    """Raise this process's soft limit on open files for ``max_connections``; None where the platform has none."""
    if sys.platform == "win32":
        return None
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    hard_or_unlimited = -1 if hard == resource.RLIM_INFINITY else hard
    wanted = wanted_soft_limit(soft, hard_or_unlimited, max_connections)
    if wanted > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError):  # macOS refuses more than its kern.maxfilesperproc under an unlimited hard one
            wanted = soft
    return OpenFilesLimit(before=soft, after=wanted, hard=hard_or_unlimited)


def log_open_files_limit(limit: OpenFilesLimit | None, max_connections: int) -> None:
    """Say what was raised, and warn when the limit leaves fewer connections than ``--max-connections``."""
    if limit is None:
        return
    if limit.after > limit.before:
        logger.info(
            "open files limit raised from %d to %d for --max-connections %d",
            *(limit.before, limit.after),
            max_connections,
        )
    if limit.connections < max_connections:
        logger.warning(
            "the open files limit (%d, hard limit %s) leaves room for about %d connections, fewer than"
            " --max-connections %d: the system refuses the others; raise the hard limit (ulimit -Hn, compose's"
            " `ulimits: nofile`)",
            limit.after,
            "unlimited" if limit.hard < 0 else limit.hard,
            limit.connections,
            max_connections,
        )
