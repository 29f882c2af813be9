"""The processes the benchmark measures: the end-to-end tests' launcher (tests/e2e/stack.py), plus
the compared systems' workers, the pool sizes asked for, and CPU accounting per process group.

web, payment and loyalty run under gunicorn as the Procfile runs them; beat runs for the whole
run; each round has one `celery worker` node whose prefork pool has K processes: the saga's
(`wsgi.celery_app`), the bare and no-op chains' (`scripts.bench.chains.app`) or celery-saga's
(`scripts.bench.peer.app`). All load `celeryconfig`, so acks_late, prefetch and the rest are the
same; the compared systems have a broker DB of their own, so beat's janitor tasks never reach them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from tests.e2e import stack as e2e
from tests.e2e.stack import LOAD_WITHOUT_SEAT_CAPS, ROOT, VENV_BIN, caller_env, e2e_secret, wait_for

__all__ = ["ROOT", "VENV_BIN", "Settings", "Stack", "log"]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass(frozen=True)
class Settings:
    workdir: Path
    database_url: str | None  # None: SQLite files in workdir
    redis_base: str
    holds_db: int
    broker_db: int
    chains_broker_db: int
    definition_version: int
    web_workers: int
    web_threads: int


def participant_url(settings: Settings, name: str) -> str:
    """SQLite next to the booking database, or a schema of its own in the PostgreSQL database."""
    if settings.database_url is None:
        return f"sqlite:///{settings.workdir / f'{name}.db'}"
    separator = "&" if "?" in settings.database_url else "?"
    return f"{settings.database_url}{separator}options={quote(f'-csearch_path=bench_{name}')}"


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# The compared systems' workers call the participants as the booking service's worker does.
WORKER_ROLE = {"chains": "worker", "peer": "worker"}


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


class Stack(e2e.Stack):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        holds = f"{settings.redis_base}/{settings.holds_db}"
        super().__init__(
            settings.workdir, holds, f"{settings.redis_base}/{settings.broker_db}",
            DATABASE_URL=settings.database_url or f"sqlite:///{settings.workdir / 'booking.db'}",
            PAYMENT_DATABASE_URL=participant_url(settings, "payment"),
            LOYALTY_DATABASE_URL=participant_url(settings, "loyalty"),
            # The compared systems' last task reports here; the holds DB is the benchmark's own.
            BENCH_DONE_URL=holds,
            BENCH_CHAINS_BROKER_URL=f"{settings.redis_base}/{settings.chains_broker_db}",
            # The bare chain tokenizes as the booking service's API does: with the web's credential.
            BENCH_TOKENIZE_TOKEN=e2e_secret("payment", "web"),
            LOG_FORMAT="text",
            SAGA_DEFINITION_VERSION=str(settings.definition_version),
            PYTHONPATH=str(ROOT),
            **LOAD_WITHOUT_SEAT_CAPS,
        )

    def commands(self) -> dict[str, list[str]]:
        s = self.settings
        commands = super().commands()
        commands["web"] = [f"{VENV_BIN}/gunicorn", "--config", str(ROOT / "gunicorn.conf.py"),
                           "--workers", str(s.web_workers), "--threads", str(s.web_threads),
                           "--bind", f"127.0.0.1:{self.ports['web']}", "wsgi:app"]
        worker = commands["worker"][commands["worker"].index("worker"):]
        commands["chains"] = [f"{VENV_BIN}/celery", "--quiet", "-A", "scripts.bench.chains.app", *worker]
        commands["peer"] = [f"{VENV_BIN}/celery", "--quiet", "-A", "scripts.bench.peer.app", *worker]
        return commands

    def start(self, name: str, workers: int = 2) -> subprocess.Popen:
        """Start one process; a worker node with `workers` prefork processes, waited for until ready."""
        if name not in ("worker", "chains", "peer"):
            return super().start(name)
        env = caller_env(WORKER_ROLE.get(name, name))
        if name in WORKER_ROLE:
            env["CELERY_BROKER_URL"] = self.env["BENCH_CHAINS_BROKER_URL"]
        proc = super().start(name, args=("--pool=prefork", f"--concurrency={workers}"), **env)
        wait_for(lambda: self._pool_ready(name, proc, workers), timeout=60,
                 what=f"{name} with {workers} processes")
        return proc

    def _pool_ready(self, name: str, proc: subprocess.Popen, workers: int) -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}; see {self.logs}")
        return len(self.children(proc.pid)) >= workers and "ready." in self.log_of(name)

    def cpu_seconds(self) -> dict[str, float]:
        """User + system CPU of each running process group so far (process and its descendants)."""
        return {name: sum(_cpu(pid) for pid in self.tree(proc.pid)) for name, proc in self.procs.items()}

    def tree(self, pid: int) -> list[int]:
        pids = [pid]
        for child in self.children(pid):
            pids.extend(self.tree(child))
        return pids

    @staticmethod
    def children(pid: int) -> list[int]:
        path = Path(f"/proc/{pid}/task/{pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def stop_one(self, name: str) -> None:
        """Warm shutdown (SIGTERM to the group): unacked messages go back to the queue at once."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
