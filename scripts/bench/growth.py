"""Growth: throughput at 1, 2 and 4 worker processes, and read latency as the tables grow.

The latency part times the same requests on the database as the benchmark left it and again
after 10,000 flights (1.62M seats) and 100,000 finished sagas (with their steps, holds, tickets)
were bulk-inserted. Requests are sequential, from one client, so they measure the reads and not
a queue.
"""

from __future__ import annotations

import itertools
import time

import httpx

from scripts.bench import data, load
from scripts.bench.stack import log

REPEAT = 300


def run(bench) -> dict:
    a = bench.args
    out: dict = {"throughput_by_workers": {}}
    for k in (1, 2, 4):
        n = max(60, a.sagas // 2)
        log(f"growth: {n} bookings of the saga and of the bare chain at {k} worker process(es)")
        saga = bench.system_rounds("saga", k, sagas=n, serial=False)["loaded"]
        bare = bench.system_rounds("bare", k, sagas=n, serial=False)["loaded"]
        out["throughput_by_workers"][str(k)] = {
            "saga": saga["throughput"], "bare": bare["throughput"],
            "saga_cpu_ms": saga["cpu_ms"], "bare_cpu_ms": bare["cpu_ms"]}

    out["latency"] = {}
    out["rows_small"] = data.counts(bench.app)
    _latencies(bench, "small", out["latency"])
    log(f"growth: bulk-inserting {a.growth_flights} flights and {a.growth_sagas} finished sagas")
    out["load_seconds"] = data.grow(bench.app, a.growth_flights, a.growth_sagas, log=log)
    out["rows_large"] = data.counts(bench.app)
    _latencies(bench, "large", out["latency"])
    out["ratios"] = {name: sizes["large"]["p50"] / sizes["small"]["p50"]
                     for name, sizes in out["latency"].items() if sizes.get("small") and sizes.get("large")}

    n = min(200, a.sagas)
    log(f"growth: {n} sagas on the large database")
    out["large_round"] = bench.system_rounds("saga", a.workers, sagas=n, serial=False)["loaded"]
    out["large_round"].pop("samples_ms", None)
    return out


def _latencies(bench, size: str, into: dict) -> None:
    """Status GETs of finished sagas, the seat map (HTTP when served, its SQL reads in any case)."""
    ids = itertools.cycle(bench.serial_ids)
    timings = load.Timings()
    with httpx.Client(base_url=bench.stack.base_url, timeout=30,
                      headers={"Authorization": f"Bearer {bench.tokens[0]}"}) as http:
        for _ in range(20):  # warm the pools and caches of both web processes
            http.get(f"/api/v1/bookings/{next(ids)}")
        for _ in range(REPEAT):
            started = time.perf_counter()
            response = http.get(f"/api/v1/bookings/{next(ids)}")
            timings.status.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                timings.errors.append(f"GET {response.status_code}")
        for i in range(REPEAT):
            started = time.perf_counter()
            http.get(f"/api/v1/flights/{bench.flights[i % len(bench.flights)]}/seats")
            timings.seatmap.append((time.perf_counter() - started) * 1000)
    into.setdefault("status GET", {})[size] = load.summary(timings.status)
    if timings.seatmap:
        into.setdefault("seat map GET", {})[size] = load.summary(timings.seatmap)
    sql = data.seat_map_sql_ms(bench.app, bench.flights[0], REPEAT)
    into.setdefault("seat map SQL reads (in-process)", {})[size] = load.summary(sql)
    if timings.errors:
        into.setdefault("errors", []).extend(timings.errors[:10])
