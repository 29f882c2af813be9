"""How a step task runs: record it in the saga log, call the plain function, retry or fail."""

from __future__ import annotations

import logging
import random

import redis.exceptions
import sqlalchemy.exc
from celery import Task
from flask import current_app

from app import saga as definition
from app import saga_log
from app.errors import RetryForward, TransientError
from app.extensions import db
from app.models import SagaStatus, StepKind, StepStatus

log = logging.getLogger("saga")

# Failures that may pass on their own: retried with backoff before the step gives up.
TRANSIENT = (
    TransientError,
    sqlalchemy.exc.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def backoff(retries: int) -> float:
    """Full-jitter exponential backoff, capped (kept far below the broker's visibility timeout)."""
    config = current_app.config
    ceiling = min(config["SAGA_RETRY_MAX_SECONDS"], config["SAGA_RETRY_BASE_SECONDS"] * 2**retries)
    return random.uniform(ceiling / 2, ceiling)


def run_action(task: Task, saga_id: str, name: str) -> None:
    """Run action `name`; on a failure for good re-raise it, so the chain's errback compensates."""
    if not _predecessors_done(saga_id, name):
        log.info("saga %s: %s delivered before its turn, skipped", saga_id, name,
                 extra={"saga_id": saga_id, "step": name})
        return
    saga = saga_log.start_step(saga_id, name, StepKind.ACTION, task.request.id, {SagaStatus.RUNNING})
    if saga is None:
        return
    if saga.step(name).status != StepStatus.SUCCEEDED:  # else a duplicate of a finished step
        _attempt(task, saga, name)
    if definition.STEPS[-1].name == name:
        # Also on a re-drive: the step may have finished without the saga being marked confirmed.
        saga_log.transition(saga_id, SagaStatus.RUNNING, SagaStatus.CONFIRMED)


def _attempt(task: Task, saga, name: str) -> None:
    saga_id = saga.id
    try:
        if name != definition.ACTION_NAMES[0]:
            definition.keep_hold_for_next_step(saga)
        definition.ACTIONS[name](saga)
    except RetryForward as exc:
        db.session.rollback()
        saga_log.finish_step(saga_id, name, StepStatus.RUNNING, exc)
        raise task.retry(exc=exc, countdown=backoff(task.request.retries), max_retries=None) from exc
    except TRANSIENT as exc:
        db.session.rollback()
        limit = current_app.config["SAGA_STEP_MAX_RETRIES"]
        if task.request.retries < limit:
            saga_log.finish_step(saga_id, name, StepStatus.RUNNING, exc)
            raise task.retry(exc=exc, countdown=backoff(task.request.retries), max_retries=limit) from exc
        saga_log.finish_step(saga_id, name, StepStatus.FAILED, exc)
        raise
    except Exception as exc:
        db.session.rollback()
        saga_log.finish_step(saga_id, name, StepStatus.FAILED, exc)
        raise
    saga_log.finish_step(saga_id, name, StepStatus.SUCCEEDED)
    if definition.STEPS[-1].name != name and saga_log.load(saga_id).status != SagaStatus.RUNNING:
        _undo_late_success(saga_id, name)


def _predecessors_done(saga_id: str, name: str) -> bool:
    """A stray duplicate from an older chain must not run a step before the ones it depends on."""
    saga = saga_log.load(saga_id)
    if saga is None:
        return False
    earlier = definition.ACTION_NAMES[: definition.ACTION_NAMES.index(name)]
    return all(saga.step(step) is not None and saga.step(step).status == StepStatus.SUCCEEDED
               for step in earlier)


def _undo_late_success(saga_id: str, name: str) -> None:
    """The saga began compensating while this step was in flight (its hold lapsed, say): the
    compensation chain may already have looked for this step's effect and found none, so undo it."""
    compensation = definition.compensation_of(name)
    log.warning("saga %s: %s finished after compensation began; undoing it", saga_id, name,
                extra={"saga_id": saga_id, "step": name})
    try:
        definition.COMPENSATIONS[compensation](saga_log.load(saga_id))
    except Exception as exc:  # owed, not lost: a debt the janitor retries
        db.session.rollback()
        saga_log.record_debt(saga_id, compensation, exc)
        saga_log.transition(saga_id, {SagaStatus.FAILED, SagaStatus.CANCELLED}, SagaStatus.NEEDS_ATTENTION)


def run_compensation(task: Task, saga_id: str, name: str) -> None:
    """Run compensation `name`; when it cannot finish, record a debt and let the chain go on."""
    saga = saga_log.start_step(saga_id, name, StepKind.COMPENSATION, task.request.id,
                               {SagaStatus.COMPENSATING, SagaStatus.CANCELLING})
    if saga is None:
        return
    try:
        definition.COMPENSATIONS[name](saga)
    except Exception as exc:  # any failure is retried, then kept as a debt: never swallowed
        db.session.rollback()
        limit = current_app.config["SAGA_COMPENSATION_MAX_RETRIES"]
        if task.request.retries < limit:
            saga_log.finish_step(saga_id, name, StepStatus.RUNNING, exc)
            raise task.retry(exc=exc, countdown=backoff(task.request.retries), max_retries=limit) from exc
        saga_log.record_debt(saga_id, name, exc)
        return
    saga_log.finish_step(saga_id, name, StepStatus.SUCCEEDED)
