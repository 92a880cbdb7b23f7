"""python -m bench: the emulator against baselines B0/B1/B2, on this machine, in one run (docs/BENCHMARKS.md).

Phases (all by default): throughput, latency, sim, rss, deflate. Servers run pinned to --server-cpu, the C
load client to --client-cpu; servers are interleaved within each round (rotated per round) and the tables show
medians over --repeat rounds. Compare ratios within one run: absolute rates on a 2-core VM move by +-40%.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from . import client as client_mod
from .phases import Bench, Settings, say
from .procs import install_signal_handlers, raise_nofile, require_tools, stop_all
from .report import render, summarize
from .servers import BASELINE_SCRIPTS, EMULATOR_HELLOS, Baseline, Emulator, emulator_exe

PHASES = ("throughput", "latency", "sim", "rss", "deflate", "rest")


def parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--quick", action="store_true", help="smoke run: 1 round, short windows (~4 min)")
    ap.add_argument("--only", default=",".join(PHASES), help=f"comma list of phases: {','.join(PHASES)}")
    ap.add_argument("--servers", default="emulator,B0,B1,B2", help="comma list of servers to compare")
    ap.add_argument("--clients", default="1,10,100", help="client counts N for throughput and latency")
    ap.add_argument("--seconds", type=float, help="throughput window per N (10; quick 3)")
    ap.add_argument("--warmup", type=float, help="warm-up before each window (2; quick 1)")
    ap.add_argument("--repeat", type=int, help="rounds of throughput/latency/sim (3; quick 1)")
    ap.add_argument("--lat-rate", type=float, default=10_000, help="published msgs/s in the latency phase")
    ap.add_argument("--lat-seconds", type=float, help="latency window per N (5; quick 3)")
    ap.add_argument("--sim-seconds", type=float, help="simulator benchmark wall time per round (5; quick 2)")
    ap.add_argument("--rss-conns", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0, help="emulator --seed")
    ap.add_argument("--emulator-cmd", help="command instead of <venv>/bin/coinapi-emulator (shell words)")
    ap.add_argument("--emulator-args", default="", help="extra arguments for `serve` (shell words)")
    ap.add_argument(
        "--emulator-hello",
        choices=sorted(EMULATOR_HELLOS),
        default="updates",
        help="what emulator clients subscribe to in the throughput and latency phases: every trade and quote "
        "(updates) or every trade (trades, the load kit's default workload, which the baselines publish)",
    )
    ap.add_argument(
        "--compare",
        metavar="DIR",
        help="another checkout of the emulator, set up there with `make` (its .venv): its server runs in every phase "
        "as 'compare', in the same rounds, and its simulator benchmark beside this one's",
    )
    ap.add_argument("--server-cpu", default="0")
    ap.add_argument("--client-cpu", default="1")
    ap.add_argument("--start-timeout", type=float, default=60)
    ap.add_argument("--log-dir", help="server logs and results.json (default: a new temp dir)")
    ap.add_argument("--json", help="also write the results (raw + summary) here")
    ap.add_argument("--report", metavar="JSON", help="only print the table of a saved results file")
    opts = ap.parse_args()
    quick = opts.quick
    for name, full, short in (
        ("seconds", 10.0, 3.0),
        ("warmup", 2.0, 1.0),
        ("repeat", 3, 1),
        ("lat_seconds", 5.0, 3.0),
        ("sim_seconds", 5.0, 2.0),
    ):
        if getattr(opts, name) is None:
            setattr(opts, name, short if quick else full)
    opts.phases = [p.strip() for p in opts.only.split(",") if p.strip()]
    bad = [p for p in opts.phases if p not in PHASES]
    if bad:
        ap.error(f"unknown phase(s) {bad}; choose from {PHASES}")
    opts.server_names = [s.strip() for s in opts.servers.split(",") if s.strip()]
    bad = [s for s in opts.server_names if s != "emulator" and s not in BASELINE_SCRIPTS]
    if bad:
        ap.error(f"unknown server(s) {bad}; choose from emulator,B0,B1,B2")
    opts.client_counts = [int(n) for n in opts.clients.split(",") if n.strip()]
    if opts.compare is not None:
        opts.compare = Path(opts.compare).resolve()
        if not (opts.compare / ".venv" / "bin" / "coinapi-emulator").exists():
            ap.error(f"--compare {opts.compare}: no .venv/bin/coinapi-emulator there (run `make` in it first)")
    if opts.repeat < 1 or not opts.client_counts or min(opts.client_counts) < 1:
        ap.error("--repeat and --clients must be positive")
    return opts


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        model = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    versions: dict[str, str | None] = {}
    for dist in ("coinapi-emulator", "uvicorn", "starlette", "websockets", "uvloop", "picows", "aiofastnet", "orjson"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
        "versions": versions,
    }


def estimate_s(opts: argparse.Namespace) -> float:
    n_srv, n_cl, start = len(opts.server_names) + bool(opts.compare), len(opts.client_counts), 3.0
    total = 0.0
    if "throughput" in opts.phases:
        total += opts.repeat * n_srv * (start + n_cl * (opts.warmup + opts.seconds + 0.5))
    if "latency" in opts.phases:
        total += opts.repeat * n_srv * n_cl * (start + opts.warmup + opts.lat_seconds) + 25
    if "sim" in opts.phases:
        total += opts.repeat * (2 * opts.sim_seconds + 4) * (2 if opts.compare else 1)
    if "rss" in opts.phases:
        total += n_srv * 20
    if "deflate" in opts.phases:
        total += 20
    if "rest" in opts.phases:
        total += 70
    return total


def main() -> None:
    opts = parse()
    if opts.report:
        saved = json.loads(Path(opts.report).read_text())
        meta = saved["meta"]
        summary = summarize(saved["results"], meta["servers"], meta["clients"], meta["lat_rate"])
        print(render(summary, meta, meta["servers"], meta["clients"]))
        return
    require_tools()
    install_signal_handlers()
    exe, with_zlib = client_mod.build()
    if (os.cpu_count() or 1) < 2 and opts.server_cpu != opts.client_cpu:
        say("bench: warning: one CPU only: server and client share it")
        opts.client_cpu = opts.server_cpu
    nofile = raise_nofile(opts.rss_conns + 256)
    if "rss" in opts.phases and nofile < opts.rss_conns + 64:
        say(f"bench: warning: fd limit {nofile} < {opts.rss_conns} connections: raise `ulimit -Hn`")
    log_dir = Path(opts.log_dir) if opts.log_dir else Path(tempfile.mkdtemp(prefix="coinapi-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)

    servers: list[Emulator | Baseline] = []
    for name in opts.server_names:
        if name == "emulator":
            servers.append(
                Emulator(
                    emulator_exe(opts.emulator_cmd),
                    seed=opts.seed,
                    extra=shlex.split(opts.emulator_args),
                    data_hello=EMULATOR_HELLOS[opts.emulator_hello],
                )
            )
        else:
            servers.append(Baseline(name))
    if opts.compare is not None:
        compare_exe = [str(opts.compare / ".venv" / "bin" / "coinapi-emulator")]
        servers.append(
            Emulator(
                compare_exe,
                seed=opts.seed,
                extra=shlex.split(opts.emulator_args),
                name="compare",
                about=f"coinapi-emulator serve of {opts.compare}",
                data_hello=EMULATOR_HELLOS[opts.emulator_hello],
            )
        )
    settings = Settings(
        clients=opts.client_counts,
        seconds=opts.seconds,
        warmup_s=opts.warmup,
        lat_seconds=opts.lat_seconds,
        lat_warmup_s=opts.warmup,
        lat_rate=opts.lat_rate,
        sim_seconds=opts.sim_seconds,
        rss_conns=opts.rss_conns,
        rss_settle_s=1.5 if opts.quick else 3.0,
        deflate_seconds=2.0 if opts.quick else 5.0,
        server_cpu=opts.server_cpu,
        client_cpu=opts.client_cpu,
        start_timeout_s=opts.start_timeout,
        seed=opts.seed,
        compare_dir=opts.compare,
    )
    bench = Bench(settings, client_mod.Client(exe, opts.client_cpu), servers, log_dir)
    host = machine()
    meta = {
        "date": dt.datetime.now(dt.UTC).strftime("%a %b %d %H:%M:%S UTC %Y"),
        "machine": f"{host['nproc']} CPUs ({host['cpu_model']}), Python {host['python']}, Linux {host['kernel']}",
        "host": host,
        "command": "python -m bench " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
        "servers": [s.name for s in servers],
        "clients": opts.client_counts,
        "repeat": opts.repeat,
        "seconds": opts.seconds,
        "warmup": opts.warmup,
        "lat_rate": opts.lat_rate,
        "lat_seconds": opts.lat_seconds,
        "sim_seconds": opts.sim_seconds,
        "rss_conns": opts.rss_conns,
        "server_cpu": opts.server_cpu,
        "client_cpu": opts.client_cpu,
        "wsload": str(exe),
        "wsload_zlib": with_zlib,
        "phases": opts.phases,
        "emulator_cmd": next((s.exe for s in servers if isinstance(s, Emulator)), None),
        "compare": str(opts.compare) if opts.compare is not None else None,
        "emulator_hello": EMULATOR_HELLOS[opts.emulator_hello],
    }
    meta["loadavg_start"] = os.getloadavg()
    say(f"# {meta['date']}  {meta['machine']}")
    if meta["loadavg_start"][0] > 0.7:
        say(
            f"# WARNING: load average {meta['loadavg_start'][0]:.2f} before starting: other processes compete for"
            " the CPUs, figures will be noisy (see `top`)"
        )
    say(
        f"# servers {','.join(meta['servers'])}  phases {','.join(opts.phases)}  rounds {opts.repeat}"
        f"  server cpu {opts.server_cpu}, client cpu {opts.client_cpu}  ~{estimate_s(opts) / 60:.0f} min"
        f"  logs {log_dir}"
    )
    t0 = time.monotonic()
    try:
        for phase in opts.phases:
            rounds = opts.repeat if phase in ("throughput", "latency", "sim") else 1
            for r in range(rounds):
                say(f"== {phase}" + (f" round {r + 1}/{rounds}" if rounds > 1 else ""))
                if phase in ("throughput", "latency", "sim"):
                    getattr(bench, phase)(r)
                else:
                    getattr(bench, phase)()
    except KeyboardInterrupt:
        say("interrupted: reporting what was measured")
    finally:
        stop_all()
    meta["duration_s"] = round(time.monotonic() - t0, 1)
    meta["loadavg_end"] = os.getloadavg()
    summary = summarize(bench.results, meta["servers"], opts.client_counts, opts.lat_rate)
    table = render(summary, meta, meta["servers"], opts.client_counts)
    say("")
    say(table)
    doc = {"meta": meta, "summary": summary, "results": bench.results}
    paths = [log_dir / "results.json"] + ([Path(opts.json)] if opts.json else [])
    for path in paths:
        path.write_text(json.dumps(doc, indent=1, default=str))
    say(
        f"\nresults: {', '.join(map(str, paths))}  (took {meta['duration_s'] / 60:.1f} min;"
        f" re-print: python -m bench --report FILE)"
    )


if __name__ == "__main__":
    main()
