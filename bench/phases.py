"""The measurements. Each phase appends raw wsload/simbench results to ``Bench.results``; report.py reduces them.

Layout of ``results`` (JSON-ready; client counts are string keys):
  throughput[server][N] = [wsload result per round]
  latency = {"calibration": {...}, "runs": {server: {N: [wsload result per round]}}}
  sim = [simbench result per round]
  rss[server] = {...}
  deflate[server] = {...}
A failed measurement is stored as {"error": "..."} in place of a result.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import restbench
from .client import Client, Load
from .procs import LIVE, Server, free_port, kill_group, pinned
from .servers import Baseline, Emulator

REPO = Path(__file__).resolve().parent.parent
AnyServer = Emulator | Baseline


@dataclass
class Settings:
    clients: list[int]
    seconds: float
    warmup_s: float
    lat_seconds: float
    lat_warmup_s: float
    lat_rate: float
    sim_seconds: float
    rss_conns: int
    rss_settle_s: float
    deflate_seconds: float
    server_cpu: str
    client_cpu: str
    start_timeout_s: float
    seed: int
    #: another checkout with its own .venv (``--compare``): its simulator benchmark runs beside this one's
    compare_dir: Path | None = None


def fmt_rate(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def say(text: str) -> None:
    print(text, flush=True)


class Bench:
    def __init__(self, settings: Settings, client: Client, servers: list[AnyServer], log_dir: Path) -> None:
        self.s = settings
        self.client = client
        self.servers = servers
        self.log_dir = log_dir
        self.results: dict[str, Any] = {}

    def order(self, round_index: int) -> list[AnyServer]:
        """Servers rotated by round, so no server always runs first (or right after a given one)."""
        k = round_index % len(self.servers)
        return self.servers[k:] + self.servers[:k]

    def start(self, server: AnyServer, mode: str, **kwargs: float) -> Server:
        port = free_port()
        return Server(
            server.name,
            server.argv(port, mode, **kwargs),
            cpu=self.s.server_cpu,
            port=port,
            log_dir=self.log_dir,
            timeout_s=self.s.start_timeout_s,
        )

    def url(self, srv: Server, server: AnyServer) -> str:
        return f"ws://127.0.0.1:{srv.port}{server.path()}"

    # ---------------------------------------------------------------- throughput
    def throughput(self, round_index: int) -> None:
        table = self.results.setdefault("throughput", {})
        for server in self.order(round_index):
            runs = table.setdefault(server.name, {})
            try:
                srv = self.start(server, "max")
            except RuntimeError as error:
                say(f"  [{server.name}] did not start: {first_line(error)}")
                for n in self.s.clients:
                    runs.setdefault(str(n), []).append({"error": str(error)[-2000:]})
                continue
            with srv:
                for n in self.s.clients:
                    load = Load(
                        self.url(srv, server),
                        server.hello("max"),
                        conns=n,
                        warmup_s=self.s.warmup_s,
                        seconds=self.s.seconds,
                    )
                    result = self._measure(srv, load)
                    runs.setdefault(str(n), []).append(result)
                    if "error" in result:
                        say(f"  [{server.name}] N={n:<4} error: {first_line(result['error'])}")
                        if not srv.alive():
                            break
                        continue
                    say(
                        f"  [{server.name}] N={n:<4} {fmt_rate(result['msgs_per_s']):>8} msgs/s"
                        f"  {result['wire_bytes_per_s'] / 1e6:6.1f} MB/s  per-conn min/max"
                        f" {result['per_conn_min_msgs']}/{result['per_conn_max_msgs']}"
                        f"  open {result['open_at_end']}/{n}  client cpu {result['client_cpu_pct']:.0f}%"
                        + closes(result)
                    )
                    time.sleep(0.3)

    def _measure(self, srv: Server, load: Load) -> dict[str, Any]:
        try:
            result = self.client.run(load)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            return {"error": str(error)[-2000:], "server_log": srv.tail()}
        if not srv.alive():
            result["server_exited"] = srv.proc.returncode
            result["server_log"] = srv.tail()
        return result

    # ---------------------------------------------------------------- latency
    def calibrate(self, emulator: Emulator) -> float | None:
        """Find the --rate-scale at which the emulator's trade + quote stream (all symbols) is ~lat_rate msgs/s.

        Measure at rate-scale 1, scale linearly, measure again; refine once if that is more than 15% off. The
        emulator is saturated (it cannot generate that much at --speed 1) when the second measurement is under
        half the target, or when the refined scale still misses it by > 15% without gaining 20%: the scale is
        kept, and the latency rows show the overload instead of hiding it.
        """
        cal: dict[str, Any] = {"target_msgs_per_s": self.s.lat_rate, "steps": []}
        self.results.setdefault("latency", {})["calibration"] = cal
        measure_s = max(2.0, min(5.0, self.s.lat_seconds))
        target = self.s.lat_rate

        def measure(scale: float) -> float | None:
            try:
                with self.start(emulator, "rate", rate_scale=scale) as srv:
                    load = Load(
                        self.url(srv, emulator),
                        emulator.hello("rate"),
                        conns=1,
                        warmup_s=self.s.lat_warmup_s,
                        seconds=measure_s,
                    )
                    result = self.client.run(load)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                cal["error"] = str(error)[-2000:]
                say(f"  calibration failed: {first_line(error)}")
                return None
            rate = float(result["msgs_per_s"])
            cal["steps"].append({"rate_scale": scale, "msgs_per_s": rate})
            say(f"  calibration: rate-scale {scale:.4g} -> {fmt_rate(rate)} msgs/s (1 client, {measure_s:g} s)")
            return rate

        base = measure(1.0)
        if not base:
            cal.setdefault("error", "nothing received at rate-scale 1")
            return None
        scale = float(f"{target / base:.3g}")
        rate = measure(scale)
        if rate is None:
            return None
        if rate >= 0.5 * target and abs(rate / target - 1) > 0.15:  # not linear enough: refine once
            previous = rate
            scale = float(f"{scale * target / rate:.3g}")
            rate = measure(scale)
            if rate is None:
                return None
            if rate < 0.85 * target and rate < 1.2 * previous:  # more scale, no more trades
                cal["saturated"] = True
        elif rate < 0.5 * target:
            cal["saturated"] = True
        if cal.get("saturated"):
            say(
                f"  SATURATED: the emulator delivers {fmt_rate(rate)} msgs/s at rate-scale {scale:.4g}"
                f" (target {fmt_rate(target)}); latency at this scale is measured in overload"
            )
        cal["rate_scale"] = scale
        say(f"  using --rate-scale {scale:.4g} for ~{fmt_rate(target)} msgs/s")
        return scale

    def latency(self, round_index: int) -> None:
        """Fixed publish rate, a fresh server per N. The emulator runs at --speed 1 with the calibrated rate-scale;
        if that saturates it, it is measured again at rate-scale 1 (row "emulator rs=1") so the table still shows
        its latency at a load it can carry."""
        section = self.results.setdefault("latency", {})
        for server in self.order(round_index):
            if not isinstance(server, Emulator):
                self._latency_rows(server, server.name, rate=self.s.lat_rate)
                continue
            cal = section.get("calibration")
            if cal is None and round_index == 0:
                self.calibrate(server)
                cal = section["calibration"]
            scale = (cal or {}).get("rate_scale")
            if scale is None:
                for n in self.s.clients:
                    section.setdefault("runs", {}).setdefault(server.name, {}).setdefault(str(n), []).append(
                        {"error": "calibration failed"}
                    )
                continue
            self._latency_rows(server, server.name, rate_scale=scale)
            if cal.get("saturated"):
                self._latency_rows(server, f"{server.name} rs=1", rate_scale=1.0)

    def _latency_rows(self, server: AnyServer, label: str, **kwargs: float) -> None:
        runs = self.results["latency"].setdefault("runs", {}).setdefault(label, {})
        for n in self.s.clients:
            bucket = runs.setdefault(str(n), [])
            try:
                srv = self.start(server, "rate", **kwargs)
            except RuntimeError as error:
                bucket.append({"error": str(error)[-2000:]})
                say(f"  [{label}] did not start: {first_line(error)}")
                continue
            with srv:
                load = Load(
                    self.url(srv, server),
                    server.hello("rate"),
                    conns=n,
                    warmup_s=self.s.lat_warmup_s,
                    seconds=self.s.lat_seconds,
                    latency_field="time_coinapi",
                    sequences=True,
                )
                result = self._measure(srv, load)
            bucket.append(result)
            if "error" in result:
                say(f"  [{label}] N={n:<4} error: {first_line(result['error'])}")
                continue
            lat, seq = result.get("latency_us") or {}, result.get("sequence") or {}
            say(
                f"  [{label}] N={n:<4} {fmt_rate(result['msgs_per_s'] / n):>7}/s per client"
                f"  p50 {lat.get('p50', 0):8.0f} us  p99 {lat.get('p99', 0):8.0f} us"
                f"  p999 {lat.get('p999', 0):8.0f} us  missing seq {seq.get('missing', '?')}"
                f"  open {result['open_at_end']}/{n}" + closes(result)
            )

    # ---------------------------------------------------------------- simulator
    def sim(self, round_index: int) -> None:
        """The simulator benchmark of this checkout, and of ``--compare``'s in the same round (alternating who
        goes first), each with its own interpreter and tree."""
        targets = [("sim", REPO, sys.executable)]
        if self.s.compare_dir is not None:
            targets.append(("sim:compare", self.s.compare_dir, str(self.s.compare_dir / ".venv" / "bin" / "python")))
        if round_index % 2:
            targets.reverse()
        for key, tree, python in targets:
            self._sim_once(key, tree, python)

    def _sim_once(self, key: str, tree: Path, python: str) -> None:
        runs = self.results.setdefault(key, [])
        argv = [python, "-m", "bench.simbench", "--seconds", f"{self.s.sim_seconds:g}", "--seed", str(self.s.seed)]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")])))
        proc = subprocess.Popen(
            pinned(self.s.server_cpu, argv),
            cwd=tree,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        LIVE.add(proc.pid)
        try:
            out, err = proc.communicate(timeout=self.s.sim_seconds * 3 + 180)
        except subprocess.TimeoutExpired:
            out, err = "", "timed out"
        finally:
            kill_group(proc.pid, grace_s=1.0)
        label = "" if key == "sim" else f"[{key.split(':', 1)[1]}] "
        try:
            result = json.loads(out.strip().splitlines()[-1])
        except (IndexError, ValueError):
            runs.append({"error": (err or out)[-2000:]})
            say(f"  {label}simulator benchmark failed: {first_line(err or out or 'no output')}")
            return
        runs.append(result)
        say(
            f"  {label}{fmt_rate(result['events_per_s'])} events/s generate+encode"
            f" ({fmt_rate(result['generate_only_events_per_s'])}/s generate only),"
            f" {result['symbols']} symbols, {result['virtual_s']:.1f} virtual s in {result['wall_s']:.1f} s"
            f" = {result['times_real_time']:.1f}x real time"
        )

    # ---------------------------------------------------------------- REST market data
    def rest(self) -> None:
        """REST market data's costs against their baselines (bench/restbench.py); the emulator only."""
        emulator = next((server for server in self.servers if isinstance(server, Emulator)), None)
        if emulator is None:
            say("  (no emulator among --servers: skipped)")
            return
        try:
            result = restbench.measure(
                emulator.exe, cpu=self.s.server_cpu, log_dir=self.log_dir, timeout_s=self.s.start_timeout_s
            )
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            self.results["rest"] = {"error": str(error)[-2000:]}
            say(f"  error: {first_line(error)}")
            return
        self.results["rest"] = result
        history, start = result["history_1000x1min_ms"], result["startup_s"]
        say(
            f"  1,000 1MIN candles: history cold {history['cold_median']:.1f} ms (max {history['cold_max']:.1f}),"
            f" warm {history['warm_median']:.1f} ms; {result['live_1min_candles']} live ones"
            f" {result['live_1min_ms']:.1f} ms; 30 1DAY cold"
            f" {result['history_30x1day_cold_ms']:.0f} ms; start-up {start['plain']:.2f} s, with --history 30d"
            f" {start['history_30d']:.2f} s; pace at max {result['pace_x_real_time']['retain_0']:.0f}x real time"
            f" (--retain 0) vs {result['pace_x_real_time']['retain_default']:.0f}x (default --retain)"
        )
        for kind, ticks in result["ticks_1000_ms"].items():
            say(f"  1,000 {kind}: {restbench.tick_figures(ticks)}")
        say(f"  {restbench.stall_figures(result['health_slowest_ms'])}")
        say(f"  {restbench.latest_figures(result['latest_at_start'])}")

    # ---------------------------------------------------------------- memory
    def rss(self) -> None:
        table = self.results.setdefault("rss", {})
        n = self.s.rss_conns
        for server in self.servers:
            try:
                table[server.name] = self._rss_one(server, n)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                table[server.name] = {"error": str(error)[-2000:]}
                say(f"  [{server.name}] error: {first_line(error)}")
                continue
            r = table[server.name]
            say(
                f"  [{server.name}] RSS {r['rss_before_kib'] / 1024:.1f} MiB -> {r['rss_with_kib'] / 1024:.1f} MiB"
                f" with {r['established']} conns ({r['open_at_end']} open at end):"
                f" {r['kib_per_conn']:.1f} KiB/conn (raw {r['kib_per_conn_raw']:.1f}, drift"
                f" {r['drift_kib_per_s']:+.0f} KiB/s)"
            )

    def _rss_one(self, server: AnyServer, n: int) -> dict[str, Any]:
        """RSS with n idle subscribers minus RSS without, corrected for the server's own growth over time.

        The server's drift (KiB/s) is measured over ``rss_settle_s`` before the connections open and again while
        they stay open; the mean drift times the time between the two RSS readings is subtracted.
        """
        settle = self.s.rss_settle_s
        with self.start(server, "idle") as srv:
            url, hello = self.url(srv, server), server.hello("idle")
            self.client.run(Load(url, hello, conns=10, warmup_s=0.5, seconds=0.5))  # warm the code paths
            waited = wait_rss_stable(srv, max_s=5 * settle)
            rss_a, t_a = srv.rss_kib(), time.monotonic()
            time.sleep(settle)
            rss_b, t_b = srv.rss_kib(), time.monotonic()
            running = self.client.start(Load(url, hello, conns=n, warmup_s=settle + 3, seconds=0.5))
            ready = running.ready_line()
            time.sleep(1.0)  # hellos sent right after each upgrade are processed by now
            rss_c, t_c = srv.rss_kib(), time.monotonic()
            time.sleep(settle)
            rss_d, t_d = srv.rss_kib(), time.monotonic()
            result = running.finish()
            alive = srv.alive()
        drift_before = (rss_b - rss_a) / max(1e-9, t_b - t_a)
        drift_after = (rss_d - rss_c) / max(1e-9, t_d - t_c)
        drift = (drift_before + drift_after) / 2
        established = max(1, result["established"])
        return {
            "conns": n,
            "ready": ready,
            "established": result["established"],
            "open_at_end": result["open_at_end"],
            "server_closes": result["server_closes"],
            "rss_before_kib": rss_b,
            "rss_with_kib": rss_c,
            "drift_kib_per_s": drift,
            "drift_before_kib_per_s": drift_before,
            "drift_after_kib_per_s": drift_after,
            "kib_per_conn_raw": (rss_c - rss_b) / established,
            "kib_per_conn": (rss_c - rss_b - drift * (t_c - t_b)) / established,
            "messages_total": result["messages_total"],
            "server_alive": alive,
            "waited_for_stable_rss_s": waited,
        }

    # ---------------------------------------------------------------- permessage-deflate
    def deflate(self) -> None:
        table = self.results.setdefault("deflate", {})
        for server in self.servers:
            if isinstance(server, Emulator):
                if not server.supports("--compression"):
                    table[server.name] = {"na": "the emulator has no --compression flag yet"}
                    say(f"  [{server.name}] n/a: no --compression flag")
                    continue
            elif server.name != "B0":  # picows does not negotiate permessage-deflate
                continue
            try:
                table[server.name] = self._deflate_one(server)
            except (RuntimeError, subprocess.TimeoutExpired) as error:
                table[server.name] = {"error": str(error)[-2000:]}
                say(f"  [{server.name}] error: {first_line(error)}")
                continue
            r = table[server.name]
            if "na" in r:
                say(f"  [{server.name}] n/a: {r['na']}")
            else:
                say(
                    f"  [{server.name}] {r['stream']}: {r['plain_wire_bytes_per_msg']:.0f} B/msg plain,"
                    f" {r['deflate_wire_bytes_per_msg']:.0f} B/msg deflated: {r['saved_pct']:.0f}% saved"
                    f" (seq missing {r['seq_missing']})"
                )

    def _deflate_one(self, server: AnyServer) -> dict[str, Any]:
        with self.start(server, "deflate") as srv:
            url, hello = self.url(srv, server), server.hello("deflate")
            secs, warm = self.s.deflate_seconds, min(2.0, self.s.lat_warmup_s)
            packed = self.client.run(
                Load(url, hello, conns=1, warmup_s=warm, seconds=secs, deflate=True, sequences=True)
            )
            plain = self.client.run(Load(url, hello, conns=1, warmup_s=warm, seconds=secs, sequences=True))
        stream = "trade+book (3 venues)" if isinstance(server, Emulator) else "synthetic trades (reference)"
        if not packed["deflate_conns"]:
            return {"na": "offered permessage-deflate was not negotiated", "stream": stream}
        wire_z, wire_p = packed["wire_bytes_per_msg"], plain["wire_bytes_per_msg"]
        return {
            "stream": stream,
            "messages": packed["messages"],
            "payload_bytes_per_msg": packed["payload_bytes_per_msg"],
            "plain_wire_bytes_per_msg": wire_p,
            "deflate_wire_bytes_per_msg": wire_z,
            "saved_pct": 100.0 * (1 - wire_z / wire_p) if wire_p else 0.0,
            "saved_vs_payload_pct": 100.0 * (1 - packed["wire_bytes"] / max(1, packed["payload_bytes"])),
            "seq_missing": (packed.get("sequence") or {}).get("missing"),
            "seq_unparsed": (packed.get("sequence") or {}).get("unparsed"),
            "msgs_per_s_deflate": packed["msgs_per_s"],
            "msgs_per_s_plain": plain["msgs_per_s"],
            **(self._deflate_cost(server) if isinstance(server, Emulator) else {}),
        }

    def _deflate_cost(self, server: Emulator) -> dict[str, Any]:
        """Delivered msgs/s at --speed max to N clients that all offer deflate, next to N plain clients."""
        n = DEFLATE_COST_CLIENTS
        with self.start(server, "max") as srv:
            url, hello, secs = self.url(srv, server), server.hello("max"), self.s.deflate_seconds
            runs = {
                deflate: self.client.run(
                    Load(url, hello, conns=n, warmup_s=self.s.warmup_s, seconds=secs, deflate=deflate)
                )
                for deflate in (False, True)
            }
        plain, packed = runs[False]["msgs_per_s"], runs[True]["msgs_per_s"]
        return {
            "max_clients": n,
            "max_msgs_per_s_plain": plain,
            "max_msgs_per_s_deflate": packed,
            "max_deflate_vs_plain": packed / plain if plain else float("nan"),
        }


#: clients of the deflate phase's throughput-cost measurement (compression is per connection, so cost grows with N)
DEFLATE_COST_CLIENTS = 10


def wait_rss_stable(srv: Server, max_s: float, step_s: float = 1.0, tolerance_kib: int = 512) -> float:
    """Wait (at most ``max_s``) until the server's RSS grew by < ``tolerance_kib`` over the last 2 steps:
    a freshly started emulator keeps allocating for a while (books filling up, first candles)."""
    t0 = time.monotonic()
    history = [srv.rss_kib()]
    while time.monotonic() - t0 < max_s:
        time.sleep(step_s)
        history.append(srv.rss_kib())
        if len(history) >= 3 and history[-1] - history[-3] < tolerance_kib:
            break
    return round(time.monotonic() - t0, 1)


def first_line(error: object) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else repr(error)


def closes(result: dict[str, Any]) -> str:
    if result.get("server_closes"):
        return f"  SERVER CLOSED {result['server_closes']} (last code {result['last_close_code']})"
    if result.get("disconnects"):
        return f"  DISCONNECTS {result['disconnects']}"
    return ""
