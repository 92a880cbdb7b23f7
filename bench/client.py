"""The C load client: compiled on demand into <venv>/bench-bin/, run pinned to the client CPU."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .procs import LIVE, kill_group, pinned

SOURCE = Path(__file__).with_name("wsload.c")


def bin_dir() -> Path:
    """<venv>/bench-bin when running in a virtualenv (the Makefile's .venv), else a user cache dir."""
    if sys.prefix != sys.base_prefix:
        return Path(sys.prefix) / "bench-bin"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "coinapi-emulator-bench"


def _has_zlib(cc: str) -> bool:
    probe = subprocess.run([cc, "-E", "-x", "c", "-"], input=b"#include <zlib.h>\n", capture_output=True)
    return probe.returncode == 0


def build() -> tuple[Path, bool]:
    """Compile wsload.c if its content changed since the last build; return (binary, built with zlib)."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    out_dir = bin_dir()
    digest = hashlib.sha1(SOURCE.read_bytes()).hexdigest()[:12]
    for zlib in (True, False):
        exe = out_dir / f"wsload-{digest}{'-z' if zlib else ''}"
        if exe.exists():
            return exe, zlib
    if cc is None:
        sys.exit(
            "bench: no C compiler found (`cc`); the load client is compiled at bench time.\n"
            "       Install one, e.g. `apt-get install gcc` (Debian/Ubuntu), or set CC."
        )
    zlib = _has_zlib(cc)
    exe = out_dir / f"wsload-{digest}{'-z' if zlib else ''}"
    out_dir.mkdir(parents=True, exist_ok=True)
    cmd = [cc, "-O2", "-o", str(exe) + ".tmp", str(SOURCE)]
    if zlib:
        cmd[1:1] = ["-DHAVE_ZLIB"]
        cmd.append("-lz")
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"bench: compiling the load client failed:\n$ {' '.join(cmd)}\n{result.stderr}")
    os.replace(str(exe) + ".tmp", exe)
    for old in out_dir.glob("wsload-*"):  # builds of older sources
        if old != exe:
            old.unlink(missing_ok=True)
    if not zlib:
        print(
            "bench: zlib.h not found: wsload built without inflate (deflate phase counts compressed bytes only;"
            " `apt-get install zlib1g-dev` to enable)",
            file=sys.stderr,
        )
    return exe, zlib


@dataclass
class Load:
    """One wsload invocation."""

    url: str
    hello: str
    conns: int = 1
    warmup_s: float = 2.0
    seconds: float = 10.0
    latency_field: str | None = None
    sequences: bool = False
    deflate: bool = False
    extra: list[str] = field(default_factory=list)

    def argv(self, exe: Path) -> list[str]:
        argv = [
            str(exe),
            "-c",
            str(self.conns),
            "-w",
            f"{self.warmup_s:g}",
            "-d",
            f"{self.seconds:g}",
            "-m",
            self.hello,
        ]
        if self.latency_field:
            argv += ["-t", self.latency_field]
        if self.sequences:
            argv.append("-s")
        if self.deflate:
            argv.append("-z")
        return [*argv, *self.extra, self.url]


class Client:
    """Runs wsload pinned to ``cpu``; each run returns wsload's JSON with ``stderr`` added."""

    def __init__(self, exe: Path, cpu: str) -> None:
        self.exe, self.cpu = exe, cpu

    def run(self, load: Load) -> dict[str, Any]:
        with tempfile.TemporaryFile() as err:
            proc = subprocess.Popen(
                pinned(self.cpu, load.argv(self.exe)),
                stdout=subprocess.PIPE,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
            LIVE.add(proc.pid)
            try:
                out, _ = proc.communicate(timeout=load.warmup_s + load.seconds + 90)
            finally:
                kill_group(proc.pid, grace_s=1.0)
            err.seek(0)
            stderr = err.read().decode(errors="replace")
        return _parse(proc.returncode, out, stderr)

    def start(self, load: Load) -> RunningLoad:
        """Start wsload and return once its connect phase is over (the "ready" line on stderr)."""
        return RunningLoad(self, load)


class RunningLoad:
    def __init__(self, client: Client, load: Load) -> None:
        self.proc = subprocess.Popen(
            pinned(client.cpu, load.argv(client.exe)),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        LIVE.add(self.proc.pid)
        self.load = load
        self.stderr_lines: list[str] = []
        deadline = time.monotonic() + 120
        assert self.proc.stderr is not None
        for raw in self.proc.stderr:  # blocks line by line until "ready"
            line = raw.decode(errors="replace")
            self.stderr_lines.append(line)
            if line.startswith("ready") or time.monotonic() > deadline:
                break

    def ready_line(self) -> str:
        return next((line.strip() for line in self.stderr_lines if line.startswith("ready")), "")

    def finish(self) -> dict[str, Any]:
        try:
            out, err = self.proc.communicate(timeout=self.load.warmup_s + self.load.seconds + 90)
        finally:
            kill_group(self.proc.pid, grace_s=1.0)
        return _parse(self.proc.returncode, out, "".join(self.stderr_lines) + err.decode(errors="replace"))


def _parse(returncode: int | None, out: bytes, stderr: str) -> dict[str, Any]:
    text = out.decode(errors="replace").strip()
    if returncode != 0 or not text:
        raise RuntimeError(f"wsload failed (exit {returncode}): {stderr[-1500:]}")
    result: dict[str, Any] = json.loads(text.splitlines()[-1])
    notes = [line for line in stderr.splitlines() if line and not line.startswith("ready")]
    if notes:
        result["stderr"] = notes[:10]
    return result
