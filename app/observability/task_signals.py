"""Celery signal receivers: step timings, retries and janitor results; Celery's logging set up by us.

Signals fire in the process that runs the task (a prefork child, a pool thread), for every task;
the receivers pick out saga steps (`saga.<step>`) and beat janitors (`maintenance.<janitor>`).
"""

from __future__ import annotations

import time

from celery import signals

from app import definitions
from app.models import StepKind
from app.observability import exposition, logs, metrics

SAGA_PREFIX = "saga."
JANITOR_PREFIX = "maintenance."

# Start times of the tasks running in this process, by task id.
_started: dict[str, float] = {}


def step_kind(task_name: str) -> tuple[str, str] | None:
    """(step, kind) of a saga step or compensation task; None for any other task."""
    if not task_name.startswith(SAGA_PREFIX):
        return None
    name = task_name.removeprefix(SAGA_PREFIX)
    for definition in definitions.registered().values():
        if name in definition.actions:
            return name, StepKind.ACTION
        if name in definition.compensations:
            return name, StepKind.COMPENSATION
    return None


def on_prerun(task_id: str, task, **kwargs: object) -> None:
    _started[task_id] = time.perf_counter()


def on_postrun(task_id: str, task, state: str | None = None, retval: object = None, **kwargs: object) -> None:
    started = _started.pop(task_id, None)
    step = step_kind(task.name)
    if step is not None and started is not None:
        metrics.step_ran(*step, time.perf_counter() - started)
    elif task.name.startswith(JANITOR_PREFIX):
        metrics.janitor_ran(task.name.removeprefix(JANITOR_PREFIX), state or "UNKNOWN", retval)


def on_retry(sender=None, **kwargs: object) -> None:
    step = step_kind(sender.name) if sender is not None else None
    if step is not None:
        metrics.step_retried(step[0])


def connect() -> None:
    """Connect the metric receivers, once per process however many apps are created."""
    signals.task_prerun.connect(on_prerun, weak=False, dispatch_uid="observability.prerun")
    signals.task_postrun.connect(on_postrun, weak=False, dispatch_uid="observability.postrun")
    signals.task_retry.connect(on_retry, weak=False, dispatch_uid="observability.retry")


def take_over_logging(fmt: str) -> None:
    """Worker and beat log through our handler too: a setup_logging receiver stops Celery's own."""

    def setup_logging(loglevel: int | str | None = None, **kwargs: object) -> None:
        logs.configure(fmt, loglevel or "INFO")

    signals.setup_logging.connect(setup_logging, weak=False, dispatch_uid="observability.logging")


def serve_metrics_from_worker(port: int, address: str = "0.0.0.0") -> None:
    """On a machine without a web process, the worker serves this machine's counters on `port`."""

    def start(**kwargs: object) -> None:
        start_metrics_server(port, address)

    # worker_init fires once, in the worker's main process, before the pool's children fork.
    signals.worker_init.connect(start, weak=False, dispatch_uid="observability.worker_metrics")


def start_metrics_server(port: int, address: str = "0.0.0.0"):
    """An HTTP server thread answering GET /metrics with the recorded metrics; returns the server."""
    from prometheus_client import start_http_server

    server, _ = start_http_server(port, address, registry=exposition.Recorded())
    return server
