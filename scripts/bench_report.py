"""The benchmark's report: ratios and targets derived from the rounds, a table, a PNG chart."""

from __future__ import annotations

import statistics

# SPEC §8 figures to reach on the 2-core machine.
TARGETS = {
    "throughput_ratio_min": 0.75,
    "p50_ratio_max": 2.0,
    "status_p50_ms_max": 5.0,
    "seatmap_p50_ms_max": 5.0,
    "post_p99_ms_max": 30.0,
    "growth_ratio_max": 1.5,
}


def _strip(value: object) -> object:
    """Drop working keys (leading underscore) before the JSON is written."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not str(k).startswith("_")}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _p(summary: dict | None, key: str = "p50") -> float | None:
    return None if not summary else summary.get(key)


def derive(results: dict) -> dict:
    r = _strip(results)
    if "saga" not in r:
        return r
    a, b = r["baseline"]["A"], r["baseline"]["B"]
    saga = r["saga"]
    base = {
        "throughput": statistics.fmean([a["loaded"]["throughput"], b["loaded"]["throughput"]]),
        "loaded_p50_ms": statistics.fmean([x["loaded"]["latency_ms"]["p50"] for x in (a, b)]),
        "serial_p50_ms": statistics.fmean([x["serial"]["latency_ms"]["p50"] for x in (a, b)]),
    }
    loaded, serial = saga["loaded"], saga["serial"]
    ratios = {
        "throughput": loaded["throughput"] / base["throughput"],
        "p50_loaded": loaded["e2e_ms"]["p50"] / base["loaded_p50_ms"],
        "p50_serial": serial["e2e_ms"]["p50"] / base["serial_p50_ms"],
        "baseline_drift": b["loaded"]["throughput"] / a["loaded"]["throughput"],
    }
    r["baseline_mean"], r["ratios"] = base, ratios
    api = loaded["api_ms"]
    checks = [
        _check("saga/baseline throughput", ratios["throughput"], ">=", TARGETS["throughput_ratio_min"]),
        _check("saga/baseline p50 under load", ratios["p50_loaded"], "<=", TARGETS["p50_ratio_max"]),
        _check("saga/baseline p50 unloaded", ratios["p50_serial"], "<=", TARGETS["p50_ratio_max"]),
        _check("status GET p50 ms", _p(api["status"]), "<=", TARGETS["status_p50_ms_max"]),
        _check("seat map GET p50 ms", _p(api["seatmap"]), "<=", TARGETS["seatmap_p50_ms_max"]),
        _check("POST p99 ms", _p(api["post"], "p99"), "<=", TARGETS["post_p99_ms_max"]),
    ]
    c = r.get("contention")
    if c:
        checks += [
            _check("contention double bookings", c["double_bookings"], "<=", 0),
            _check("contention all terminal", int(c["all_terminal"]), ">=", 1),
            _check("contention every seat once or free", int(c["every_seat_once_or_free"]), ">=", 1),
        ]
    g = r.get("growth")
    if g:
        for name, ratio in g.get("ratios", {}).items():
            checks.append(_check(f"large/small DB {name} p50", ratio, "<=", TARGETS["growth_ratio_max"]))
    r["checks"] = checks
    return r


def _check(name: str, value: float | None, op: str, target: float) -> dict:
    if value is None:
        return {"name": name, "value": None, "target": f"{op} {target}", "ok": None}
    ok = value >= target if op == ">=" else value <= target
    return {"name": name, "value": round(value, 3), "target": f"{op} {target}", "ok": ok}


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f}"


def table(r: dict) -> str:
    cfg = r["config"]
    lines = [f"database {cfg['database']}, {cfg['workers']} worker processes ({cfg['pool']}), "
             f"{cfg['clients']} clients, {cfg['sagas']} sagas, "
             f"web {cfg['web_workers']}x{cfg['web_threads']}, "
             f"load average at start {cfg['load_average'][0]:.2f}"]
    if "saga" not in r:
        return "\n".join(lines)
    a, b, saga = r["baseline"]["A"], r["baseline"]["B"], r["saga"]
    header = f"{'':34}{'per s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
    lines += ["", header, "-" * len(header)]

    def row(label: str, rate: float | None, s: dict) -> str:
        per = "" if rate is None else f"{rate:.1f}"
        return f"{label:34}{per:>8}{_ms(s['p50']):>9}{_ms(s['p95']):>9}{_ms(s['p99']):>9}"

    lines += [
        row("baseline A chains (loaded)", a["loaded"]["throughput"], a["loaded"]["latency_ms"]),
        row("saga bookings (loaded) POST->conf", saga["loaded"]["throughput"], saga["loaded"]["e2e_ms"]),
        row("  saga own timestamps", None, saga["loaded"]["saga_ms"]),
        row("  seen by polling", None, saga["loaded"]["seen_ms"]),
        row("baseline B chains (loaded)", b["loaded"]["throughput"], b["loaded"]["latency_ms"]),
        row("baseline chain, 1 client", None, a["serial"]["latency_ms"]),
        row("saga, 1 client POST->confirmed", None, saga["serial"]["e2e_ms"]),
        row("  seen by polling (20 ms)", None, saga["serial"]["seen_ms"]),
        "",
        f"{'API under load':34}{'n':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}",
    ]
    for name, s in saga["loaded"]["api_ms"].items():
        lines.append(f"  {name:32}" + ("skipped (no endpoint)" if s is None else
                                       f"{s['n']:>8}{_ms(s['p50']):>9}{_ms(s['p95']):>9}{_ms(s['p99']):>9}"))
    ratios = r["ratios"]
    lines += ["", f"ratio saga/baseline: throughput {ratios['throughput']:.2f}, p50 loaded "
                  f"{ratios['p50_loaded']:.2f}, p50 unloaded {ratios['p50_serial']:.2f} "
                  f"(baseline B/A {ratios['baseline_drift']:.2f})"]
    outcomes = ", ".join(f"{k} {v}" for k, v in saga["loaded"]["outcomes"].items())
    lines.append(f"saga outcomes: {outcomes}; HTTP errors {saga['loaded']['error_count']}")
    c = r.get("contention")
    if c:
        lines += ["", f"contention: {c['attempts']} attempts, {c['confirmed']} confirmed, "
                      f"{c['seat_unavailable']} seat_unavailable, double bookings {c['double_bookings']}, "
                      f"all terminal {c['all_terminal']}, settled in {c['settle_s']:.1f} s; "
                      f"seats booked once {c['seats_booked_once']}, free {c['seats_free']}; "
                      f"holds left {c['holds_left_held']}, "
                      f"Redis keys left {c['redis_hold_keys_left']}"]
    g = r.get("growth")
    if g:
        lines += ["", "growth"]
        for k, v in g.get("throughput_by_workers", {}).items():
            lines.append(f"  {k} worker process(es): saga {v['saga']:.1f}/s, baseline {v['baseline']:.1f}/s, "
                         f"ratio {v['saga'] / v['baseline']:.2f}")
        for name, sizes in g.get("latency", {}).items():
            small, large = sizes.get("small"), sizes.get("large")
            lines.append(f"  {name:30} small p50 {_ms(_p(small))} p99 {_ms(_p(small, 'p99'))}  "
                         f"large p50 {_ms(_p(large))} p99 {_ms(_p(large, 'p99'))}")
        if g.get("large_round"):
            lr = g["large_round"]
            lines.append(f"  saga round on the large DB: {lr['throughput']:.1f}/s, POST p50 "
                         f"{_ms(lr['api_ms']['post']['p50'])} p99 {_ms(lr['api_ms']['post']['p99'])} ms")
    lines += ["", "checks"]
    for check in r["checks"]:
        mark = {True: "ok  ", False: "MISS", None: "skip"}[check["ok"]]
        lines.append(f"  {mark} {check['name']}: {check['value']} (target {check['target']})")
    for note in r.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)


def chart(r: dict, path) -> None:
    if "saga" not in r:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a, b, saga = r["baseline"]["A"], r["baseline"]["B"], r["saga"]
    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    ax = axes[0]
    for label, samples in (
        ("saga, loaded", saga["loaded"]["samples_e2e_ms"]),
        ("baseline, loaded", a["loaded"]["samples_ms"] + b["loaded"]["samples_ms"]),
        ("saga, 1 client", saga["serial"]["samples_e2e_ms"]),
        ("baseline, 1 client", a["serial"]["samples_ms"] + b["serial"]["samples_ms"]),
    ):
        values = sorted(samples)
        if values:
            ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], label=label)
    ax.set_xscale("log")
    ax.set_xlabel("end-to-end latency, ms (log)")
    ax.set_ylabel("fraction of bookings / chains")
    ax.set_title("Latency distribution (CDF)")
    ax.grid(True, alpha=0.3)
    ax.legend()

    ax = axes[1]
    bars = {"baseline A": a["loaded"]["throughput"], "saga": saga["loaded"]["throughput"],
            "baseline B": b["loaded"]["throughput"]}
    for k, v in r.get("growth", {}).get("throughput_by_workers", {}).items():
        bars[f"saga, {k} proc"] = v["saga"]
        bars[f"baseline, {k} proc"] = v["baseline"]
    ax.bar(list(bars), list(bars.values()), color=["#888" if "baseline" in k else "#1f77b4" for k in bars])
    ax.set_ylabel("per second")
    ax.set_title(f"Throughput ({r['config']['workers']} worker processes unless noted)")
    ax.tick_params(axis="x", rotation=30)

    ax = axes[2]
    api = {k: v for k, v in saga["loaded"]["api_ms"].items() if v}
    x = range(len(api))
    ax.bar([i - 0.2 for i in x], [v["p50"] for v in api.values()], width=0.4, label="p50")
    ax.bar([i + 0.2 for i in x], [v["p99"] for v in api.values()], width=0.4, label="p99")
    ax.set_xticks(list(x), [f"{k} GET" if k != "post" else "POST" for k in api])
    ax.set_ylabel("ms")
    ax.set_title("API latency under load")
    ax.legend()
    fig.suptitle(f"Booking saga vs plain Celery chain, {r['config']['database']}, {r['config']['started']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
