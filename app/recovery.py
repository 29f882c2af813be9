"""Recovery: what the beat janitors and the admin retry do to sagas that stalled or owe a debt.

Plain functions over the saga log; each returns the plans (app.engine.Plan) to enqueue, and the
task layer enqueues them. A saga is stalled when its writer's lease lapsed: its worker died, the
broker lost a message, a retry never came back. Taking it over is one fenced write that moves the
fence on, so whatever the old chain still delivers is fenced off, and re-driving early is safe.
Each saga is planned under its own definition, and only by a process that runs that version: during a
rolling deploy an older janitor leaves newer sagas to the newer processes.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import update

from app import definitions, saga_log
from app.engine import Plan
from app.errors import HoldExpired, SagaError
from app.extensions import db
from app.models import Debt, Hold, HoldStatus, Saga, SagaStatus, StepKind, StepStatus
from app.models.types import utcnow

log = logging.getLogger("saga")



class NotStalled(Exception):
    """The saga's writer still holds its lease: a re-drive now would only race it."""

    def __init__(self, saga: Saga) -> None:
        super().__init__(f"The saga is {saga.status} and its worker's lease runs until "
                         f"{saga.lease_expires_at.isoformat()}; it is not stalled.")


def stalled_sagas(now: datetime | None = None, limit: int = 200) -> list[Plan]:
    """Take over every saga in flight whose lease lapsed, and plan how each goes on."""
    now = now or utcnow()
    lapsed = db.session.execute(
        db.select(Saga.id, Saga.fence, Saga.status)
        .where(saga_log.in_flight(), Saga.lease_expires_at < now,
               Saga.definition_version.in_(definitions.known_versions()))
        .order_by(Saga.lease_expires_at).limit(limit)
    ).all()
    plans = []
    for saga_id, fence, status in lapsed:
        plan = _take_over(saga_id, fence, now)
        if plan is not None:
            log.warning("saga %s stalled while %s: re-driving under fence %d", saga_id, status, plan.fence,
                        extra={"saga_id": saga_id, "status": status})
            plans.append(plan)
    return plans


def _take_over(saga_id: str, fence: int, now: datetime) -> Plan | None:
    new_fence = saga_log.take_over(saga_id, fence, now)
    return None if new_fence is None else _plan(saga_log.load(saga_id), new_fence)


def _plan(saga: Saga, fence: int) -> Plan | None:
    """Where a saga we now own goes on from, read from its log."""
    if saga.status in (SagaStatus.PENDING, SagaStatus.RUNNING, SagaStatus.CONFIRMED):
        names = definitions.of(saga).action_names
        for position, name in enumerate(names):
            step = saga.step(name)
            if step is None or step.status == StepStatus.SUCCEEDED:  # no row: nothing of it to run
                continue
            # Past the pivot (the ticket exists) nothing is undone: the rest only goes forward.
            if step.status == StepStatus.FAILED and saga.pivoted_at is None:
                return _compensate(saga.id, fence, name, SagaError(step.error_message or "step failed"))
            return Plan(saga.id, fence, actions=tuple(names[position:]), version=saga.definition_version)
        if saga.status == SagaStatus.CONFIRMED:  # every step done, its completion not recorded
            saga_log.complete(saga.id, fence)
        return None
    left = tuple(step.name for step in saga.steps if step.kind == StepKind.COMPENSATION
                 and step.status not in saga_log.SETTLED)
    return Plan(saga.id, fence, compensations=left, version=saga.definition_version)


def _compensate(saga_id: str, fence: int, failed_step: str, error: BaseException) -> Plan | None:
    begun = saga_log.begin_compensation(saga_id, fence, failed_step, error)
    if begun is None:
        return None
    new_fence, names = begun
    return Plan(saga_id, new_fence, compensations=tuple(names))


def lapsed_holds(now: datetime | None = None) -> list[Plan]:
    """Compensate running sagas whose hold expired before their pivot."""
    now = now or utcnow()
    rows = db.session.execute(
        db.select(Saga.id, Saga.fence)
        .join(Hold, Hold.id == Saga.hold_id)
        .where(Saga.status == SagaStatus.RUNNING, Saga.pivoted_at.is_(None),
               Saga.definition_version.in_(definitions.known_versions()),
               Hold.status.in_((HoldStatus.HELD, HoldStatus.EXPIRED)), Hold.expires_at <= now)
    ).all()
    plans = []
    for saga_id, fence in rows:
        saga = saga_log.load(saga_id)
        current = next((s.name for s in reversed(saga.steps) if s.kind == StepKind.ACTION and s.attempts),
                       definitions.of(saga).action_names[0])
        plan = _compensate(saga_id, fence, current,
                           HoldExpired("the seat hold expired before the booking confirmed"))
        if plan is not None:
            plans.append(plan)
    return plans


def retry_debts(now: datetime | None = None, limit: int = 100) -> list[str]:
    """Run due debts' compensations again; returns the sagas whose last debt was paid."""
    now = now or utcnow()
    due = db.session.execute(
        db.select(Debt.id).join(Saga, Saga.id == Debt.saga_id)
        .where(Debt.paid_at.is_(None), Debt.next_attempt_at <= now,
               Saga.status == SagaStatus.NEEDS_ATTENTION,
               Saga.definition_version.in_(definitions.known_versions()))
        .order_by(Debt.next_attempt_at).limit(limit)
    ).scalars().all()
    settled = []
    for debt_id in due:
        if pay_debt(debt_id, now):
            saga_id = db.session.get(Debt, debt_id).saga_id
            if saga_log.settle(saga_id):
                settled.append(saga_id)
    return settled


def pay_debt(debt_id: int, now: datetime | None = None) -> bool:
    """One more try at an owed compensation of a saga that needs attention; True when it is paid."""
    now = now or utcnow()
    db.session.rollback()
    debt = db.session.get(Debt, debt_id)
    if debt is None or debt.paid_at is not None:
        return False
    # Claim this attempt first, so overlapping janitors (or an operator) do not run it together.
    claimed = db.session.execute(
        update(Debt).where(Debt.id == debt.id, Debt.attempts == debt.attempts, Debt.paid_at.is_(None))
        .values(attempts=debt.attempts + 1, next_attempt_at=saga_log.debt_retry_at(debt.attempts + 1, now))
    ).rowcount
    db.session.commit()
    saga = saga_log.load(debt.saga_id)
    if claimed != 1 or saga.status != SagaStatus.NEEDS_ATTENTION:
        return False
    try:
        definitions.of(saga).compensations[debt.step](saga)
    except Exception as exc:  # still owed: keep the debt, with why, for the next attempt
        db.session.rollback()
        db.session.execute(update(Debt).where(Debt.id == debt_id).values(detail=str(exc)[:500]))
        db.session.commit()
        log.warning("debt %s (%s) still owed: %s", debt_id, debt.step, exc,
                    extra={"saga_id": debt.saga_id, "step": debt.step})
        return False
    db.session.execute(update(Debt).where(Debt.id == debt_id).values(paid_at=utcnow()))
    saga_log.pay_debt_step(debt.saga_id, debt.step)
    log.info("debt %s (%s) paid", debt_id, debt.step, extra={"saga_id": debt.saga_id, "step": debt.step})
    return True


def retry_now(saga_id: str, now: datetime | None = None) -> Plan | None:
    """An operator's retry: a needs_attention saga's debts fall due now; a stalled saga is taken
    over and re-driven. Raises NotStalled for a saga whose writer still holds its lease; None when
    there is nothing to retry (a saga that ended)."""
    now = now or utcnow()
    saga = saga_log.load(saga_id)
    if saga is None:
        return None
    if saga.status == SagaStatus.NEEDS_ATTENTION:
        if saga_log.open_debts(saga_id) == 0:
            return None
        db.session.execute(update(Debt).where(Debt.saga_id == saga_id, Debt.paid_at.is_(None))
                           .values(next_attempt_at=now))
        db.session.commit()
        return Plan(saga_id, saga.fence, debts=True, version=saga.definition_version)
    if not saga_log.is_in_flight(saga):
        return None
    if saga.lease_expires_at >= now:
        raise NotStalled(saga)
    plan = _take_over(saga_id, saga.fence, now)
    if plan is None:  # a janitor took it over a moment ago
        raise NotStalled(saga_log.load(saga_id))
    return plan


def pay_debts_of(saga_id: str) -> bool:
    """Try every open debt of one saga now; True when the saga is settled."""
    open_ids = db.session.execute(
        db.select(Debt.id).where(Debt.saga_id == saga_id, Debt.paid_at.is_(None))
    ).scalars().all()
    for debt_id in open_ids:
        pay_debt(debt_id)
    return saga_log.settle(saga_id)
