"""The processes the benchmark measures, started as the Procfile starts them, on free ports.

web, payment and loyalty run under gunicorn; the worker is one `celery worker` node whose prefork
pool has K processes: the saga's (`wsgi.celery_app`), the bare and no-op chains'
(`scripts.bench.chains.app`) or celery-saga's (`scripts.bench.peer.app`). All load `celeryconfig`,
so acks_late, prefetch and the rest are the same; the compared systems have a broker DB of their own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check: Callable[[], object], timeout: float = 60.0, what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception:  # not up yet: keep polling until the deadline
            result = None
        if result:
            return result
        time.sleep(0.1)
    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")


@dataclass(frozen=True)
class Settings:
    workdir: Path
    database_url: str | None  # None: SQLite files in workdir
    redis_base: str
    holds_db: int
    broker_db: int
    chains_broker_db: int
    web_workers: int
    web_threads: int


def participant_url(settings: Settings, name: str) -> str:
    """SQLite next to the booking database, or a schema of its own in the PostgreSQL database."""
    if settings.database_url is None:
        return f"sqlite:///{settings.workdir / f'{name}.db'}"
    separator = "&" if "?" in settings.database_url else "?"
    return f"{settings.database_url}{separator}options={quote(f'-csearch_path=bench_{name}')}"


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


class Stack:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ports = {name: free_port() for name in ("web", "payment", "loyalty")}
        workdir = settings.workdir
        self.logs = workdir / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = {
            **os.environ,
            "INSTANCE_DIR": str(workdir),
            "DATABASE_URL": settings.database_url or f"sqlite:///{workdir / 'booking.db'}",
            "PAYMENT_DATABASE_URL": participant_url(settings, "payment"),
            "LOYALTY_DATABASE_URL": participant_url(settings, "loyalty"),
            "REDIS_URL": f"{settings.redis_base}/{settings.holds_db}",
            "CELERY_BROKER_URL": f"{settings.redis_base}/{settings.broker_db}",
            # The compared systems' last task reports here; the holds DB is the benchmark's own anyway.
            "BENCH_DONE_URL": f"{settings.redis_base}/{settings.holds_db}",
            "PAYMENT_URL": f"http://127.0.0.1:{self.ports['payment']}",
            "LOYALTY_URL": f"http://127.0.0.1:{self.ports['loyalty']}",
            "SECRET_KEY": "bench-secret",
            "RATELIMIT_ENABLED": "false",
            # Likewise the seat caps: every client comes from 127.0.0.1 on a fresh account.
            **{name: "0" for name in ("MAX_HELD_SEATS_PER_FLIGHT", "MAX_HELD_SEATS_PER_ACCOUNT",
                                      "MAX_HELD_SEATS_NEW_ACCOUNT", "MAX_HELD_SEATS_PER_ADDRESS_PER_FLIGHT",
                                      "MAX_HELD_SEATS_PER_ADDRESS")},
            "BENCH_CHAINS_BROKER_URL": f"{settings.redis_base}/{settings.chains_broker_db}",
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
        }
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['web']}"

    def _commands(self, workers: int) -> dict[str, list[str]]:
        bin_ = str(VENV_BIN)
        s = self.settings
        worker_flags = ["worker", "--loglevel=INFO", "--pool=prefork", f"--concurrency={workers}",
                        "--without-gossip", "--without-mingle"]
        return {
            "web": [f"{bin_}/gunicorn", "--workers", str(s.web_workers), "--threads", str(s.web_threads),
                    "--bind", f"127.0.0.1:{self.ports['web']}", "wsgi:app"],
            # One process each: their SQLite databases take one writer at a time anyway.
            "payment": [f"{bin_}/gunicorn", "--workers", "1", "--threads", "8", "--bind",
                        f"127.0.0.1:{self.ports['payment']}", "app.participants.payment.wsgi:app"],
            "loyalty": [f"{bin_}/gunicorn", "--workers", "1", "--threads", "8", "--bind",
                        f"127.0.0.1:{self.ports['loyalty']}", "app.participants.loyalty.wsgi:app"],
            "worker": [f"{bin_}/celery", "-A", "wsgi.celery_app", *worker_flags],
            "chains": [f"{bin_}/celery", "-A", "scripts.bench.chains.app", *worker_flags],
            "peer": [f"{bin_}/celery", "-A", "scripts.bench.peer.app", *worker_flags],
            "beat": [f"{bin_}/celery", "--quiet", "-A", "wsgi.celery_app", "beat", "--loglevel=INFO"],
        }

    def _env(self, name: str) -> dict[str, str]:
        """The Procfile's SERVICE_ROLE of each process; the compared systems' own broker."""
        role = {"chains": "worker", "peer": "worker"}.get(name, name)
        env = {**self.env, "SERVICE_ROLE": role if role in ("web", "worker", "beat") else "web"}
        if name in ("chains", "peer"):
            env["CELERY_BROKER_URL"] = self.env["BENCH_CHAINS_BROKER_URL"]
        return env

    def migrate(self) -> None:
        subprocess.run([f"{VENV_BIN}/flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)

    def start(self, name: str, workers: int = 2) -> subprocess.Popen:
        with open(self.logs / f"{name}.log", "ab") as log:
            proc = subprocess.Popen(self._commands(workers)[name], cwd=ROOT, env=self._env(name), stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[name] = proc
        if name in self.ports:
            url = f"http://127.0.0.1:{self.ports[name]}/healthz"
            wait_for(lambda: httpx.get(url, timeout=1).status_code == 200, what=f"{name} at {url}")
        elif name != "beat":
            wait_for(lambda: self._pool_ready(proc, workers), what=f"{name} with {workers} processes")
        return proc

    def _pool_ready(self, proc: subprocess.Popen, workers: int) -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited with {proc.returncode}; see {self.logs}")
        return len(self.children(proc.pid)) >= workers and "ready." in self._log_text(proc)

    def _log_text(self, proc: subprocess.Popen) -> str:
        name = next(n for n, p in self.procs.items() if p is proc)
        return (self.logs / f"{name}.log").read_text(errors="replace")

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

    def stop(self, name: str) -> None:
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

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)
