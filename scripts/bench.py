#!/usr/bin/env python3
"""Benchmark the booking saga on the real stack, beside a plain Celery chain on the same broker.

    .venv/bin/python scripts/bench.py --quick                  # ~1 minute smoke run, SQLite
    .venv/bin/python scripts/bench.py                          # the full run, SQLite
    .venv/bin/python scripts/bench.py --growth --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test_bench

Starts gunicorn (API, payment, loyalty) and one Celery worker node with K prefork processes, on
Redis DBs of its own (holds 3, broker 2 by default: both are flushed) and SQLite files in a temp
dir, or the PostgreSQL database given (emptied). Rounds, in this order: baseline, saga, baseline
again (the baseline figure is their mean, so drift in machine load shows and cancels), the
contention race, then optionally growth. Prints a table and writes JSON and a PNG chart to
bench-results/. Not a test: absolute numbers move with the machine's load; compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import bench_data
import bench_load
import bench_report
import httpx
import redis
from bench_stack import ROOT, Settings, Stack, log

# The booking app and celeryconfig are imported from the project's root.
sys.path.insert(1, str(ROOT))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a ~1 minute smoke run")
    parser.add_argument("--sagas", type=int, help="sagas in the throughput round (default 600, quick 120)")
    parser.add_argument("--clients", type=int, help="concurrent HTTP clients (default 16, quick 8)")
    parser.add_argument("--workers", type=int, default=2, help="Celery prefork processes (default 2)")
    parser.add_argument("--contention", type=int, help="attempts racing for one flight (500, quick 150)")
    parser.add_argument("--serial", type=int, help="sagas booked one at a time (40, quick 15)")
    parser.add_argument("--growth", action="store_true", help="also: 1 vs 2 workers, 10k flights, 100k sagas")
    parser.add_argument("--growth-flights", type=int, default=10_000)
    parser.add_argument("--growth-sagas", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="also: a round under py-spy (web and worker)")
    parser.add_argument("--poll-interval", type=float, default=0.2,
                        help="seconds between status polls of a client in the throughput round (0.2)")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=4)
    parser.add_argument("--database-url", help="PostgreSQL URL of a database the benchmark may empty")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server (no DB number)")
    parser.add_argument("--holds-db", type=int, default=3)
    parser.add_argument("--broker-db", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (databases and logs)")
    args = parser.parse_args(argv)
    defaults = {"sagas": (600, 120), "clients": (16, 8), "contention": (500, 150), "serial": (40, 15)}
    for name, (full, quick) in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)
    return args


class SeatPool:
    """Distinct seats, handed out round-robin over the flights so neighbours book different flights."""

    def __init__(self, flight_ids: list[int], numbers: list[str]) -> None:
        self._free = [(f, n) for n in numbers for f in flight_ids]
        self._free.reverse()

    def jobs(self, count: int) -> list[tuple[int, list[str]]]:
        if count > len(self._free):
            raise RuntimeError("the seat pool ran out: create more flights")
        return [(f, [n]) for f, n in (self._free.pop() for _ in range(count))]


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.settings = Settings(workdir=workdir, database_url=args.database_url, redis_base=args.redis,
                                 holds_db=args.holds_db, broker_db=args.broker_db,
                                 web_workers=args.web_workers, web_threads=args.web_threads)
        self.stack = Stack(self.settings)
        self.done_redis = redis.Redis.from_url(self.stack.env["BENCH_DONE_URL"], max_connections=256)
        self.results: dict = {"config": self._config(), "notes": []}

    def _config(self) -> dict:
        a = self.args
        return {"database": "postgresql" if a.database_url else "sqlite", "sagas": a.sagas,
                "clients": a.clients, "workers": a.workers, "pool": "prefork", "contention": a.contention,
                "serial": a.serial, "poll_interval_s": a.poll_interval, "web_workers": a.web_workers,
                "web_threads": a.web_threads, "redis_dbs": {"holds": a.holds_db, "broker": a.broker_db},
                "quick": a.quick, "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "load_average": os.getloadavg()}

    # --- setup ------------------------------------------------------------------------------

    def setup(self) -> None:
        for db in (self.args.holds_db, self.args.broker_db):
            redis.Redis.from_url(f"{self.args.redis}/{db}").flushdb()
        if self.args.database_url:
            bench_data.reset_postgres(self.args.database_url)
        self.stack.migrate()
        for name in ("payment", "loyalty", "web"):
            self.stack.start(name)
        # The app and the baseline producer read these at import or creation time.
        for name in ("INSTANCE_DIR", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "BENCH_DONE_URL",
                     "PAYMENT_URL", "LOYALTY_URL", "SECRET_KEY"):
            os.environ[name] = self.stack.env[name]
        from app import create_app

        self.app = create_app()
        a = self.args
        warmups = 4 * a.clients * (3 if a.growth else 2)
        needed = (warmups + a.serial + a.sagas * (2 if a.profile else 1) + 2
                  + (2 * max(60, a.sagas // 2) + 200 + 2 * a.clients if a.growth else 0))
        flights = max(4, -(-needed // 162) + 1)
        self.tokens = bench_data.create_users(self.app, max(a.clients, 8))
        self.flights = bench_data.create_flights(self.app, flights)
        self.pool = SeatPool(self.flights, bench_data.seat_numbers())
        log(f"stack up at {self.stack.base_url}; {flights} flights, {len(self.tokens)} users")
        probe = httpx.get(f"{self.stack.base_url}/api/v1/flights/{self.flights[0]}/seats", timeout=10)
        self.seatmap = probe.status_code == 200
        if not self.seatmap:
            self.results["notes"].append(
                f"GET /api/v1/flights/<id>/seats answered {probe.status_code}: not on this branch yet, "
                "so its columns are skipped; the growth phase times the seat map's SQL reads in-process.")

    # --- rounds -----------------------------------------------------------------------------

    def cpu_per(self, before: tuple[dict, float], count: int) -> dict[str, float]:
        """CPU milliseconds per saga (or chain) of each process group, and of this driver."""
        stack_before, own_before = before
        stack_after, own_after = self.cpu_snapshot()
        used = {name: (stack_after[name] - stack_before.get(name, 0.0)) for name in stack_after}
        used["driver"] = own_after - own_before
        return {name: round(seconds * 1000 / count, 2) for name, seconds in used.items()}

    def cpu_snapshot(self) -> tuple[dict, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return self.stack.cpu_seconds(), own.ru_utime + own.ru_stime

    def baseline(self, count: int, clients: int) -> dict:
        before = self.cpu_snapshot()
        chains, started, ended = bench_load.baseline_round(self.done_redis, count, clients)
        finished = [c for c in chains if c.done_at is not None]
        first = min(c.sent_at for c in chains)
        last = max(c.done_at for c in finished)
        latencies = [(c.done_at - c.sent_at) * 1000 for c in finished]
        return {"n": len(chains), "finished": len(finished), "clients": clients,
                "throughput": len(finished) / (last - first),
                "latency_ms": bench_load.summary(latencies), "wall_s": ended - started,
                "cpu_ms_per_chain": self.cpu_per(before, len(chains)),
                "samples_ms": sorted(round(v, 2) for v in latencies)}

    def sagas(self, count: int, clients: int, poll: float, seatmap: bool = False) -> dict:
        jobs = self.pool.jobs(count)
        tokens = self.tokens if clients > 1 else self.tokens[:1]
        before = self.cpu_snapshot()
        done = bench_load.saga_round(self.stack.base_url, tokens, jobs, clients, poll,
                                     self.flights if seatmap and self.seatmap else None)
        cpu = self.cpu_per(before, len(jobs))
        rows = bench_data.saga_rows(self.app, [b.saga_id for b in done.booked])
        ended = [rows[b.saga_id] for b in done.booked if rows[b.saga_id].status in bench_data.TERMINAL]
        confirmed = [b for b in done.booked if rows[b.saga_id].status == "confirmed"]
        first = min(b.sent_at for b in done.booked)
        last = max(r.updated_at for r in ended)
        t = done.timings
        result = {
            "n": len(jobs), "accepted": len(done.booked), "terminal": len(ended), "confirmed": len(confirmed),
            "outcomes": _outcomes(rows.values()), "clients": clients, "poll_interval_s": poll,
            # From the first POST sent to the last saga's terminal timestamp (updated_at).
            "throughput": len(ended) / (last - first),
            # POST sent (client clock) -> the saga's updated_at when it became confirmed: no poll delay.
            "e2e_ms": bench_load.summary([(rows[b.saga_id].updated_at - b.sent_at) * 1000
                                          for b in confirmed]),
            # The saga's own timestamps: row written in the POST -> confirmed.
            "saga_ms": bench_load.summary([(rows[b.saga_id].updated_at - rows[b.saga_id].created_at) * 1000
                                           for b in confirmed]),
            # POST sent -> the poll that first showed it terminal: includes up to one poll interval.
            "seen_ms": bench_load.summary([(b.seen_at - b.sent_at) * 1000 for b in confirmed if b.seen_at]),
            "api_ms": {"post": bench_load.summary(t.post), "status": bench_load.summary(t.status),
                       "seatmap": bench_load.summary(t.seatmap) if t.seatmap else None},
            "status_not_modified": t.status_not_modified, "cpu_ms_per_saga": cpu,
            "errors": t.errors[:20], "error_count": len(t.errors),
            "wall_s": done.ended - done.started,
        }
        result["samples_e2e_ms"] = sorted(round((rows[b.saga_id].updated_at - b.sent_at) * 1000, 2)
                                          for b in confirmed)
        result["_ids"] = [b.saga_id for b in done.booked]  # kept out of the JSON
        return result

    def with_worker(self, name: str, workers: int, rounds) -> object:
        self.stack.start(name, workers=workers)
        try:
            return rounds()
        finally:
            self.stack.stop(name)

    def warm_baseline(self, clients: int) -> None:
        self.baseline(2 * clients, clients)

    def warm_sagas(self, clients: int) -> None:
        self.sagas(2 * clients, clients, self.args.poll_interval)

    def trace(self) -> None:
        """Round trips of one booking, counted in-process before any worker runs."""
        import bench_trace

        broker = redis.Redis.from_url(self.stack.env["CELERY_BROKER_URL"])
        # Twice: the first pays for connections and caches; the second is the steady state.
        for flight, [seat] in self.pool.jobs(2):
            trace = bench_trace.trace_one(self.app, self.tokens[0], flight, seat, broker)
        trace["baseline chain"] = {"broker_message_bytes": [bench_trace.baseline_message_bytes(broker)]}
        self.results["trace"] = trace
        for part, count in trace.items():
            if "sql_statements" in count:
                log(f"  {part}: SQL {count['sql_statements']} ({count['sql_commits']} commits, "
                    f"{count['pool_checkouts']} pool checkouts), "
                    f"Redis {count['redis_round_trips']}, HTTP {count['http_calls']}, {count['ms']} ms")

    def run_main(self) -> None:
        a, r = self.args, self.results
        k = a.workers
        log("trace: one booking's round trips, in-process")
        self.trace()

        def baseline_rounds() -> dict:
            self.warm_baseline(a.clients)
            serial = self.baseline(a.serial, 1)
            loaded = self.baseline(a.sagas, a.clients)
            return {"serial": serial, "loaded": loaded}

        log(f"baseline A: {a.sagas} no-op chains, {a.clients} clients, {k} worker processes")
        first = self.with_worker("baseline", k, baseline_rounds)
        log(f"  {first['loaded']['throughput']:.1f} chains/s")

        def saga_rounds() -> dict:
            self.warm_sagas(a.clients)
            serial = self.sagas(a.serial, 1, 0.02)
            log(f"  serial: p50 {serial['e2e_ms']['p50']:.0f} ms")
            loaded = self.sagas(a.sagas, a.clients, a.poll_interval, seatmap=True)
            out = {"serial": serial, "loaded": loaded}
            if a.profile:
                import bench_profile

                log("profile round under py-spy (its figures are not used)")
                out["profile"] = bench_profile.profile_round(self, min(a.sagas, 150), a.clients)
            return out

        log(f"saga: {a.sagas} bookings, {a.clients} clients, {k} worker processes")
        saga = self.with_worker("worker", k, saga_rounds)
        log(f"  {saga['loaded']['throughput']:.1f} sagas/s")
        self.serial_ids = saga["serial"]["_ids"]

        log("baseline B")
        second = self.with_worker("baseline", k, baseline_rounds)
        log(f"  {second['loaded']['throughput']:.1f} chains/s")
        r["baseline"] = {"A": first, "B": second}
        r["saga"] = saga

        log(f"contention: {a.contention} attempts at 1-3 seats of one flight")
        r["contention"] = self.with_worker("worker", k, self.contention)

    def contention(self) -> dict:
        flight = bench_data.create_flights(self.app, 1)[0]
        numbers = bench_data.seat_numbers()
        rng = random.Random(7)
        attempts = [(flight, rng.sample(numbers, rng.randint(1, 3))) for _ in range(self.args.contention)]
        fired = bench_load.race(self.stack.base_url, self.tokens, attempts, max(32, self.args.clients))
        deadline = time.monotonic() + 300
        while bench_data.unfinished_on(self.app, flight) and time.monotonic() < deadline:
            time.sleep(0.25)
        rows = bench_data.saga_rows(self.app, [b.saga_id for b in fired.booked])
        outcome = bench_data.contention_outcome(self.app, flight)
        terminal = [row for row in rows.values() if row.status in bench_data.TERMINAL]
        first = min(b.sent_at for b in fired.booked)
        outcome.update({
            "attempts": len(attempts), "accepted": len(fired.booked), "terminal": len(terminal),
            "all_terminal": len(terminal) == len(attempts),
            "confirmed": sum(1 for row in terminal if row.status == "confirmed"),
            "seat_unavailable": sum(1 for row in terminal if row.failure_reason == "seat_unavailable"),
            "settle_s": max(row.updated_at for row in terminal) - first if terminal else None,
            "post_ms": bench_load.summary(fired.timings.post), "errors": fired.timings.errors[:10],
            "redis_hold_keys_left": sum(1 for _ in self.done_redis.scan_iter(f"hold:{{{flight}}}:*")),
        })
        outcome["every_seat_once_or_free"] = (
            outcome["double_bookings"] == 0 and outcome["tickets_match_sagas"]
            and outcome["seats_booked_once"] + outcome["seats_free"] == len(numbers)
            and outcome["holds_left_held"] == 0 and outcome["redis_hold_keys_left"] == 0)
        log(f"  confirmed {outcome['confirmed']}, double bookings {outcome['double_bookings']}, "
            f"settled in {outcome['settle_s']:.1f} s")
        return outcome

    def run_growth(self) -> None:
        import bench_growth

        self.results["growth"] = bench_growth.run(self)


def _outcomes(rows) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        key = row.status if row.failure_reason is None else f"{row.status}:{row.failure_reason}"
        counts[key] = counts.get(key, 0) + 1
    return counts


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    bench = Bench(args, workdir)
    ok = False
    try:
        bench.setup()
        bench.run_main()
        if args.growth:
            bench.run_growth()
        ok = True
    finally:
        bench.stack.stop_all()
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"databases and logs kept in {workdir}", file=sys.stderr)
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{bench.results['config']['database']}{'-quick' if args.quick else ''}"
    args.out.mkdir(parents=True, exist_ok=True)
    report = bench_report.derive(bench.results)
    (args.out / f"{name}.json").write_text(json.dumps(report, indent=2, default=str))
    bench_report.chart(report, args.out / f"{name}.png")
    print(bench_report.table(report))
    print(f"\nwritten: {args.out / (name + '.json')}, {args.out / (name + '.png')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
