#!/usr/bin/env python3
"""The booking saga over its HTTP API, beside the same work done bare and by celery-saga.

    .venv/bin/python -m scripts.bench --quick                  # a smoke run, SQLite
    .venv/bin/python -m scripts.bench                          # the full run, SQLite
    .venv/bin/python -m scripts.bench --growth --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test_bench

Starts gunicorn (API, payment, loyalty), beat (for the whole run, as in production) and, for each
round, one Celery worker node with K prefork processes, on Redis DBs of its own (holds 3, broker 2,
the comparison chains' broker 1 by default: all are flushed) and SQLite files in a temp dir, or
the PostgreSQL database given (emptied). Rounds, in this order: the bare chain, celery-saga, the
no-op chain, the saga, the bare chain again (the bare figure is the mean of its two rounds, so a
drift in the machine's load shows and cancels), the contention race, then optionally growth.
Prints a table and writes JSON and a PNG chart to bench-results/. Not a test: absolute numbers
move with the machine's load; compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import redis

from app.models import TERMINAL
from scripts.bench import data, load, report
from scripts.bench.stack import ROOT, Settings, Stack, log
from tests.e2e.stack import caller_env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a ~1 minute smoke run")
    parser.add_argument("--sagas", type=int, help="bookings per throughput round (300, quick 100)")
    parser.add_argument("--clients", type=int, help="concurrent HTTP clients (default 16, quick 8)")
    parser.add_argument("--workers", type=int, default=2, help="Celery prefork processes (default 2)")
    parser.add_argument("--contention", type=int, help="attempts racing for one flight (500, quick 150)")
    parser.add_argument("--serial", type=int, help="sagas booked one at a time (40, quick 15)")
    parser.add_argument("--cycles", type=int,
                        help="times the bare chain, celery-saga and the saga run, in turn (3, quick 1): "
                             "the ratios printed are the median cycle's")
    parser.add_argument("--growth", action="store_true", help="also: 1 vs 2 workers, 10k flights, 100k sagas")
    parser.add_argument("--growth-flights", type=int, default=10_000)
    parser.add_argument("--growth-sagas", type=int, default=100_000)
    parser.add_argument("--profile", action="store_true", help="also: a round under py-spy (web and worker)")
    parser.add_argument("--trace-bookings", type=int, default=1,
                        help="bookings traced after the first (the median CPU per part is printed)")
    parser.add_argument("--trace-only", action="store_true",
                        help="only count one booking's round trips, printing its SQL statements (~15 s)")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=32,
                        help="as the Procfile (long polls wait in them)")
    parser.add_argument("--definition-version", type=int, default=1,
                        help="the saga definition new bookings run: 1, the four steps the compared systems "
                             "do too (default); 2 adds e-mailing the itinerary")
    parser.add_argument("--database-url", help="PostgreSQL URL of a database the benchmark may empty")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379", help="Redis server (no DB number)")
    parser.add_argument("--holds-db", type=int, default=3)
    parser.add_argument("--broker-db", type=int, default=2)
    parser.add_argument("--chains-broker-db", type=int, default=1,
                        help="the compared systems' broker: beat's janitor tasks stay on the saga's")
    parser.add_argument("--out", type=Path, default=ROOT / "bench-results")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (databases and logs)")
    args = parser.parse_args(argv)
    if args.trace_bookings < 1:
        parser.error("--trace-bookings must be at least 1")
    if args.cycles is not None and args.cycles < 1:
        parser.error("--cycles must be at least 1")
    defaults = {"sagas": (300, 100), "clients": (16, 8), "contention": (500, 150), "serial": (40, 15),
                "cycles": (3, 1)}
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
                                 definition_version=args.definition_version,
                                 holds_db=args.holds_db, broker_db=args.broker_db,
                                 chains_broker_db=args.chains_broker_db,
                                 web_workers=args.web_workers, web_threads=args.web_threads)
        self.stack = Stack(self.settings)
        # Its clients block on BLPOP for up to load.SAGA_TIMEOUT: redis-py's default socket timeout
        # (5 s) would end a slow booking's wait with an exception in its client thread.
        self.done_redis = redis.Redis.from_url(self.stack.env["BENCH_DONE_URL"], max_connections=256,
                                               socket_timeout=load.SAGA_TIMEOUT + 10)
        self.results: dict = {"config": self._config(), "notes": []}

    def _config(self) -> dict:
        a = self.args
        return {"database": "postgresql" if a.database_url else "sqlite", "sagas": a.sagas,
                "clients": a.clients, "workers": a.workers, "pool": "prefork", "contention": a.contention,
                "serial": a.serial, "long_poll_s": load.LONG_POLL_SECONDS, "web_workers": a.web_workers,
                "web_threads": a.web_threads, "beat": True, "definition_version": a.definition_version,
                "redis_dbs": {"holds": a.holds_db, "broker": a.broker_db,
                              "chains_broker": a.chains_broker_db},
                "quick": a.quick, "started": datetime.now(UTC).isoformat(timespec="seconds"),
                "load_average": os.getloadavg()}

    # --- setup ------------------------------------------------------------------------------

    def setup(self) -> None:
        for db in (self.args.holds_db, self.args.broker_db, self.args.chains_broker_db):
            redis.Redis.from_url(f"{self.args.redis}/{db}").flushdb()
        if self.args.database_url:
            data.reset_postgres(self.args.database_url)
        self.stack.migrate()
        for name in ("mail", "payment", "loyalty", "web", "beat"):
            self.stack.start(name)
        # The app and the compared systems' producers read these at import or creation time.
        for name in ("INSTANCE_DIR", "DATABASE_URL", "REDIS_URL", "BENCH_DONE_URL", "PAYMENT_URL",
                     "LOYALTY_URL", "SECRET_KEY", "BENCH_TOKENIZE_TOKEN", "SAGA_DEFINITION_VERSION",
                     "SMTP_URL"):
            os.environ[name] = self.stack.env[name]
        os.environ.update(caller_env("web"))
        os.environ["CELERY_BROKER_URL"] = self.stack.env["BENCH_CHAINS_BROKER_URL"]
        from app import create_app

        self.app = create_app()
        a = self.args
        rounds = 1 + 3 * a.cycles + 1  # the no-op floor, the cycles, the bare chain once more
        per_round = 2 * a.clients + a.serial + a.sagas
        needed = (rounds * per_round + (a.sagas if a.profile else 0) + 2 + a.trace_bookings
                  + (2 * 3 * max(60, a.sagas // 2) * 2 + 200 if a.growth else 0))
        flights = max(4, -(-needed // 162) + 1)
        self.tokens = data.create_users(self.app, max(a.clients, 8))
        self.flights = data.create_flights(self.app, flights)
        self.pool = SeatPool(self.flights, data.seat_numbers())
        log(f"stack up at {self.stack.base_url}; {flights} flights, {len(self.tokens)} users; beat running")

    # --- rounds -----------------------------------------------------------------------------

    def cpu_per(self, before: tuple[dict, float], count: int) -> dict[str, float]:
        """CPU milliseconds per booking of each process group, of this driver, and in all."""
        stack_before, own_before = before
        stack_after, own_after = self.cpu_snapshot()
        used = {name: (stack_after[name] - stack_before.get(name, 0.0)) for name in stack_after}
        used["driver"] = own_after - own_before
        used["total"] = sum(used.values())
        return {name: round(seconds * 1000 / count, 2) for name, seconds in used.items()}

    def cpu_snapshot(self) -> tuple[dict, float]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        return self.stack.cpu_seconds(), own.ru_utime + own.ru_stime

    def starter(self, system: str):
        """How a client starts one booking of a compared system, straight on its broker."""
        from scripts.bench import chains, work

        if system == "noop":
            return lambda booking_id, flight, seat: chains.start_noop(booking_id)
        if system == "bare":
            return lambda booking_id, flight, seat: chains.start_bare(
                work.booking(booking_id, flight, seat, "bench"))
        from scripts.bench import peer

        return lambda booking_id, flight, seat: peer.start(work.booking(booking_id, flight, seat, "bench"))

    def compared(self, system: str, count: int, clients: int) -> dict:
        jobs = self.pool.jobs(count)
        before = self.cpu_snapshot()
        chains, started, ended = load.broker_round(self.starter(system), self.done_redis, jobs, clients)
        finished = [c for c in chains if c.done_at is not None]
        first = min(c.sent_at for c in chains)
        last = max(c.done_at for c in finished)
        latencies = [(c.done_at - c.sent_at) * 1000 for c in finished]
        return {"n": len(chains), "finished": len(finished), "clients": clients,
                "throughput": len(finished) / (last - first),
                "latency_ms": load.summary(latencies), "wall_s": ended - started,
                "cpu_ms": self.cpu_per(before, len(chains)),
                "samples_ms": sorted(round(v, 2) for v in latencies)}

    def sagas(self, count: int, clients: int, seatmap: bool = False) -> dict:
        jobs = self.pool.jobs(count)
        tokens = self.tokens if clients > 1 else self.tokens[:1]
        before = self.cpu_snapshot()
        done = load.saga_round(self.stack.base_url, tokens, jobs, clients, self.flights if seatmap else None)
        cpu = self.cpu_per(before, len(jobs))
        rows = data.saga_rows(self.app, [b.saga_id for b in done.booked])
        ended = [rows[b.saga_id] for b in done.booked if rows[b.saga_id].status in TERMINAL]
        confirmed = [b for b in done.booked if rows[b.saga_id].status == "confirmed"]
        first = min(b.sent_at for b in done.booked)
        last = max(r.updated_at for r in ended)
        t = done.timings
        e2e = [(rows[b.saga_id].updated_at - b.sent_at) * 1000 for b in confirmed]
        result = {
            "n": len(jobs), "accepted": len(done.booked), "terminal": len(ended), "confirmed": len(confirmed),
            "outcomes": _outcomes(rows.values()), "clients": clients,
            # From the first POST sent to the last saga's terminal timestamp (updated_at).
            "throughput": len(ended) / (last - first),
            # POST sent (client clock) -> the saga's updated_at when it became confirmed: no poll delay.
            "latency_ms": load.summary(e2e),
            # The saga's own timestamps: row written in the POST -> confirmed.
            "saga_ms": load.summary([(rows[b.saga_id].updated_at - rows[b.saga_id].created_at) * 1000
                                     for b in confirmed]),
            # POST sent -> the answer that first showed it terminal.
            "seen_ms": load.summary([(b.seen_at - b.sent_at) * 1000 for b in confirmed if b.seen_at]),
            "api_ms": {"post": load.summary(t.post), "status": load.summary(t.status),
                       "seatmap": load.summary(t.seatmap) if t.seatmap else None},
            "status_gets_per_booking": round(len(t.status) / max(1, len(done.booked)), 2),
            "status_not_modified": t.status_not_modified, "cpu_ms": cpu,
            "errors": t.errors[:20], "error_count": len(t.errors),
            "wall_s": done.ended - done.started,
            "samples_ms": sorted(round(v, 2) for v in e2e),
        }
        result["_ids"] = [b.saga_id for b in done.booked]  # kept out of the JSON
        return result

    def with_worker(self, name: str, workers: int, rounds) -> object:
        self.stack.start(name, workers=workers)
        try:
            return rounds()
        finally:
            self.stack.stop_one(name)

    def system_rounds(self, system: str, workers: int, sagas: int | None = None,
                      serial: bool = True, extras: bool = True) -> dict:
        """One system's rounds on a fresh worker node: a warm-up, one booking at a time, the load
        (and, with `extras`, the saga's seat-map round and its profile)."""
        a = self.args
        sagas = sagas or a.sagas

        def rounds() -> dict:
            out: dict = {}
            if system == "saga":
                self.sagas(2 * a.clients, a.clients)
                if serial:
                    out["serial"] = self.sagas(a.serial, 1)
                out["loaded"] = self.sagas(sagas, a.clients)
                if serial and extras:  # the seat map's latency under load: its reader is load of its own
                    out["reads"] = self.sagas(min(sagas, 100), a.clients, seatmap=True)
                if a.profile and extras:
                    from scripts.bench import profile

                    log("profile round under py-spy (its figures are not used)")
                    out["profile"] = profile.profile_round(self, min(a.sagas, 150), a.clients)
            else:
                self.compared(system, 2 * a.clients, a.clients)
                if serial:
                    out["serial"] = self.compared(system, a.serial, 1)
                out["loaded"] = self.compared(system, sagas, a.clients)
            return out

        worker = "worker" if system == "saga" else {"bare": "chains", "noop": "chains"}.get(system, "peer")
        result = self.with_worker(worker, workers, rounds)
        alone = result.get("serial", {}).get("latency_ms", {}).get("p50")
        log(f"  {system}: {result['loaded']['throughput']:.1f}/s, "
            f"CPU {result['loaded']['cpu_ms']['total']:.0f} ms per booking"
            + (f", alone p50 {alone:.0f} ms" if alone else ""))
        return result

    def trace(self, statements: bool = False) -> None:
        """Round trips of one booking, counted in-process before any worker runs (and each part's
        SQL statements printed, with `statements`)."""
        from scripts.bench import trace

        # The broker this process's app sends to (the POST's chain lands there, not on the stack's).
        broker = redis.Redis.from_url(self.app.extensions["celery"].conf.broker_url)
        # The first booking pays for connections and caches; the ones after it are the steady state,
        # and their median CPU per part is printed (this process's only: the participants are not in it).
        jobs = self.pool.jobs(2 + self.args.trace_bookings)
        # The last booking runs under the profiler, for its Python calls only.
        runs = [trace.trace_one(self.app, self.tokens[i % len(self.tokens)], flight, seat, broker,
                                count_calls=i == len(jobs) - 1)
                for i, (flight, [seat]) in enumerate(jobs)][1:]  # users in turn: the POST's rate limit
        profiled = runs.pop()
        counted = runs[-1]  # its wall-clock ms are printed: the profiled booking's are the profiler's
        cpu = {part: statistics.median(run[part]["cpu_ms"] for run in runs) for part in counted}
        calls = {part: count["python_calls"] for part, count in profiled.items()}
        self.results["trace"] = counted
        self.results["trace_cpu_ms"] = {"bookings": len(runs), "median": cpu, "total": sum(cpu.values())}
        self.results["trace_python_calls"] = {"by_part": calls, "total": sum(calls.values())}
        for part, count in counted.items():
            if "sql_statements" in count:
                log(f"  {part}: SQL {count['sql_statements']} ({count['sql_commits']} commits, "
                    f"{count['pool_checkouts']} pool checkouts), "
                    f"Redis {count['redis_round_trips']}, HTTP {count['http_calls']}, {count['ms']} ms, "
                    f"CPU {cpu[part]:.2f} ms, {calls[part]} Python calls")
                for statement in count["statements"] if statements else ():
                    log(f"      {statement}")
        log(f"  in-process CPU of one booking (median of {len(runs)}): {sum(cpu.values()):.2f} ms; "
            f"Python calls: {sum(calls.values())}")

    def run_main(self) -> None:
        a, r = self.args, self.results
        k = a.workers
        log("trace: one booking's round trips, in-process")
        self.trace()
        log(f"{a.sagas} bookings per round, {a.clients} clients, {k} worker processes; "
            f"{a.cycles} cycle(s) of the bare chain, celery-saga and the saga, then the bare chain again")
        # The machine's speed drifts by tens of percent within minutes: each saga round is compared
        # with the rounds of the same cycle (the bare chain's on either side of it), and the ratios
        # printed are the median cycle's. The no-op floor runs once.
        r["noop"] = self.system_rounds("noop", k)
        r["cycles"] = [{system: self.system_rounds(system, k, extras=cycle == 0)
                        for system in ("bare", "celery-saga", "saga")} for cycle in range(a.cycles)]
        r["bare_last"] = self.system_rounds("bare", k)
        self.serial_ids = r["cycles"][0]["saga"]["serial"]["_ids"]
        log(f"contention: {a.contention} attempts at 1-3 seats of one flight")
        r["contention"] = self.with_worker("worker", k, self.contention)

    def contention(self) -> dict:
        flight = data.create_flights(self.app, 1)[0]
        numbers = data.seat_numbers()
        rng = random.Random(7)
        attempts = [(flight, rng.sample(numbers, rng.randint(1, 3))) for _ in range(self.args.contention)]
        fired = load.race(self.stack.base_url, self.tokens, attempts, max(32, self.args.clients))
        deadline = time.monotonic() + 300
        while data.unfinished_on(self.app, flight) and time.monotonic() < deadline:
            time.sleep(0.25)
        rows = data.saga_rows(self.app, [b.saga_id for b in fired.booked])
        outcome = data.contention_outcome(self.app, flight)
        terminal = [row for row in rows.values() if row.status in TERMINAL]
        first = min(b.sent_at for b in fired.booked)
        outcome.update({
            "attempts": len(attempts), "accepted": len(fired.booked), "terminal": len(terminal),
            "all_terminal": len(terminal) == len(attempts),
            "confirmed": sum(1 for row in terminal if row.status == "confirmed"),
            "seat_unavailable": sum(1 for row in terminal if row.failure_reason == "seat_unavailable"),
            "settle_s": max(row.updated_at for row in terminal) - first if terminal else None,
            "post_ms": load.summary(fired.timings.post), "errors": fired.timings.errors[:10],
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
        from scripts.bench import growth

        self.results["growth"] = growth.run(self)


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
        if args.trace_only:
            bench.trace(statements=True)
        else:
            bench.run_main()
            if args.growth:
                bench.run_growth()
        ok = True
    finally:
        bench.stack.stop()
        if ok and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"databases and logs kept in {workdir}", file=sys.stderr)
    if args.trace_only:
        return 0
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{bench.results['config']['database']}{'-quick' if args.quick else ''}"
    args.out.mkdir(parents=True, exist_ok=True)
    derived = report.derive(bench.results)
    (args.out / f"{name}.json").write_text(json.dumps(derived, indent=2, default=str))
    report.chart(derived, args.out / f"{name}.png")
    print(report.table(derived))
    print(f"\nwritten: {args.out / (name + '.json')}, {args.out / (name + '.png')}")
    return 0

