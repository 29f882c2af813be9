"""The saga log: every status transition and step record, each in one function that also logs it.

The log in SQL is the saga's only truth. Transitions are conditional updates, so a duplicate
delivery or a racing process changes nothing the second time.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import update

from app.errors import failure_reason
from app.extensions import db
from app.models import Debt, Saga, SagaStatus, SagaStep, StepKind, StepStatus
from app.models.types import utcnow
from app.observability import metrics

log = logging.getLogger("saga")

MESSAGE_LIMIT = 500


def load(saga_id: str) -> Saga | None:
    """The saga as the database has it now, not as this session last saw it."""
    db.session.expire_all()
    return db.session.get(Saga, saga_id)


def transition(saga_id: str, source: set[str] | str, target: str, **values: object) -> bool:
    """Move a saga from `source` to `target` if it is still there; True if this call did it."""
    sources = {source} if isinstance(source, str) else source
    now = utcnow()
    result = db.session.execute(
        update(Saga)
        .where(Saga.id == saga_id, Saga.status.in_(sources))
        .values(status=target, updated_at=now, progressed_at=now, version=Saga.version + 1, **values)
    )
    db.session.commit()
    won = result.rowcount == 1
    if won:
        log.info("saga %s -> %s", saga_id, target, extra={"saga_id": saga_id, "status": target})
        metrics.saga_transitioned(saga_id, target)
    return won


def _touch(saga_id: str) -> None:
    now = utcnow()
    db.session.execute(
        update(Saga)
        .where(Saga.id == saga_id)
        .values(updated_at=now, progressed_at=now, version=Saga.version + 1)
    )


def add_steps(saga: Saga, names: list[str], kind: str) -> None:
    """Append `pending` rows for steps not yet in the log, in the order given."""
    existing = {step.name for step in saga.steps}
    position = max((step.position for step in saga.steps), default=0)
    for name in names:
        if name not in existing:
            position += 1
            saga.steps.append(SagaStep(name=name, kind=kind, position=position))


def start_step(saga_id: str, name: str, kind: str, task_id: str | None, runnable: set[str]) -> Saga | None:
    """Record an attempt of `name`; None (do nothing) unless the saga is in a `runnable` status."""
    saga = load(saga_id)
    # Only a saga's first step finds it pending: the others skip an UPDATE and a commit.
    if kind == StepKind.ACTION and saga is not None and saga.status == SagaStatus.PENDING:
        transition(saga_id, SagaStatus.PENDING, SagaStatus.RUNNING)
        saga = load(saga_id)
    if saga is None or saga.status not in runnable:
        log.info("saga %s: %s skipped, saga is %s", saga_id, name, saga and saga.status,
                 extra={"saga_id": saga_id, "step": name})
        return None
    step = saga.step(name)
    if step is None:
        add_steps(saga, [name], kind)
        step = saga.step(name)
    if step.status == StepStatus.SUCCEEDED:
        return saga if kind == StepKind.ACTION else None
    now = utcnow()
    step.status = StepStatus.RUNNING
    step.attempts = (step.attempts or 0) + 1
    step.started_at = step.started_at or now
    step.task_id = task_id
    attempts = step.attempts  # read before the commit expires it (a reload is a query)
    _touch(saga_id)
    db.session.commit()
    log.info("saga %s: %s attempt %d", saga_id, name, attempts,
             extra={"saga_id": saga_id, "step": name, "attempt": attempts, "task_id": task_id})
    return saga


def finish_step(saga_id: str, name: str, status: str, error: BaseException | None = None) -> None:
    """Record how an attempt of `name` ended (`running` keeps it open for a retry)."""
    db.session.rollback()
    step = db.session.execute(
        db.select(SagaStep).filter_by(saga_id=saga_id, name=name)
    ).scalar_one_or_none()
    if step is None:
        return
    step.status = status
    if status != StepStatus.RUNNING:
        step.finished_at = utcnow()
    if error is not None:
        step.error_code = failure_reason(error)
        step.error_message = str(error)[:MESSAGE_LIMIT]
    elif status == StepStatus.SUCCEEDED:
        step.error_code = step.error_message = None
    error_code, kind = step.error_code, step.kind  # read before the commit expires them
    _touch(saga_id)
    db.session.commit()
    log.info("saga %s: %s %s", saga_id, name, status,
             extra={"saga_id": saga_id, "step": name, "step_status": status, "error": error_code})
    metrics.step_finished(kind, name, status)


def begin_compensation(saga_id: str, failed_step: str, error: BaseException,
                       compensations: list[str]) -> bool:
    """running -> compensating, recording why; True only for the one caller that won."""
    saga = load(saga_id)
    if saga is None or saga.ticket is not None:
        # Past the pivot nothing is undone; the reconciler drives it forward instead.
        return False
    won = transition(
        saga_id,
        SagaStatus.RUNNING,
        SagaStatus.COMPENSATING,
        failure_step=failed_step,
        failure_reason=failure_reason(error),
        failure_detail=str(error)[:MESSAGE_LIMIT],
    )
    if won:
        saga = load(saga_id)
        add_steps(saga, compensations, StepKind.COMPENSATION)
        db.session.commit()
    return won


def begin_cancellation(saga_id: str, compensations: list[str]) -> bool:
    """confirmed -> cancelling, at the owner's request; True only for the caller that won."""
    won = transition(saga_id, SagaStatus.CONFIRMED, SagaStatus.CANCELLING)
    if won:
        saga = load(saga_id)
        add_steps(saga, compensations, StepKind.COMPENSATION)
        db.session.commit()
    return won


def record_debt(saga_id: str, name: str, error: BaseException) -> None:
    """A compensation gave up: keep what is owed as a debt and mark the step."""
    db.session.rollback()
    open_debt = db.session.execute(
        db.select(Debt).filter_by(saga_id=saga_id, step=name, paid_at=None)
    ).scalar_one_or_none()
    if open_debt is None:
        db.session.add(Debt(saga_id=saga_id, step=name, reason=failure_reason(error),
                            detail=str(error)[:MESSAGE_LIMIT], attempts=1,
                            next_attempt_at=utcnow() + timedelta(seconds=30)))
    db.session.commit()
    finish_step(saga_id, name, StepStatus.DEBT, error)
    log.warning("saga %s: %s owes a debt: %s", saga_id, name, error,
                extra={"saga_id": saga_id, "step": name})


def open_debts(saga_id: str) -> int:
    return db.session.execute(
        db.select(db.func.count(Debt.id)).filter_by(saga_id=saga_id, paid_at=None)
    ).scalar_one()


def finish(saga_id: str) -> str | None:
    """End a compensation or cancellation: failed/cancelled, or needs_attention while a debt is open."""
    saga = load(saga_id)
    if saga is None or saga.status not in (SagaStatus.COMPENSATING, SagaStatus.CANCELLING):
        return None
    if open_debts(saga_id):
        target = SagaStatus.NEEDS_ATTENTION
    elif saga.status == SagaStatus.CANCELLING:
        target = SagaStatus.CANCELLED
    else:
        target = SagaStatus.FAILED
    return target if transition(saga_id, saga.status, target) else None
