"""Recovery: what the beat janitors and the admin retry do to sagas that stalled or owe a debt.

Plain functions over the saga log; each returns what it would enqueue, and the task layer
enqueues it. Every decision is a conditional update, so two janitors running at once, or one
running twice, change nothing the second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import update

from app import saga as definition
from app import saga_log
from app.errors import HoldExpired, SagaError
from app.extensions import db
from app.models import Debt, Hold, HoldStatus, Saga, SagaStatus, StepKind, StepStatus
from app.models.types import utcnow

log = logging.getLogger("saga")

DEBT_RETRY_MAX_SECONDS = 3600


@dataclass(frozen=True)
class Redrive:
    """What to enqueue for one saga: actions from a step on, compensations, or its debts."""

    saga_id: str
    actions_from: str | None = None
    compensations: tuple[str, ...] = ()
    debts: bool = False


def _claim(saga_id: str, status: str, before: datetime) -> bool:
    """Take a stalled saga for re-driving: only one janitor wins, and the clock restarts."""
    now = utcnow()
    return db.session.execute(
        update(Saga)
        .where(Saga.id == saga_id, Saga.status == status, Saga.progressed_at < before)
        .values(progressed_at=now, updated_at=now)
    ).rowcount == 1


def stalled_sagas(now: datetime | None = None, limit: int = 200) -> list[Redrive]:
    """Sagas with no step progress for SAGA_STALL_SECONDS, and how to drive each on."""
    now = now or utcnow()
    config = current_app.config
    redrives = []
    pending_before = now - timedelta(seconds=config["SAGA_PENDING_GRACE_SECONDS"])
    stalled_before = now - timedelta(seconds=config["SAGA_STALL_SECONDS"])
    stuck = db.session.execute(
        db.select(Saga.id, Saga.status).where(
            ((Saga.status == SagaStatus.PENDING) & (Saga.progressed_at < pending_before))
            | (Saga.status.in_((SagaStatus.RUNNING, SagaStatus.COMPENSATING, SagaStatus.CANCELLING))
               & (Saga.progressed_at < stalled_before))
        ).order_by(Saga.progressed_at).limit(limit)
    ).all()
    for saga_id, status in stuck:
        before = pending_before if status == SagaStatus.PENDING else stalled_before
        if not _claim(saga_id, status, before):
            continue
        db.session.commit()
        redrive = _plan(saga_log.load(saga_id))
        if redrive is not None:
            log.warning("saga %s stalled while %s: re-driving", saga_id, status,
                        extra={"saga_id": saga_id, "status": status})
            redrives.append(redrive)
    return redrives


def _plan(saga: Saga) -> Redrive | None:
    """Where a stalled saga goes on from, read from its log."""
    if saga.status in (SagaStatus.PENDING, SagaStatus.RUNNING):
        if saga.ticket is not None:
            return Redrive(saga.id, actions_from=definition.STEPS[-1].name)  # past the pivot: forward
        for name in definition.ACTION_NAMES:
            step = saga.step(name)
            if step is None or step.status != StepStatus.SUCCEEDED:
                if step is not None and step.status == StepStatus.FAILED:
                    return _fail(saga, name, SagaError(step.error_message or "step failed"))
                return Redrive(saga.id, actions_from=name)
        return Redrive(saga.id, actions_from=definition.STEPS[-1].name)
    if saga.status in (SagaStatus.COMPENSATING, SagaStatus.CANCELLING):
        left = tuple(step.name for step in saga.steps if step.kind == StepKind.COMPENSATION
                     and step.status not in (StepStatus.SUCCEEDED, StepStatus.DEBT))
        return Redrive(saga.id, compensations=left)
    return None


def _fail(saga: Saga, failed_step: str, error: BaseException) -> Redrive | None:
    started = [step.name for step in saga.steps if step.kind == StepKind.ACTION and step.attempts]
    names = definition.compensations_for(started)
    if saga_log.begin_compensation(saga.id, failed_step, error, names):
        return Redrive(saga.id, compensations=tuple(names))
    return None


def lapsed_holds(now: datetime | None = None) -> list[Redrive]:
    """Compensate running sagas whose hold expired before they confirmed."""
    now = now or utcnow()
    rows = db.session.execute(
        db.select(Saga.id)
        .join(Hold, Hold.id == Saga.hold_id)
        .where(Saga.status == SagaStatus.RUNNING, Hold.status.in_((HoldStatus.HELD, HoldStatus.EXPIRED)),
               Hold.expires_at <= now)
    ).scalars().all()
    redrives = []
    for saga_id in rows:
        saga = saga_log.load(saga_id)
        if saga.ticket is not None:
            continue
        current = next((s.name for s in reversed(saga.steps)
                        if s.kind == StepKind.ACTION and s.attempts), definition.ACTION_NAMES[0])
        redrive = _fail(saga, current, HoldExpired("the seat hold expired before the booking confirmed"))
        if redrive is not None:
            redrives.append(redrive)
    return redrives


def retry_debts(now: datetime | None = None, limit: int = 100) -> list[str]:
    """Run due debts' compensations again; returns the sagas whose last debt was paid."""
    now = now or utcnow()
    due = db.session.execute(
        db.select(Debt.id).where(Debt.paid_at.is_(None), Debt.next_attempt_at <= now)
        .order_by(Debt.next_attempt_at).limit(limit)
    ).scalars().all()
    settled = []
    for debt_id in due:
        if pay_debt(debt_id, now):
            saga_id = db.session.get(Debt, debt_id).saga_id
            if settle(saga_id):
                settled.append(saga_id)
    return settled


def pay_debt(debt_id: int, now: datetime | None = None) -> bool:
    """One more try at an owed compensation; True when it is paid."""
    now = now or utcnow()
    debt = db.session.get(Debt, debt_id)
    if debt is None or debt.paid_at is not None:
        return False
    # Claim this attempt first, so overlapping janitors do not run it together.
    delay = min(DEBT_RETRY_MAX_SECONDS, 30 * 2 ** debt.attempts)
    claimed = db.session.execute(
        update(Debt).where(Debt.id == debt.id, Debt.attempts == debt.attempts, Debt.paid_at.is_(None))
        .values(attempts=debt.attempts + 1, next_attempt_at=now + timedelta(seconds=delay))
    ).rowcount
    db.session.commit()
    if claimed != 1:
        return False
    try:
        definition.COMPENSATIONS[debt.step](saga_log.load(debt.saga_id))
    except Exception as exc:  # still owed: keep the debt, with why, for the next attempt
        db.session.rollback()
        db.session.execute(update(Debt).where(Debt.id == debt_id).values(detail=str(exc)[:500]))
        db.session.commit()
        log.warning("debt %s (%s) still owed: %s", debt_id, debt.step, exc,
                    extra={"saga_id": debt.saga_id, "step": debt.step})
        return False
    db.session.execute(update(Debt).where(Debt.id == debt_id).values(paid_at=utcnow()))
    db.session.commit()
    saga_log.finish_step(debt.saga_id, debt.step, StepStatus.SUCCEEDED)
    log.info("debt %s (%s) paid", debt_id, debt.step, extra={"saga_id": debt.saga_id, "step": debt.step})
    return True


def settle(saga_id: str) -> bool:
    """needs_attention -> failed or cancelled once every debt is paid."""
    if saga_log.open_debts(saga_id):
        return False
    saga = saga_log.load(saga_id)
    target = SagaStatus.FAILED if saga.failure_reason else SagaStatus.CANCELLED
    return saga_log.transition(saga_id, SagaStatus.NEEDS_ATTENTION, target)


def retry_now(saga_id: str) -> Redrive | None:
    """An operator's retry: a needs_attention saga's debts fall due now, a stuck saga is re-driven."""
    saga = saga_log.load(saga_id)
    if saga is None:
        return None
    if saga.status == SagaStatus.NEEDS_ATTENTION:
        if not any(debt.paid_at is None for debt in saga.debts):
            return None
        db.session.execute(update(Debt).where(Debt.saga_id == saga_id, Debt.paid_at.is_(None))
                           .values(next_attempt_at=utcnow()))
        db.session.commit()
        return Redrive(saga_id, debts=True)
    if saga.status in (SagaStatus.PENDING, SagaStatus.RUNNING, SagaStatus.COMPENSATING,
                       SagaStatus.CANCELLING):
        return _plan(saga)
    return None


def pay_debts_of(saga_id: str) -> bool:
    """Try every open debt of one saga now; True when the saga is settled."""
    open_ids = db.session.execute(
        db.select(Debt.id).where(Debt.saga_id == saga_id, Debt.paid_at.is_(None))
    ).scalars().all()
    for debt_id in open_ids:
        pay_debt(debt_id)
    return settle(saga_id)
