"""A saga round under py-spy: where the CPU of the web, worker and participant processes goes.

py-spy samples each process group (with its children) from outside; only the thread holding the
GIL is sampled (`--gil`): that is Python running. Without it py-spy also counted threads blocked
in a lock's or an event's wait as running (the lease heartbeat's idle wait showed as 8 % of the
worker), and the C time of a driver call that releases the GIL (a socket send, an fsync) is not
Python's anyway: the CPU figures of the rounds count all of it. The raw collapsed stacks are
kept in bench-results/ for flame graphs; the summary groups each sample's leaf frame by library,
and counts samples under a few functions of the saga's hot path.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
from collections import Counter
from pathlib import Path

from scripts.bench.stack import VENV_BIN

# Leaf frame's file -> what it is; first match wins.
LIBRARIES = (
    ("sqlite3", "SQL driver"), ("psycopg", "SQL driver"), ("sqlalchemy", "SQLAlchemy"),
    ("redis/", "redis-py"), ("kombu/", "kombu"), ("billiard/", "billiard"), ("celery/", "celery"),
    ("httpx/", "httpx/httpcore"), ("httpcore/", "httpx/httpcore"), ("h11/", "httpx/httpcore"),
    ("marshmallow/", "marshmallow"), ("flask_smorest/", "flask-smorest"), ("apispec/", "flask-smorest"),
    ("werkzeug/", "Flask/Werkzeug"), ("flask/", "Flask/Werkzeug"), ("flask_sqlalchemy/", "SQLAlchemy"),
    ("gunicorn/", "gunicorn"), ("logging/", "logging"), ("json/", "json"), ("/app/", "app code"),
    ("argon2", "argon2"),
)
# Inclusive samples under these functions (substring of the frame).
HOT = ("start_step (", "finish_step (", "transition (", "load (", "keep_hold_for_next_step (",
       "reserve_seat (", "authorize_payment (", "award_miles (", "confirm_booking (",
       "_call (", "start_booking (", "apply_async (", "dump (", "_user_for_token (", "commit (",
       "emit (", "send_event (", "on_step_failed (")
FRAME = re.compile(r"^(?P<func>.+?) \((?P<file>[^:]+):\d+\)$")


def profile_round(bench, count: int, clients: int) -> dict:
    out_dir: Path = bench.args.out / "profiles"
    out_dir.mkdir(parents=True, exist_ok=True)
    py_spy = str(VENV_BIN / "py-spy") if (VENV_BIN / "py-spy").exists() else shutil.which("py-spy")
    samplers = {}
    for name in ("web", "worker", "payment", "loyalty"):
        path = out_dir / f"{bench.results['config']['database']}-{name}.txt"
        samplers[name] = (path, subprocess.Popen(
            [py_spy, "record", "--pid", str(bench.stack.procs[name].pid), "--subprocesses", "--rate", "100",
             "--gil", "--format", "raw", "--nonblocking", "--output", str(path)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        round_ = bench.sagas(count, clients)
    finally:
        for _, proc in samplers.values():
            proc.send_signal(signal.SIGINT)
        for _, proc in samplers.values():
            proc.wait(timeout=60)
    return {"throughput_under_profiler": round_["throughput"],
            "processes": {name: summarize(path) for name, (path, _) in samplers.items() if path.exists()}}


def summarize(path: Path) -> dict:
    by_library: Counter = Counter()
    hot: Counter = Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not samples.isdigit():
            continue
        n = int(samples)
        frames = stack.split(";")
        total += n
        by_library[_library(frames[-1])] += n
        for name in {h for h in HOT for frame in frames if frame.startswith(h)}:
            hot[name.rstrip(" (")] += n
    share = {k: round(100 * v / total, 1) for k, v in by_library.most_common()} if total else {}
    return {"samples": total, "self_by_library_pct": share,
            "inclusive_pct": {k: round(100 * v / total, 1) for k, v in hot.most_common()} if total else {}}


def _library(frame: str) -> str:
    match = FRAME.match(frame)
    file = match.group("file") if match else frame
    for needle, name in LIBRARIES:
        if needle in file:
            return name
    return "other (stdlib, interpreter)"
