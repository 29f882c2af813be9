"""Growth: throughput at 1 and 2 worker processes, and read latency as the tables grow.

The latency part times the same requests on the database as the benchmark left it and again
after 10,000 flights (1.62M seats) and 100,000 finished sagas (with their steps, holds, tickets)
were bulk-inserted. Requests are sequential, from one client, so they measure the reads and not
a queue.
"""

from __future__ import annotations

import itertools
import time

import bench_data
import bench_load
import httpx
from bench_stack import log

REPEAT = 300


def run(bench) -> dict:
    a = bench.args
    out: dict = {"throughput_by_workers": {}}
    for k in (1, 2):
        n = max(60, a.sagas // 2)
        log(f"growth: {n} sagas and {n} chains at {k} worker process(es)")
        saga = bench.with_worker("worker", k, lambda n=n: _sagas(bench, n))
        base = bench.with_worker("baseline", k, lambda n=n: _chains(bench, n))
        out["throughput_by_workers"][str(k)] = {
            "saga": saga["throughput"], "baseline": base["throughput"],
            "saga_cpu_ms": saga["cpu_ms_per_saga"], "baseline_cpu_ms": base["cpu_ms_per_chain"]}

    out["latency"] = {}
    out["rows_small"] = bench_data.counts(bench.app)
    _latencies(bench, "small", out["latency"])
    log(f"growth: bulk-inserting {a.growth_flights} flights and {a.growth_sagas} finished sagas")
    out["load_seconds"] = bench_data.grow(bench.app, a.growth_flights, a.growth_sagas, log=log)
    out["rows_large"] = bench_data.counts(bench.app)
    _latencies(bench, "large", out["latency"])
    out["ratios"] = {name: sizes["large"]["p50"] / sizes["small"]["p50"]
                     for name, sizes in out["latency"].items() if sizes.get("small") and sizes.get("large")}

    n = min(200, a.sagas)
    log(f"growth: {n} sagas on the large database")
    out["large_round"] = bench.with_worker("worker", a.workers, lambda: _sagas(bench, n))
    out["large_round"].pop("samples_e2e_ms", None)
    return out


def _sagas(bench, n: int) -> dict:
    bench.warm_sagas(bench.args.clients)
    return bench.sagas(n, bench.args.clients, bench.args.poll_interval)


def _chains(bench, n: int) -> dict:
    bench.warm_baseline(bench.args.clients)
    return bench.baseline(n, bench.args.clients)


def _latencies(bench, size: str, into: dict) -> None:
    """Status GETs of finished sagas, the seat map (HTTP when served, its SQL reads in any case)."""
    ids = itertools.cycle(bench.serial_ids)
    timings = bench_load.Timings()
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
        if bench.seatmap:
            for i in range(REPEAT):
                started = time.perf_counter()
                http.get(f"/api/v1/flights/{bench.flights[i % len(bench.flights)]}/seats")
                timings.seatmap.append((time.perf_counter() - started) * 1000)
    into.setdefault("status GET", {})[size] = bench_load.summary(timings.status)
    if timings.seatmap:
        into.setdefault("seat map GET", {})[size] = bench_load.summary(timings.seatmap)
    sql = bench_data.seat_map_sql_ms(bench.app, bench.flights[0], REPEAT)
    into.setdefault("seat map SQL reads (in-process)", {})[size] = bench_load.summary(sql)
    if timings.errors:
        into.setdefault("errors", []).extend(timings.errors[:10])
