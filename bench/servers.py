"""The servers a run compares: the emulator and the baselines B0/B1/B2, and how each is started per phase.

Modes:
  max      publish as fast as possible      emulator --speed max, trades + quotes   baselines --rate 0
  rate     ~R messages/s                    emulator --speed 1 --rate-scale S (calibrated), trades + quotes
                                            baselines --rate R, trades
  idle     subscribed but nearly silent     emulator --speed 0.001 + a hello whose filter matches nothing
                                            baselines --rate 1
  deflate  trade + book at wall-clock speed emulator --speed 1 --compression auto   B0 --rate 2000
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

BASELINES = Path(__file__).with_name("baselines")

TRADE_HELLO = '{"type":"hello","apikey":"bench","heartbeat":false,"subscribe_data_type":["trade"]}'
#: throughput and latency: every trade and quote of the market (the small, per-event updates a bot listens to,
#: about half of the events it makes when nobody wants candles). With trades alone (~6% of its events) both
#: figures measure mostly the simulator: the latency phase would have to simulate ~30x the default market to
#: publish 10k msgs/s in real time, and at --speed max 94% of the market's work would reach nobody.
UPDATES_HELLO = '{"type":"hello","apikey":"bench","heartbeat":false,"subscribe_data_type":["trade","quote"]}'
#: ``--emulator-hello``: what an emulator's clients ask for in the throughput and latency phases; "trades" is the
#: reference load kit's default workload (every trade of every symbol), which the baselines always publish
EMULATOR_HELLOS = {"updates": UPDATES_HELLO, "trades": TRADE_HELLO}
#: a valid hello that routes nothing: the connection is subscribed but idle (RSS phase)
IDLE_HELLO = (
    '{"type":"hello","apikey":"bench","heartbeat":false,"subscribe_data_type":["trade"],'
    '"subscribe_filter_symbol_id":["BENCH_NO_SUCH_SYMBOL$"]}'
)
#: trade + full book on the three biggest real venues (book needs a filter, PROTOCOL.md 2.3)
DEFLATE_HELLO = (
    '{"type":"hello","apikey":"bench","heartbeat":false,"subscribe_data_type":["trade","book"],'
    '"subscribe_filter_exchange_id":["BINANCE","KRAKEN","COINBASE"]}'
)

BASELINE_SCRIPTS = {
    "B0": ("b0_starlette.py", "starlette+uvicorn, await ws.send_text per message per client"),
    "B1": ("b1_picows.py", "picows, transport.send per message per client"),
    "B2": ("b2_picows_coalesce.py", "picows, tick pre-framed once, one write per client per tick"),
}


@dataclass
class Emulator:
    exe: list[str]
    seed: int = 0
    extra: list[str] = field(default_factory=list)
    name: str = "emulator"
    about: str = "coinapi-emulator serve"
    #: the hello of the throughput and latency phases (``EMULATOR_HELLOS``)
    data_hello: str = UPDATES_HELLO
    _help: str | None = field(default=None, repr=False)

    def argv(self, port: int, mode: str, *, rate_scale: float = 1.0) -> list[str]:
        argv = [
            *self.exe,
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--seed",
            str(self.seed),
            "--log-level",
            "warning",
        ]
        if mode == "max":
            argv += ["--speed", "max"]
        elif mode == "rate":
            argv += ["--speed", "1", "--rate-scale", f"{rate_scale:.6g}"]
        elif mode == "idle":
            # the market barely moves, so RSS does not drift while the connections are counted
            argv += ["--speed", "0.001"]
        elif mode == "deflate":
            argv += ["--speed", "1", "--compression", "auto"]
        else:
            raise ValueError(mode)
        if self.supports("--shutdown-grace"):
            argv += ["--shutdown-grace", "0"]  # no reconnect-notice pause when the harness stops it
        return argv + self.extra

    def hello(self, mode: str) -> str:
        return {"idle": IDLE_HELLO, "deflate": DEFLATE_HELLO}.get(mode, self.data_hello)

    def path(self) -> str:
        return "/v1/"

    def supports(self, flag: str) -> bool:
        """Whether ``serve --help`` lists ``flag`` (features that land later, e.g. --compression)."""
        if self._help is None:
            try:
                out = subprocess.run([*self.exe, "serve", "--help"], capture_output=True, text=True, timeout=60)
                self._help = out.stdout
            except (OSError, subprocess.TimeoutExpired):
                self._help = ""
        return flag in self._help


@dataclass
class Baseline:
    name: str
    python: str = sys.executable

    @property
    def about(self) -> str:
        return BASELINE_SCRIPTS[self.name][1]

    def argv(self, port: int, mode: str, *, rate: float = 0.0) -> list[str]:
        script = str(BASELINES / BASELINE_SCRIPTS[self.name][0])
        rate = {"max": 0.0, "idle": 1.0, "deflate": 2000.0}.get(mode, rate)
        return [self.python, script, "--port", str(port), "--rate", f"{rate:g}"]

    def hello(self, mode: str) -> str:
        return TRADE_HELLO

    def path(self) -> str:
        return "/v1/"

    def supports(self, flag: str) -> bool:
        return False


def emulator_exe(override: str | None) -> list[str]:
    if override:
        return shlex.split(override)
    script = Path(sys.executable).with_name("coinapi-emulator")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "coinapi_emulator.server.cli"]
