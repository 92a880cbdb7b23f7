"""The attack harness: each attack runs against the real server while the ``Watcher`` watches, then the server's
resident memory and open file descriptors must come back within bounds. Every attack adds a row to the results
table (``HARDENING_REPORT``, default ``build/hardening.md``) that docs/RELIABILITY.md quotes."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .watcher import Watcher, Window, p99

#: the good client's budget during an attack (issue 14): p99 lag under 250 ms, no sequence gap
MAX_P99_LAG_S = 0.250
#: after an attack: resident memory at most this much above what it was before, fds at most this many above
RSS_SLACK_BYTES = 48 << 20
FD_SLACK = 4
#: how long the server has to come back within bounds (an aborted socket takes CLOSE_TIMEOUT_S = 5 s)
SETTLE_S = 15.0
#: the good client's window covers at least this much from an attack's start, the aftermath included: a short
#: attack must still show messages, and their lag
MIN_WINDOW_S = 2.0


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (Linux ``/proc``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def open_fds(pid: int) -> int:
    """Open file descriptors of ``pid``."""
    return len(os.listdir(f"/proc/{pid}/fd"))


@dataclass
class Outcome:
    """One attack's row of the results table."""

    name: str
    window: Window
    peak_rss_bytes: int
    rss_before: int
    rss_after: int
    fds_before: int
    fds_after: int
    seconds: float

    def row(self) -> str:
        """A Markdown table row."""
        window = self.window
        return (
            f"| {self.name.replace('|', '/')} | {window.messages} | {p99(window.data_lags_s) * 1000:.0f} | "
            f"{p99(window.ping_lags_s) * 1000:.0f} | {len(window.gaps)} | {self.rss_before >> 20} -> "
            f"{self.peak_rss_bytes >> 20} -> {self.rss_after >> 20} | {self.fds_before} -> {self.fds_after} | "
            f"{self.seconds:.1f} |"
        )


TABLE_HEAD = (
    "| attack | messages seen | p99 data lag (ms) | p99 ping lag (ms) | gaps | RSS MiB before -> peak -> after "
    "| fds before -> after | s |\n|---|---|---|---|---|---|---|---|"
)


class Harness:
    """Runs attacks against the process ``pid`` while ``watcher`` watches, and keeps their outcomes."""

    def __init__(self, pid: int, watcher: Watcher, report: Path) -> None:
        self.pid = pid
        self.watcher = watcher
        self.report = report
        self.outcomes: list[Outcome] = []
        self._peak = 0

    def sample(self) -> None:
        """Note the resident memory now (attacks call it while they run, for the peak)."""
        self._peak = max(self._peak, rss_bytes(self.pid))

    @contextlib.contextmanager
    def attack(self, name: str) -> Iterator[None]:
        """Run the block as an attack: then check the watcher's window, memory and fds, and record the row."""
        rss_before, fds_before = rss_bytes(self.pid), open_fds(self.pid)
        self._peak = rss_before
        mark = self.watcher.mark()
        started = time.monotonic()
        yield
        self.sample()
        seconds = time.monotonic() - started
        time.sleep(max(0.0, MIN_WINDOW_S - seconds))
        window = self.watcher.since(mark)
        rss_after, fds_after = self._settle(rss_before, fds_before)
        outcome = Outcome(name, window, self._peak, rss_before, rss_after, fds_before, fds_after, seconds)
        self.outcomes.append(outcome)
        self._write()
        assert window.closed is None, f"{name}: the good client was closed: {window.closed}"
        assert window.messages > 0, f"{name}: the good client saw nothing"
        assert not window.gaps, f"{name}: sequence gaps {window.gaps[:5]}"
        assert window.p99_lag_s < MAX_P99_LAG_S, f"{name}: p99 lag {window.p99_lag_s * 1000:.0f} ms"
        assert rss_after <= rss_before + RSS_SLACK_BYTES, f"{name}: RSS {rss_before >> 20} -> {rss_after >> 20} MiB"
        assert fds_after <= fds_before + FD_SLACK, f"{name}: fds {fds_before} -> {fds_after}"

    def _settle(self, rss_before: int, fds_before: int) -> tuple[int, int]:
        deadline = time.monotonic() + SETTLE_S
        while True:
            rss, fds = rss_bytes(self.pid), open_fds(self.pid)
            within = rss <= rss_before + RSS_SLACK_BYTES and fds <= fds_before + FD_SLACK
            if within or time.monotonic() > deadline:
                return rss, fds
            time.sleep(0.2)

    def _write(self) -> None:
        self.report.parent.mkdir(parents=True, exist_ok=True)
        rows = "\n".join(outcome.row() for outcome in self.outcomes)
        self.report.write_text(f"{TABLE_HEAD}\n{rows}\n", encoding="utf-8")
