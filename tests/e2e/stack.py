"""The Procfile's processes started for real on free ports, for end-to-end and crash tests.

Each process gets its own process group so a test can SIGKILL a whole worker (main process and
pool children) the way a machine failure would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# How long a stopped stack's processes get to exit on SIGTERM: each takes about a second, a worker
# longer while it finishes the step in its hands.
STOP_GRACE = 30.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout: float = 30.0, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except Exception:  # not up yet: keep polling until the deadline
            result = None
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def procfile_command(name: str) -> list[str]:
    """The Procfile's line for `name`, run by a shell as honcho does (it expands ${VAR:-default})."""
    for line in (ROOT / "Procfile").read_text().splitlines():
        process, _, command = line.partition(":")
        if process.strip() == name:
            # exec: the shell becomes the process, so a signal to the group reaches it and only it;
            # env, since the line may start with variables (SERVICE_ROLE=beat ...), which exec cannot.
            return ["/bin/sh", "-c", f"exec env {command.strip()}"]
    raise KeyError(f"no {name} in the Procfile")


FLOWER_AUTH = ("ops", "flower-e2e-secret")
# The services' credentials, and the one each calling process carries (as the Procfile's SERVICE_ROLE
# picks it in development, and an operator sets it per process in production).
E2E_SCOPES = {
    "payment": {"web": "tokenize,read", "worker": "authorize,capture,void,refund,cancel,read",
                "support": "read"},
    "loyalty": {"web": "read", "worker": "award,post,reverse,cancel,read", "support": "read"},
}


def e2e_secret(service: str, caller: str) -> str:
    return f"e2e-{service}-{caller}"


def e2e_credentials(service: str) -> str:
    return "; ".join(f"{caller}:{scopes}:{e2e_secret(service, caller)}"
                     for caller, scopes in E2E_SCOPES[service].items())


def caller_env(name: str) -> dict[str, str]:
    """SERVICE_ROLE and the PAYMENT_TOKEN / LOYALTY_TOKEN of the process ``name``."""
    if name not in ("web", "worker"):
        return {"SERVICE_ROLE": name}
    return {"SERVICE_ROLE": name, "PAYMENT_TOKEN": e2e_secret("payment", name),
            "LOYALTY_TOKEN": e2e_secret("loyalty", name)}


# A load test's few accounts each hold far more than the caps against seat spinning allow them
# (app/hold_limits.py): what they test is not those caps, so such a stack turns them off.
LOAD_WITHOUT_SEAT_CAPS = {"MAX_HELD_SEATS_PER_FLIGHT": "0", "MAX_HELD_SEATS_PER_ACCOUNT": "0",
                          "MAX_HELD_SEATS_NEW_ACCOUNT": "0"}
# The scraper's credential for /metrics.
METRICS_TOKEN = "metrics-e2e-secret"
# The path each HTTP process answers once it is up.
HEALTH_PATHS = {"web": "/healthz", "payment": "/healthz", "loyalty": "/healthz", "flower": "/healthcheck"}
# Processes that are up once their port takes a connection.
PORT_CHECKED = ("mail",)


class Stack:
    """The Procfile's processes (web, payment, loyalty, worker, beat, flower) on private ports and DBs."""

    def __init__(self, workdir: Path, redis_url: str, broker_url: str, **env: str) -> None:
        self.workdir = workdir
        self.ports = {name: free_port() for name in (*HEALTH_PATHS, *PORT_CHECKED)}
        self.mail_dir = workdir / "mail"
        self.env = {
            **os.environ,
            "INSTANCE_DIR": str(workdir),
            "DATABASE_URL": os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{workdir / 'booking.db'}",
            "PAYMENT_DATABASE_URL": f"sqlite:///{workdir / 'payment.db'}",
            "LOYALTY_DATABASE_URL": f"sqlite:///{workdir / 'loyalty.db'}",
            "REDIS_URL": redis_url,
            "CELERY_BROKER_URL": broker_url,
            "PAYMENT_URL": f"http://127.0.0.1:{self.ports['payment']}",
            "LOYALTY_URL": f"http://127.0.0.1:{self.ports['loyalty']}",
            "SECRET_KEY": "e2e-secret",
            "RATELIMIT_ENABLED": "false",
            "PYTHONUNBUFFERED": "1",
            "LOG_FORMAT": "json",
            # Every process of the stack shares one metrics directory, as on one machine.
            "PROMETHEUS_MULTIPROC_DIR": str(workdir / "prometheus"),
            "FLOWER_BASIC_AUTH": ":".join(FLOWER_AUTH),
            "PAYMENT_CREDENTIALS": e2e_credentials("payment"),
            "LOYALTY_CREDENTIALS": e2e_credentials("loyalty"),
            "METRICS_TOKEN": METRICS_TOKEN,
            "SMTP_URL": f"smtp://127.0.0.1:{self.ports['mail']}",
            # Every client of the stack comes from 127.0.0.1: the per-address hold caps are off.
            "MAX_HELD_SEATS_PER_ADDRESS_PER_FLIGHT": "0",
            "MAX_HELD_SEATS_PER_ADDRESS": "0",
            **env,
        }
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = workdir / "logs"
        self.logs.mkdir(exist_ok=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['web']}"

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def commands(self) -> dict[str, list[str]]:
        bin_ = str(VENV_BIN)
        return {
            "web": [f"{bin_}/gunicorn", "--config", str(ROOT / "gunicorn.conf.py"), "--workers", "2",
                    "--threads", "32", "--bind", f"127.0.0.1:{self.ports['web']}", "wsgi:app"],
            "payment": [f"{bin_}/gunicorn", "--workers", "1", "--threads", "8", "--bind",
                        f"127.0.0.1:{self.ports['payment']}", "app.participants.payment.wsgi:app"],
            "loyalty": [f"{bin_}/gunicorn", "--workers", "1", "--threads", "8", "--bind",
                        f"127.0.0.1:{self.ports['loyalty']}", "app.participants.loyalty.wsgi:app"],
            "worker": [f"{bin_}/celery", "--quiet", "-A", "wsgi.celery_app", "worker", "--loglevel=INFO",
                       "--concurrency=2", "--without-gossip", "--without-mingle"],
            # Beat exactly as the Procfile starts it: any number of them may run (app/beat_scheduler.py).
            "beat": procfile_command("beat"),
            "flower": [f"{bin_}/celery", "-A", "wsgi.celery_app", "flower", "--address=127.0.0.1",
                       f"--port={self.ports['flower']}"],
            "mail": [f"{bin_}/python", "-m", "app.mail_catcher", "--port", str(self.ports["mail"]),
                     "--directory", str(self.mail_dir)],
        }

    def migrate(self) -> None:
        subprocess.run([f"{VENV_BIN}/flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)

    def start(self, name: str, label: str | None = None, args: tuple[str, ...] = (), **env: str
              ) -> subprocess.Popen:
        """Start one process of the Procfile (`args` appended to its command, e.g. a worker's -n)."""
        label = label or name
        with open(self.logs / f"{label}.log", "ab") as log:
            proc = subprocess.Popen([*self.commands()[name], *args], cwd=ROOT,
                                    env={**self.env, **caller_env(name), **env}, stdout=log,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        self.procs[label] = proc
        if name in HEALTH_PATHS:
            url = self.url(name) + HEALTH_PATHS[name]
            # A generous timeout: PAYMENT_LATENCY_MS and LOYALTY_LATENCY_MS slow /healthz down too.
            try:
                wait_for(lambda: httpx.get(url, timeout=10).status_code < 500, what=f"{label} at {url}")
            except AssertionError:
                self.kill(label)  # not left running after the test gave up on it
                raise
        elif name in PORT_CHECKED:
            address = ("127.0.0.1", self.ports[name])
            wait_for(lambda: socket.create_connection(address, timeout=1).close() or True,
                     what=f"{label} on port {address[1]}")
        return proc

    def mail(self) -> list:
        """The messages the stack's mail catcher has received, oldest first."""
        from tests.mail_catcher import MailCatcher

        return MailCatcher(self.mail_dir, self.ports["mail"]).messages()

    def kill(self, label: str, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group, as a crash of that machine would."""
        proc = self.procs.pop(label)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        proc.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM to every process at once, then wait for each: they shut down side by side (one at
        a time, a stack's gunicorns and workers took seconds each, at the end of every test).

        A process still running after STOP_GRACE seconds has its threads' stacks written to its log
        (py-spy) and is SIGKILLed, so it cannot hold a lock or a port into the next test; the stop
        then fails, naming it: a process that ignores SIGTERM would stall every deploy too."""
        procs = dict(self.procs)
        self.procs.clear()
        for proc in procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        hung = []
        for label, proc in procs.items():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                hung.append(label)
                self._dump_stacks(label, proc)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
        if hung:
            raise AssertionError(f"{', '.join(hung)} still ran {STOP_GRACE:.0f} s after SIGTERM "
                                 f"(their stacks are at the end of their logs in {self.logs})")

    def _dump_stacks(self, label: str, proc: subprocess.Popen) -> None:
        with open(self.logs / f"{label}.log", "ab") as log:
            log.write(b"\n--- still running after SIGTERM: py-spy dump ---\n")
            log.flush()
            subprocess.run([str(VENV_BIN / "py-spy"), "dump", "--pid", str(proc.pid)], stdout=log,
                           stderr=subprocess.STDOUT, timeout=30, check=False)

    def log_of(self, label: str) -> str:
        path = self.logs / f"{label}.log"
        return path.read_text(errors="replace") if path.exists() else ""
