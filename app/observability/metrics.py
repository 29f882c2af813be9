"""The saga's Prometheus counters and histograms, and the one-line calls that record them.

Under gunicorn and Celery's prefork pool every process keeps its own values; when
PROMETHEUS_MULTIPROC_DIR is set as a process starts, prometheus_client writes them to a file per
process in that directory and /metrics merges the files (app/observability/exposition.py).
Without it (development, tests) the values stay in this process.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from functools import wraps
from pathlib import Path

from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy import select

from app.extensions import db
from app.models import TERMINAL, Saga, SagaStatus, StepKind, StepStatus

log = logging.getLogger(__name__)

PREFIX = "booking_"
MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if MULTIPROC_DIR:
    # Each process opens its file there as it creates its first value, i.e. just below.
    Path(MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

# Ours alone: Flower, which loads this app too, serves its own default registry.
REGISTRY = CollectorRegistry(auto_describe=False)

SAGAS_STARTED = Counter(
    "booking_sagas_started", "Sagas that began running (pending -> running).", registry=REGISTRY)
SAGAS_ENDED = Counter(
    "booking_sagas_ended", "Sagas that reached a terminal status, by status and failure reason.",
    ["status", "reason"], registry=REGISTRY)
STEP_DURATION = Histogram(
    "booking_saga_step_duration_seconds", "Run time of one attempt of a saga step task.",
    ["step", "kind"], registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60))
STEP_RETRIES = Counter(
    "booking_saga_step_retries", "Retries of saga steps and compensations.", ["step"], registry=REGISTRY)
COMPENSATIONS = Counter(
    "booking_saga_compensations", "Compensations that ended: succeeded, or left a debt.",
    ["step", "outcome"], registry=REGISTRY)
JANITOR_RUNS = Counter(
    "booking_janitor_runs", "Beat janitor runs, by Celery state.", ["janitor", "state"], registry=REGISTRY)
JANITOR_RESULTS = Counter(
    "booking_janitor_results", "What the beat janitors did: the counts each run returned, summed.",
    ["janitor", "outcome"], registry=REGISTRY)


def never_raises(record: Callable) -> Callable:
    """Recording a metric must never change what the saga does: a failure here is only logged."""

    @wraps(record)
    def wrapper(*args: object, **kwargs: object) -> None:
        try:
            record(*args, **kwargs)
        except Exception:  # see the docstring: metrics are not worth a failed step
            log.warning("metric %s not recorded", record.__name__, exc_info=True)

    return wrapper


@never_raises
def saga_transitioned(saga_id: str, status: str) -> None:
    """Called by the saga log after each status transition it made."""
    if status == SagaStatus.RUNNING:
        SAGAS_STARTED.inc()
    elif status in TERMINAL:
        reason = None
        if status in (SagaStatus.FAILED, SagaStatus.NEEDS_ATTENTION):
            reason = db.session.execute(select(Saga.failure_reason).where(Saga.id == saga_id)).scalar()
        SAGAS_ENDED.labels(status, reason or "none").inc()


@never_raises
def step_finished(kind: str, name: str, status: str) -> None:
    """Called by the saga log when an attempt of a step ends."""
    if kind == StepKind.COMPENSATION and status in (StepStatus.SUCCEEDED, StepStatus.DEBT):
        COMPENSATIONS.labels(name, status).inc()


@never_raises
def step_ran(name: str, kind: str, seconds: float) -> None:
    STEP_DURATION.labels(name, kind).observe(seconds)


@never_raises
def step_retried(name: str) -> None:
    STEP_RETRIES.labels(name).inc()


@never_raises
def janitor_ran(janitor: str, state: str, result: object) -> None:
    JANITOR_RUNS.labels(janitor, state).inc()
    if isinstance(result, dict):
        for outcome, count in result.items():
            if isinstance(count, int | float) and count > 0:
                JANITOR_RESULTS.labels(janitor, outcome).inc(count)
