"""Reduce raw results to medians, ratios and target checks, and print the table."""

from __future__ import annotations

import statistics
from typing import Any

from .phases import fmt_rate
from .restbench import latest_figures, stall_figures, tick_figures

EMU = "emulator"
TARGETS = {
    "ratio_b1_n100": 2.0,
    "ratio_b2_n100": 0.5,
    "latency_p99_us": 10_000.0,
    "sim_events_per_s": 500_000.0,
    "rss_kib_per_conn": 16.0,
    "deflate_saved_pct": 70.0,
    "rest_1000x1min_ms": 50.0,
    "history_startup_extra_s": 2.0,
}


def ok(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if "error" not in r]


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def half_range(xs: list[float]) -> float:
    """Half the range over the median: the ± of a figure made of a few rounds."""
    if len(xs) < 2 or not statistics.median(xs):
        return 0.0
    return (max(xs) - min(xs)) / 2 / statistics.median(xs)


def summarize(results: dict[str, Any], servers: list[str], clients: list[int], lat_rate: float) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    if "throughput" in results:
        tp: dict[str, Any] = {}
        for s in servers:
            for n in clients:
                runs = results["throughput"].get(s, {}).get(str(n), [])
                rates = [r["msgs_per_s"] for r in ok(runs)]
                tp.setdefault(s, {})[str(n)] = {
                    "median": med(rates),
                    "half_range": half_range(rates),
                    "rounds": len(rates),
                    "errors": len(runs) - len(rates),
                    "disconnects": sum(r.get("disconnects", 0) for r in ok(runs)),
                    "rates": rates,
                }
        summary["throughput"] = tp
        ratios: dict[str, Any] = {}
        for b in ("B1", "B2", "compare"):
            if EMU not in tp or b not in tp:
                continue
            for n in clients:
                e_runs = results["throughput"][EMU].get(str(n), [])
                b_runs = results["throughput"][b].get(str(n), [])
                per_round = [
                    e["msgs_per_s"] / x["msgs_per_s"]
                    for e, x in zip(e_runs, b_runs, strict=False)
                    if "error" not in e and "error" not in x and x["msgs_per_s"] > 0
                ]
                ratios.setdefault(f"{EMU}/{b}", {})[str(n)] = {
                    "median_of_rounds": med(per_round),
                    "min": min(per_round, default=float("nan")),
                    "max": max(per_round, default=float("nan")),
                    "of_medians": tp[EMU][str(n)]["median"] / tp[b][str(n)]["median"]
                    if tp[b][str(n)]["median"]
                    else float("nan"),
                }
        summary["ratios"] = ratios
    if "latency" in results:
        lat: dict[str, Any] = {}
        steps = (results["latency"].get("calibration") or {}).get("steps") or []
        # the fallback row runs at rate-scale 1: what calibration measured there is its expected rate
        expected = {f"{EMU} rs=1": steps[0]["msgs_per_s"]} if steps else {}
        for s in latency_rows(results, servers):
            for n in clients:
                runs = ok(results["latency"].get("runs", {}).get(s, {}).get(str(n), []))
                if not runs:
                    continue
                sampled = [r["latency_us"] for r in runs if (r.get("latency_us") or {}).get("samples")]
                q = {k: med([lat[k] for lat in sampled]) for k in ("p50", "p90", "p99", "p999", "max")}
                per_client = med([r["msgs_per_s"] / n for r in runs])
                lat.setdefault(s, {})[str(n)] = {
                    **q,
                    "per_client_msgs_per_s": per_client,
                    "missing_worst": max((r.get("sequence") or {}).get("missing", 0) for r in runs),
                    "not_open_worst": max(n - r.get("open_at_end", 0) for r in runs),
                    "server_closes_worst": max(r.get("server_closes", 0) for r in runs),
                    "disconnects_worst": max(r.get("disconnects", 0) for r in runs),
                    "rounds": len(runs),
                    "expected_per_client": expected.get(s, lat_rate),
                    "overloaded": per_client < 0.9 * expected.get(s, lat_rate),
                }
        summary["latency"] = lat
        cal = results["latency"].get("calibration")
        if cal:
            summary["calibration"] = cal
    for key, name in (("sim", "sim"), ("sim:compare", "sim_compare")):
        runs = ok(results.get(key, []))
        if runs:
            summary[name] = {
                "events_per_s": med([r["events_per_s"] for r in runs]),
                "half_range": half_range([r["events_per_s"] for r in runs]),
                "generate_only_events_per_s": med([r["generate_only_events_per_s"] for r in runs]),
                "times_real_time": med([r["times_real_time"] for r in runs]),
                "symbols": runs[0]["symbols"],
                "by_type": runs[0]["by_type"],
                "rounds": len(runs),
            }
    this, other = ok(results.get("sim", [])), ok(results.get("sim:compare", []))
    if this and other:
        per_round = [a["events_per_s"] / b["events_per_s"] for a, b in zip(this, other, strict=False)]
        summary["sim_ratio"] = {"median_of_rounds": med(per_round), "min": min(per_round), "max": max(per_round)}
    if "rss" in results:
        summary["rss"] = results["rss"]
    if "deflate" in results:
        summary["deflate"] = results["deflate"]
    if "rest" in results and "error" not in results["rest"]:
        summary["rest"] = results["rest"]
    summary["targets"] = check_targets(summary, clients)
    return summary


def latency_rows(results: dict[str, Any], servers: list[str]) -> list[str]:
    """Servers in table order, each followed by its extra rows (e.g. "emulator rs=1")."""
    names = list(results.get("latency", {}).get("runs", {}))
    return [row for s in servers for row in names if row == s or row.startswith(s + " ")]


def check_targets(summary: dict[str, Any], clients: list[int]) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []

    def add(name: str, value: float | None, target: str, passed: bool | None) -> None:
        checks.append({"name": name, "value": value, "target": target, "pass": passed})

    ratios = summary.get("ratios", {})
    top = str(max(clients)) if clients else "100"
    for b, key in (("B1", "ratio_b1_n100"), ("B2", "ratio_b2_n100")):
        r = ratios.get(f"{EMU}/{b}", {}).get(top)
        if r:
            v = r["median_of_rounds"]
            add(f"throughput emulator/{b} N={top}", v, f">= {TARGETS[key]}", v == v and v >= TARGETS[key])
    for n, row in summary.get("latency", {}).get(EMU, {}).items():
        lost = row["missing_worst"] + row["not_open_worst"]
        passed = bool(row["p99"] <= TARGETS["latency_p99_us"]) and lost == 0 and not row["overloaded"]
        add(f"latency emulator N={n} p99 us (lost)", row["p99"], "<= 10000 us, 0 lost", passed)
    sim = summary.get("sim")
    if sim:
        add("simulator events/s", sim["events_per_s"], ">= 500000", sim["events_per_s"] >= TARGETS["sim_events_per_s"])
    rss = summary.get("rss", {}).get(EMU)
    if rss and "kib_per_conn" in rss:
        add(
            "RSS KiB per idle connection",
            rss["kib_per_conn"],
            "<= 16",
            rss["kib_per_conn"] <= TARGETS["rss_kib_per_conn"] and rss["established"] >= rss["conns"],
        )
    rest = summary.get("rest")
    if rest:
        cold = rest["history_1000x1min_ms"]["cold_max"]
        add("REST 1,000 1MIN candles ms (slowest cold)", cold, "< 50", cold < TARGETS["rest_1000x1min_ms"])
        extra = rest["startup_s"]["history_30d"] - rest["startup_s"]["plain"]
        add("--history 30d extra start-up s", extra, "<= 2", extra <= TARGETS["history_startup_extra_s"])
    deflate = summary.get("deflate", {}).get(EMU)
    if deflate and "saved_pct" in deflate:
        saved = deflate["saved_pct"]
        add("deflate bytes saved % (trade+book)", saved, ">= 70", saved >= TARGETS["deflate_saved_pct"])
    return checks


def us(x: float) -> str:
    return "-" if x != x else f"{x:.0f}"


def render(summary: dict[str, Any], meta: dict[str, Any], servers: list[str], clients: list[int]) -> str:
    out: list[str] = []
    w = max(14, *(len(s) for s in servers))
    p = out.append
    p(f"coinapi-emulator benchmark  {meta.get('date', '')}  {meta.get('machine', '')}")
    p(f"command: {meta.get('command', '')}")
    if meta.get("loadavg_start"):
        p(
            f"load average at start {meta['loadavg_start'][0]:.2f}"
            + (f", 1-min at end {meta['loadavg_end'][0]:.2f}" if meta.get("loadavg_end") else "")
            + "  (a busy machine makes every figure noisier)"
        )
    rounds = meta.get("repeat", 1)
    if meta.get("emulator_hello"):
        p(f"emulator clients' hello: {meta['emulator_hello']} (baselines: every trade)")
    if "throughput" in summary:
        p("")
        p(
            f"THROUGHPUT delivered msgs/s, sum over N clients; server publishing as fast as it can"
            f" (median of {rounds} x {meta.get('seconds', 0):g} s; ± half range)"
        )
        p(f"{'server':<{w}}" + "".join(f"{'N=' + str(n):>20}" for n in clients))
        for s in servers:
            row = summary["throughput"].get(s, {})
            cells = []
            for n in clients:
                c = row.get(str(n))
                if not c or not c["rounds"]:
                    cells.append("error" if c and c["errors"] else "-")
                    continue
                mark = "!" if c["disconnects"] else ""
                cells.append(f"{fmt_rate(c['median'])} ±{c['half_range']:.0%}{mark}")
            p(f"{s:<{w}}" + "".join(f"{c:>20}" for c in cells))
        for name, by_n in summary.get("ratios", {}).items():
            cells = [
                f"{by_n[str(n)]['median_of_rounds']:.2f} [{by_n[str(n)]['min']:.2f}-{by_n[str(n)]['max']:.2f}]"
                if str(n) in by_n
                else "-"
                for n in clients
            ]
            p(f"{name:<{w}}" + "".join(f"{c:>20}" for c in cells))
        if summary.get("ratios"):
            p("(ratio: median of per-round ratios [min-max]; '!' = some clients were disconnected)")
    if "latency" in summary:
        p("")
        cal = summary.get("calibration") or {}
        extra = ""
        if cal.get("rate_scale") is not None:
            steps = ", ".join(f"{s['rate_scale']:.4g}->{fmt_rate(s['msgs_per_s'])}/s" for s in cal.get("steps", []))
            extra = f"; emulator --speed 1 --rate-scale {cal['rate_scale']:.4g} (calibration {steps})"
            if cal.get("saturated"):
                extra += " SATURATED: the emulator could not reach the target rate"
        elif cal.get("error"):
            extra = "; emulator calibration failed"
        p(
            f"LATENCY created->received (time_coinapi vs client CLOCK_REALTIME) at ~{fmt_rate(meta.get('lat_rate', 0))}"
            f" msgs/s published to each of N clients (median of {rounds} x {meta.get('lat_seconds', 0):g} s{extra})"
        )
        p(
            f"{'server':<{w}} {'N':>4} {'recv/s/client':>14} {'p50 us':>9} {'p99 us':>9} {'p999 us':>9}"
            f" {'max us':>9} {'lost':>6} {'dropped':>7}"
        )
        for s in summary["latency"]:
            for n in clients:
                c = summary["latency"][s].get(str(n))
                if not c:
                    continue
                star = "*" if c["overloaded"] else ""
                p(
                    f"{s:<{w}} {n:>4} {fmt_rate(c['per_client_msgs_per_s']) + star:>14} {us(c['p50']):>9}"
                    f" {us(c['p99']):>9} {us(c['p999']):>9} {us(c['max']):>9} {c['missing_worst']:>6}"
                    f" {c['not_open_worst']:>7}"
                )
        p(
            "(lost = sequence gaps per (type, symbol_id), worst round; dropped = connections not open at the end"
            " (refused, timed out or closed by the server); '*' = each client got < 90% of the rate published"
            " (the target; for 'rs=1' the rate calibration measured at rate-scale 1))"
        )
    if "sim" in summary:
        sim = summary["sim"]
        p("")
        p(
            f"SIMULATOR generate+encode, no sockets: {fmt_rate(sim['events_per_s'])} events/s ±{sim['half_range']:.0%}"
            f" (generate only {fmt_rate(sim['generate_only_events_per_s'])}/s; {sim['symbols']} symbols,"
            f" {sim['times_real_time']:.1f}x real time at rate-scale 1; median of {sim['rounds']})"
        )
        total = sum(sim["by_type"].values()) or 1
        p("  event mix: " + ", ".join(f"{k} {v / total:.0%}" for k, v in sim["by_type"].items()))
        other, ratio = summary.get("sim_compare"), summary.get("sim_ratio")
        if other:
            p(
                f"  compare: {fmt_rate(other['events_per_s'])} events/s ±{other['half_range']:.0%}"
                f" (generate only {fmt_rate(other['generate_only_events_per_s'])}/s; median of {other['rounds']})"
            )
        if ratio:
            p(
                f"  emulator/compare: {ratio['median_of_rounds']:.2f} [{ratio['min']:.2f}-{ratio['max']:.2f}]"
                " (median of per-round ratios [min-max])"
            )
    if "rss" in summary:
        p("")
        p("MEMORY RSS per subscribed, idle connection (server RSS with N connections - without, drift-corrected)")
        for s in servers:
            r = summary["rss"].get(s)
            if not r:
                continue
            if "error" in r:
                p(f"{s:<{w}} error: {r['error'].strip().splitlines()[0][:100] if r['error'].strip() else ''}")
                continue
            p(
                f"{s:<{w}} {r['kib_per_conn']:7.1f} KiB/conn  ({r['established']}/{r['conns']} connected,"
                f" {r['open_at_end']} open at end; idle RSS {r['rss_before_kib'] / 1024:.1f} MiB,"
                f" raw {r['kib_per_conn_raw']:.1f} KiB/conn)"
            )
    if "rest" in summary:
        rest = summary["rest"]
        history, start, pace = rest["history_1000x1min_ms"], rest["startup_s"], rest["pace_x_real_time"]
        p("")
        p("REST MARKET DATA (one emulator, HTTP keep-alive client, wall ms per request)")
        p(
            f"  1,000 1MIN candles of one symbol: history before the start cold {history['cold_median']:.1f} ms"
            f" median, {history['cold_max']:.1f} max; warm {history['warm_median']:.1f} ms;"
            f" the {rest['live_1min_candles']} retained live ones {rest['live_1min_ms']:.1f} ms;"
            f" 30 1DAY candles cold {rest['history_30x1day_cold_ms']:.0f} ms"
        )
        for kind, ticks in rest["ticks_1000_ms"].items():
            p(f"  1,000 {kind} of one symbol: {tick_figures(ticks)}")
        p(f"  {stall_figures(rest['health_slowest_ms'])}")
        p(f"  {latest_figures(rest['latest_at_start'])}")
        p(f"  start-up to /ready: {start['plain']:.2f} s plain, {start['history_30d']:.2f} s with --history 30d")
        p(
            f"  market pace at --speed max: {pace['retain_0']:.0f}x real time with --retain 0,"
            f" {pace['retain_default']:.0f}x with the default --retain (retention's cost to the feed)"
        )
    if "deflate" in summary:
        p("")
        p("PERMESSAGE-DEFLATE wire bytes per message, offered vs not offered (1 client)")
        for s, r in summary["deflate"].items():
            if "na" in r:
                p(f"{s:<{w}} n/a: {r['na']}")
            elif "error" in r:
                p(f"{s:<{w}} error: {r['error'].strip().splitlines()[0][:100] if r['error'].strip() else ''}")
            else:
                p(
                    f"{s:<{w}} {r['stream']}: {r['plain_wire_bytes_per_msg']:.0f} ->"
                    f" {r['deflate_wire_bytes_per_msg']:.0f}"
                    f" B/msg, {r['saved_pct']:.0f}% saved (payload {r['payload_bytes_per_msg']:.0f} B/msg;"
                    f" {fmt_rate(r['msgs_per_s_deflate'])} msgs/s; seq gaps {r['seq_missing']})"
                )
                if "max_msgs_per_s_deflate" in r:
                    p(
                        f"{'':<{w}} throughput cost: --speed max, {r['max_clients']} clients:"
                        f" {fmt_rate(r['max_msgs_per_s_plain'])} msgs/s plain,"
                        f" {fmt_rate(r['max_msgs_per_s_deflate'])} msgs/s all offering deflate"
                        f" ({r['max_deflate_vs_plain']:.2f}x)"
                    )
    if summary.get("targets"):
        p("")
        p("TARGETS")
        for t in summary["targets"]:
            verdict = {True: "PASS", False: "FAIL", None: "n/a"}[t["pass"]]
            v = t["value"]
            shown = "-" if v is None or v != v else (f"{v:,.2f}" if v < 100 else f"{v:,.0f}")
            p(f"  {verdict:<4}  {t['name']:<40} {shown:>12}   target {t['target']}")
    return "\n".join(out)
