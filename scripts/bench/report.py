"""The benchmark's report: ratios and targets derived from the rounds, a table, a PNG chart."""

from __future__ import annotations

import statistics

# The figures to reach on the 2-core machine, as ratios of one run (saga / the same work done bare).
TARGETS = {
    "throughput_vs_bare_min": 0.75,
    "throughput_vs_peer_min": 1.0,
    "p50_alone_vs_bare_max": 1.3,
    "cpu_vs_bare_max": 1.4,
    "status_p50_ms_max": 5.0,
    "seatmap_p50_ms_max": 5.0,
    "post_p99_ms_max": 30.0,
    "growth_ratio_max": 1.5,
}
SYSTEMS = ("saga", "bare", "celery-saga", "noop")


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
    if "cycles" not in r:
        return r
    cycles = r["cycles"]
    bares = [cycle["bare"] for cycle in cycles] + [r["bare_last"]]
    # Each cycle's saga against the bare chain's rounds on either side of it, and celery-saga's of
    # the same cycle; the ratios reported are the median over the cycles.
    r["ratios_by_cycle"] = [_ratios(cycle["saga"], cycle["celery-saga"], (bares[i], bares[i + 1]), r["noop"])
                            for i, cycle in enumerate(cycles)]
    ratios = {name: statistics.median(by_cycle[name] for by_cycle in r["ratios_by_cycle"])
              for name in r["ratios_by_cycle"][0]}
    r["ratios"] = ratios
    # The rounds shown: each system's median by throughput (the saga's with its seat-map round).
    saga = {**_median_round([cycle["saga"] for cycle in cycles]), "reads": cycles[0]["saga"].get("reads")}
    r["systems"] = {"bare": _median_round(bares), "saga": saga, "noop": r["noop"],
                    "celery-saga": _median_round([cycle["celery-saga"] for cycle in cycles])}
    r["bare_throughputs"] = [bare["loaded"]["throughput"] for bare in bares]
    api = {**saga["loaded"]["api_ms"], "seatmap": (saga["reads"] or {}).get("api_ms", {}).get("seatmap")}
    checks = [
        _check("saga/bare throughput", ratios["throughput_vs_bare"], ">=", TARGETS["throughput_vs_bare_min"]),
        _check("saga/celery-saga throughput", ratios["throughput_vs_peer"], ">=",
               TARGETS["throughput_vs_peer_min"]),
        _check("saga/bare p50 alone", ratios["p50_alone_vs_bare"], "<=", TARGETS["p50_alone_vs_bare_max"]),
        _check("saga/bare CPU per booking", ratios["cpu_vs_bare"], "<=", TARGETS["cpu_vs_bare_max"]),
        _check("status GET p50 ms (long poll: includes the wait)", None, "<=", TARGETS["status_p50_ms_max"]),
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


def _ratios(saga: dict, peer: dict, bares: tuple[dict, dict], noop: dict) -> dict[str, float]:
    def bare(figure) -> float:
        return statistics.fmean(figure(x) for x in bares)

    throughput = bare(lambda x: x["loaded"]["throughput"])
    return {
        "throughput_vs_bare": saga["loaded"]["throughput"] / throughput,
        "throughput_vs_peer": saga["loaded"]["throughput"] / peer["loaded"]["throughput"],
        "p50_alone_vs_bare": (saga["serial"]["latency_ms"]["p50"]
                              / bare(lambda x: x["serial"]["latency_ms"]["p50"])),
        "p50_loaded_vs_bare": (saga["loaded"]["latency_ms"]["p50"]
                               / bare(lambda x: x["loaded"]["latency_ms"]["p50"])),
        "cpu_vs_bare": saga["loaded"]["cpu_ms"]["total"] / bare(lambda x: x["loaded"]["cpu_ms"]["total"]),
        "peer_vs_bare": peer["loaded"]["throughput"] / throughput,
        "noop_vs_bare": noop["loaded"]["throughput"] / throughput,
        # How much the machine's speed moved within the cycle: the later bare round over the earlier.
        "bare_drift": bares[1]["loaded"]["throughput"] / bares[0]["loaded"]["throughput"],
    }


def _median_round(rounds: list[dict]) -> dict:
    return sorted(rounds, key=lambda x: x["loaded"]["throughput"])[(len(rounds) - 1) // 2]


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
             f"{cfg['clients']} clients, {cfg['sagas']} bookings per round, beat running, "
             f"web {cfg['web_workers']}x{cfg['web_threads']}, "
             f"load average at start {cfg['load_average'][0]:.2f}"]
    if "cycles" not in r:
        return "\n".join(lines)
    systems = r["systems"]
    header = (f"{'':28}{'per s':>7}{'alone p50':>10}{'p50':>8}{'p95':>8}{'p99':>8}"
              f"{'CPU ms':>8}  CPU by process (ms per booking)")
    lines += ["", header, "-" * len(header)]

    def row(label: str, x: dict) -> str:
        loaded, lat = x["loaded"], x["loaded"]["latency_ms"]
        alone = x.get("serial", {}).get("latency_ms", {}).get("p50")
        cpu = loaded["cpu_ms"]
        parts = ", ".join(f"{k} {v:.1f}" for k, v in cpu.items() if k != "total" and v >= 0.05)
        return (f"{label:28}{loaded['throughput']:>7.1f}{_ms(alone):>10}{_ms(lat['p50']):>8}"
                f"{_ms(lat['p95']):>8}{_ms(lat['p99']):>8}{cpu['total']:>8.1f}  {parts}")

    lines += [row("bare chain", systems["bare"]),
              row("celery-saga 0.1.1", systems["celery-saga"]),
              row("no-op chain", systems["noop"]),
              row("saga over its HTTP API", systems["saga"])]
    cycles = len(r["cycles"])
    if cycles > 1:
        lines.append(f"(each system's median round of {cycles} cycles; the no-op chain's one round)")
    saga = systems["saga"]["loaded"]
    lines += ["", "latency: the compared systems from enqueue to their last task's finish; the saga from "
                  "POST sent to its confirmed timestamp",
              f"saga: own timestamps p50 {_ms(saga['saga_ms']['p50'])} ms; seen by its client p50 "
              f"{_ms(saga['seen_ms']['p50'])} ms; {saga['status_gets_per_booking']} status GETs per booking",
              "", f"{'API under load':28}{'n':>7}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"]
    reads = (systems["saga"]["reads"] or {}).get("api_ms", {}).get("seatmap")
    for name, s in {**saga["api_ms"], "seatmap (a round with a reader every 50 ms)": reads}.items():
        if s:
            lines.append(f"  {name:26}{s['n']:>7}{_ms(s['p50']):>9}{_ms(s['p95']):>9}{_ms(s['p99']):>9}")
    lines.append("")
    if cycles > 1:
        for i, by_cycle in enumerate(r["ratios_by_cycle"], 1):
            lines.append(f"cycle {i}: " + _ratio_line(by_cycle).replace("\n", "; "))
        lines.append("bare chain rounds, in order: "
                     + ", ".join(f"{value:.1f}/s" for value in r["bare_throughputs"]))
        lines.append(f"median of the {cycles} cycles:")
    lines += _ratio_line(r["ratios"]).split("\n")
    outcomes = ", ".join(f"{k} {v}" for k, v in saga["outcomes"].items())
    lines.append(f"saga outcomes: {outcomes}; HTTP errors {saga['error_count']}")
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
            lines.append(f"  {k} worker process(es): saga {v['saga']:.1f}/s, bare {v['bare']:.1f}/s, "
                         f"ratio {v['saga'] / v['bare']:.2f}")
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


def _ratio_line(ratios: dict) -> str:
    return (f"saga/bare: throughput {ratios['throughput_vs_bare']:.2f}, p50 alone "
            f"{ratios['p50_alone_vs_bare']:.2f}, p50 loaded {ratios['p50_loaded_vs_bare']:.2f}, "
            f"CPU per booking {ratios['cpu_vs_bare']:.2f}\n"
            f"saga/celery-saga: throughput {ratios['throughput_vs_peer']:.2f}; celery-saga/bare "
            f"{ratios['peer_vs_bare']:.2f}; no-op/bare {ratios['noop_vs_bare']:.2f}; "
            f"bare later/earlier {ratios['bare_drift']:.2f}")


def chart(r: dict, path) -> None:
    if "cycles" not in r:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = {"saga": r["systems"]["saga"], "bare": r["systems"]["bare"],
               "celery-saga": r["systems"]["celery-saga"], "no-op": r["systems"]["noop"]}
    colours = {"saga": "#1f77b4", "bare": "#555", "celery-saga": "#ff7f0e", "no-op": "#bbb"}
    fig, axes = plt.subplots(1, 3, figsize=(17, 5))
    ax = axes[0]
    for name, x in systems.items():
        for round_, style in (("loaded", "-"), ("serial", ":")):
            values = sorted(x[round_]["samples_ms"])
            if values:
                ax.plot(values, [(i + 1) / len(values) for i in range(len(values))], style,
                        color=colours[name], label=f"{name}, {'loaded' if round_ == 'loaded' else 'alone'}")
    ax.set_xscale("log")
    ax.set_xlabel("latency, ms (log)")
    ax.set_ylabel("fraction of bookings")
    ax.set_title("Latency (CDF)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)

    ax = axes[1]
    names = list(systems)
    ax.bar(names, [systems[n]["loaded"]["throughput"] for n in names], color=[colours[n] for n in names])
    ax.set_ylabel("bookings per second")
    ax.set_title(f"Throughput, {r['config']['workers']} worker processes, {r['config']['clients']} clients")

    ax = axes[2]
    processes = sorted({p for x in systems.values() for p in x["loaded"]["cpu_ms"] if p != "total"})
    bottom = [0.0] * len(names)
    for process in processes:
        heights = [systems[n]["loaded"]["cpu_ms"].get(process, 0.0) for n in names]
        ax.bar(names, heights, bottom=bottom, label=process)
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    ax.set_ylabel("CPU ms per booking")
    ax.set_title("CPU per booking, by process")
    ax.legend(fontsize=8)
    fig.suptitle(f"The booking saga beside the same work bare and by celery-saga, "
                 f"{r['config']['database']}, {r['config']['started']}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
