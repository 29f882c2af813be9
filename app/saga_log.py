"""The saga log: every write to a saga and its steps, each fenced and each one transaction.

The log in SQL is the saga's only truth, and it has one writer at a time. Every write is a
conditional UPDATE of the saga row on its status *and* its fence (docs/saga.md "The fence"), in the
same transaction as the step rows and facts it implies, so a stale or duplicate delivery changes
nothing, and a crash between two lines never leaves half a transition. A write that finds the fence
moved on returns None/False: its caller has been fenced off and does nothing more.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import and_, bindparam, inspect, or_, select, update
from sqlalchemy.orm import joinedload

from app import definitions, status_watch
from app.errors import failure_reason
from app.extensions import db, end_read, get_redis, in_list, keeping_loaded
from app.models import Debt, Saga, SagaStatus, SagaStep, StepKind, StepStatus
from app.models.types import utcnow
from app.observability import metrics

log = logging.getLogger("saga")
# The routine lines of a saga going well: each action's attempt and success, and its start. Text
# logs above DEBUG leave them out, and do not even build them (app/observability/logs.py): a
# booking then shows as two lines, created and its outcome. Compensations, retries and failures
# stay on `saga`.
routine = logging.getLogger("saga.steps")

MESSAGE_LIMIT = 500
# An owed compensation is retried after 30 s, then twice as late each time, at most hourly.
DEBT_FIRST_RETRY_SECONDS = 30
DEBT_RETRY_MAX_SECONDS = 3600
# The statuses in which each kind of step may write; a follow-up (after the pivot) only while the
# saga is confirmed (runnable()).
RUNNABLE = {
    StepKind.ACTION: (SagaStatus.PENDING, SagaStatus.RUNNING),
    StepKind.COMPENSATION: (SagaStatus.COMPENSATING, SagaStatus.CANCELLING),
}
IN_FLIGHT = (SagaStatus.PENDING, SagaStatus.RUNNING, SagaStatus.COMPENSATING, SagaStatus.CANCELLING)


FOLLOW_UP_RUNNABLE = (SagaStatus.CONFIRMED,)


def runnable(name: str) -> tuple[str, ...]:
    """The saga statuses in which step `name` may write."""
    kind = definitions.kind_of(name)
    if kind == StepKind.ACTION and definitions.is_follow_up(name):
        return FOLLOW_UP_RUNNABLE
    return RUNNABLE[kind]


def in_flight():
    """The SQL condition of a saga that still has a writer: running or undoing, or confirmed at its
    pivot with follow-ups left (its lease lapsing means they stalled, as for any other step)."""
    return or_(Saga.status.in_(IN_FLIGHT),
               and_(Saga.status == SagaStatus.CONFIRMED, Saga.completed_at.is_(None)))


def is_in_flight(saga: Saga) -> bool:
    return saga.status in IN_FLIGHT or (saga.status == SagaStatus.CONFIRMED and saga.completed_at is None)


def in_flight_by_version() -> dict[int, int]:
    """How many sagas still have work to do under each registered definition version (0 for none):
    an old version can be deleted from app/saga.py once its count is 0 on every deploy."""
    counts = dict(db.session.execute(
        select(Saga.definition_version, db.func.count()).where(in_flight()).group_by(Saga.definition_version)
    ).all())
    return {version: counts.get(version, 0) for version in sorted({*definitions.registered(), *counts})}


# A step in one of these is done for good: no later write of any delivery changes it.
SETTLED = (StepStatus.SUCCEEDED, StepStatus.DEBT)


# What a step reads besides the saga row: its steps (the engine's checks) and its hold (every step
# before the pivot keeps it long enough, and the pivot consumes it). Built once: Session.get builds
# and annotates its statement anew on every call, a quarter of the read's CPU.
@cache
def _step_read():
    return (select(Saga).where(Saga.id == bindparam("saga_id"))
            .options(joinedload(Saga.steps), joinedload(Saga.hold))
            .execution_options(populate_existing=True))


def load(saga_id: str, *, for_step: bool = False) -> Saga | None:
    """The saga as the database has it now, not as this session last saw it (with what a step
    reads in the same query, when the caller runs one)."""
    db.session.expire_all()
    if for_step:
        return db.session.execute(_step_read(), {"saga_id": saga_id}).unique().scalar_one_or_none()
    # populate_existing: a saga this session already holds is read with the same query (an expired
    # object would otherwise be refreshed on its own).
    return db.session.get(Saga, saga_id, populate_existing=True)


def lease(extra_seconds: float = 0, now: datetime | None = None) -> datetime:
    """When a lease taken now lapses: SAGA_LEASE_SECONDS, plus time the writer will sleep first."""
    return (now or utcnow()) + timedelta(seconds=current_app.config["SAGA_LEASE_SECONDS"] + extra_seconds)


def _own(saga_id: str, fence: int, statuses: tuple[str, ...], moves: dict | None = None, *,
         extra_seconds: float = 0) -> bool:
    """The fenced write every other one starts with: the saga row, only while this writer owns it.

    Not committed: the caller's step rows join the same transaction. On PostgreSQL it also locks
    the row, so writers of one saga take turns; SQLite has one writer at a time anyway.
    """
    moves = moves or {}
    now = utcnow()
    return db.session.execute(_own_statement(tuple(sorted(moves)), tuple(statuses)), {
        "w_saga_id": saga_id, "w_fence": fence, "now": now,
        "lease": lease(extra_seconds, now), **{f"new_{name}": value for name, value in moves.items()},
    }).rowcount == 1


# The log's frequent writes, built once per shape: a statement built per call cost ~20 times its
# execution (construction and cache key), on every step of every saga. Table-level, so the session
# flushes what a step added (a hold, a ticket) first, in the same transaction, and does not
# re-evaluate it; the saga's own columns a step set reach _own's UPDATE instead (facts_written).
_sagas, _steps = Saga.__table__, SagaStep.__table__
_SAGA_COLUMNS = frozenset(column.key for column in inspect(Saga).column_attrs)


@cache
def _own_statement(moved: tuple[str, ...], statuses: tuple[str, ...]):
    return (update(_sagas)
            .where(_sagas.c.id == bindparam("w_saga_id"), _sagas.c.fence == bindparam("w_fence"),
                   _sagas.c.status.in_(in_list(statuses)))
            .values(updated_at=bindparam("now"), progressed_at=bindparam("now"),
                    lease_expires_at=bindparam("lease"), version=_sagas.c.version + 1,
                    **{name: bindparam(f"new_{name}") for name in moved}))


# Parameters of a WHERE are named w_*: a name of a column in the SET is the SET's own.
_OPEN_STEP = (_steps.c.saga_id == bindparam("w_saga_id"), _steps.c.name == bindparam("w_step"),
              _steps.c.status.not_in(in_list(SETTLED)))
_START_STEP = (update(_steps).where(*_OPEN_STEP)
               .values(status=StepStatus.RUNNING, attempts=_steps.c.attempts + 1,
                       task_id=bindparam("task_id"),
                       started_at=db.func.coalesce(_steps.c.started_at, bindparam("now")))
               .returning(_steps.c.attempts))
_CLAIM_PIVOT = (update(_sagas)
                .where(_sagas.c.id == bindparam("w_saga_id"), _sagas.c.fence == bindparam("w_fence"),
                       _sagas.c.status == SagaStatus.RUNNING, _sagas.c.pivoted_at.is_(None))
                .values(pivoted_at=bindparam("now"), updated_at=bindparam("now"),
                        lease_expires_at=bindparam("lease"), version=_sagas.c.version + 1))
_RENEW = (update(_sagas)
          .where(_sagas.c.id == bindparam("w_saga_id"), _sagas.c.fence == bindparam("w_fence"),
                 or_(_sagas.c.status.in_(IN_FLIGHT),  # in_flight(), on the table
                     and_(_sagas.c.status == SagaStatus.CONFIRMED, _sagas.c.completed_at.is_(None))))
          .values(lease_expires_at=bindparam("lease")))


@cache
def _finish_step_statement(columns: tuple[str, ...]):
    return update(_steps).where(*_OPEN_STEP).values(**{name: bindparam(f"new_{name}") for name in columns})


def _moved(saga_id: str, status: str) -> None:
    """After the commit of a status change: logged, counted, and announced to waiting readers."""
    (routine if status == SagaStatus.RUNNING else log).info(
        "saga %s -> %s", saga_id, status, extra={"saga_id": saga_id, "status": status})
    metrics.saga_transitioned(saga_id, status)
    status_watch.announce(get_redis(), saga_id, status)


def start_step(saga_id: str, fence: int, name: str, kind: str, task_id: str | None,
               status_before: str | None = None) -> Saga | None:
    """Record an attempt of `name` (a pending saga starts running); None when fenced off.

    `status_before` is the saga's status as the caller just read it: it is not read again, and
    the caller's loaded saga stays loaded. Otherwise the saga returned reloads on first use.
    """
    read_before = status_before is None
    if read_before:
        db.session.rollback()
        status_before = db.session.execute(select(Saga.status).where(Saga.id == saga_id)).scalar_one_or_none()
    else:
        end_read()
    # pending -> running at the first action; a confirmed saga stays confirmed while its follow-ups run.
    starts = kind == StepKind.ACTION and status_before == SagaStatus.PENDING
    moves = {"status": SagaStatus.RUNNING} if starts else {}
    if not _own(saga_id, fence, runnable(name), moves):
        db.session.rollback()
        return None
    attempts = db.session.execute(
        _START_STEP, {"w_saga_id": saga_id, "w_step": name, "task_id": task_id, "now": utcnow()}
    ).scalar_one_or_none()
    if read_before:
        db.session.commit()
    else:
        # The caller's saga stays loaded (no read again): what this write changed (status, lease,
        # the step row) the step does not read, and its success is written by fenced UPDATEs too.
        with keeping_loaded():
            db.session.commit()
    if status_before == SagaStatus.PENDING and kind == StepKind.ACTION:
        _moved(saga_id, SagaStatus.RUNNING)
    _attempt_logged(saga_id, name, attempts or 0, task_id)
    return db.session.get(Saga, saga_id)


def resume_started(saga: Saga, name: str, task_id: str) -> None:
    """Begin the attempt of `name` that the step before it recorded (finish_step's `start_next`):
    nothing to write, only the read's transaction to end."""
    end_read()
    _attempt_logged(saga.id, name, saga.step(name).attempts, task_id)


def _attempt_logged(saga_id: str, name: str, attempts: int, task_id: str | None) -> None:
    routine.info("saga %s: %s attempt %d", saga_id, name, attempts,
             extra={"saga_id": saga_id, "step": name, "attempt": attempts, "task_id": task_id})


def facts_written(saga: Saga) -> dict[str, object]:
    """The saga's columns a step set on the loaded row (its payment's id, say), taken off the ORM:
    finish_step writes them in its own fenced UPDATE of the row, one statement where the session's
    flush added a second, unfenced one."""
    state = inspect(saga)
    facts = {key: getattr(saga, key) for key in list(state.committed_state) if key in _SAGA_COLUMNS}
    if facts:
        # Nothing left for the session to flush (its flush would reload a row a commit in the
        # step expired, to write it again); a later read loads what the success committed.
        db.session.expire(saga)
    return facts


def finish_step(saga_id: str, fence: int, name: str, status: str, error: BaseException | None = None,
                *, retry_in: float = 0, saga_status: str | None = None,
                completed: bool = False, start_next: str | None = None,
                next_task_id: str | None = None, facts: dict[str, object] | None = None) -> str | None:
    """Record how an attempt of `name` ended; the step's status now, or None when fenced off.

    `running` keeps the step open for a retry in `retry_in` seconds (the lease covers the wait).
    A settled step is never changed: a duplicate that failed finds it succeeded and says so.
    `saga_status` moves the saga in the same transaction (the pivot confirms it); `completed` marks
    its last action done; `start_next` records the first attempt of the step that follows a
    success (the chain's next message, `next_task_id`), so that step's delivery writes nothing
    before its work (engine._started_ahead).
    A success commits what the step itself wrote to the saga row (say, its payment's id) in the
    same transaction as the log, so a fenced-off writer's facts are rolled back with its log;
    `facts` (facts_written) are set by the fenced UPDATE of the row itself.
    """
    if status != StepStatus.SUCCEEDED:
        db.session.rollback()
        facts = None
    kind = definitions.kind_of(name)
    moves: dict[str, object] = dict(facts or {})
    if saga_status:
        moves["status"] = saga_status
    if completed:
        moves["completed_at"] = utcnow()
    if not _own(saga_id, fence, runnable(name), moves, extra_seconds=retry_in):
        db.session.rollback()
        return None
    values: dict[str, object] = {"status": status}
    if status != StepStatus.RUNNING:
        values["finished_at"] = utcnow()
    if error is not None:
        values.update(error_code=failure_reason(error), error_message=str(error)[:MESSAGE_LIMIT])
    elif status == StepStatus.SUCCEEDED:
        values.update(error_code=None, error_message=None)
    written = db.session.execute(
        _finish_step_statement(tuple(sorted(values))),
        {"w_saga_id": saga_id, "w_step": name, **{f"new_{key}": value for key, value in values.items()}},
    ).rowcount == 1
    if not written:
        db.session.rollback()
        return db.session.execute(
            select(SagaStep.status).where(SagaStep.saga_id == saga_id, SagaStep.name == name)
        ).scalar_one_or_none()
    if start_next is not None and status == StepStatus.SUCCEEDED:
        db.session.execute(_START_STEP, {"w_saga_id": saga_id, "w_step": start_next,
                                         "task_id": next_task_id, "now": utcnow()})
    db.session.commit()
    went_well = kind == StepKind.ACTION and status == StepStatus.SUCCEEDED
    (routine if went_well else log).info("saga %s: %s %s", saga_id, name, status, extra={
        "saga_id": saga_id, "step": name, "step_status": status, "error": values.get("error_code")})
    metrics.step_finished(kind, name, status)
    if saga_status:
        _moved(saga_id, saga_status)
    return status


def claim_pivot(saga_id: str, fence: int) -> bool:
    """Mark the saga past its pivot, uncommitted: the ticket commits with it or neither does.

    On the table, like the log's other frequent writes: the session's loaded saga and hold stay
    as they are (an ORM UPDATE re-read the hold), and nothing the step reads changes here."""
    now = utcnow()
    return db.session.execute(_CLAIM_PIVOT, {"w_saga_id": saga_id, "w_fence": fence, "now": now,
                                             "lease": lease(now=now)}).rowcount == 1


def _add_compensations(saga_id: str, names: list[str]) -> None:
    saga = db.session.get(Saga, saga_id)
    existing = {step.name for step in saga.steps}
    position = max((step.position for step in saga.steps), default=0)
    for name in names:
        if name not in existing:
            position += 1
            saga.steps.append(SagaStep(name=name, kind=StepKind.COMPENSATION, position=position))


def begin_compensation(saga_id: str, fence: int, failed_step: str,
                       error: BaseException) -> tuple[int, list[str]] | None:
    """running -> compensating under the next fence, with the compensations of every step that
    started, in one transaction; (fence, compensations) for the one caller that won, else None.

    Refused once the pivot has issued the ticket (the same row's `pivoted_at`): past it nothing
    is undone. Taking the next fence fences off every delivery of the chain being undone.
    """
    db.session.rollback()
    moved = db.session.execute(
        update(Saga).where(Saga.id == saga_id, Saga.fence == fence, Saga.status == SagaStatus.RUNNING,
                           Saga.pivoted_at.is_(None))
        .values(status=SagaStatus.COMPENSATING, fence=Saga.fence + 1, failure_step=failed_step,
                failure_reason=failure_reason(error), failure_detail=str(error)[:MESSAGE_LIMIT],
                updated_at=utcnow(), progressed_at=utcnow(), lease_expires_at=lease(),
                version=Saga.version + 1)
    ).rowcount == 1
    if not moved:
        db.session.rollback()
        return None
    # Read after the row is ours: every start of a step under the old fence is committed by now.
    started = db.session.execute(
        select(SagaStep.name).where(SagaStep.saga_id == saga_id, SagaStep.kind == StepKind.ACTION,
                                    SagaStep.attempts > 0)
    ).scalars().all()
    version = db.session.execute(select(Saga.definition_version).where(Saga.id == saga_id)).scalar_one()
    names = definitions.get(version).compensations_for(started)
    _add_compensations(saga_id, names)
    db.session.commit()
    _moved(saga_id, SagaStatus.COMPENSATING)
    return fence + 1, names


def begin_cancellation(saga_id: str) -> tuple[int, list[str]] | None:
    """confirmed -> cancelling under the next fence, with every compensation, in one transaction.

    Follow-ups still retrying are fenced off by it; their compensations run like the others'."""
    db.session.rollback()
    row = db.session.execute(select(Saga.fence, Saga.definition_version).where(Saga.id == saga_id)).first()
    if row is None:
        return None
    fence, version = row
    steps = definitions.get(version)
    names = steps.compensations_for(steps.action_names)
    cancelling = {"status": SagaStatus.CANCELLING, "fence": fence + 1}
    if not _own(saga_id, fence, (SagaStatus.CONFIRMED,), cancelling):
        db.session.rollback()
        return None
    _add_compensations(saga_id, names)
    db.session.commit()
    _moved(saga_id, SagaStatus.CANCELLING)
    return fence + 1, names


def complete(saga_id: str, fence: int) -> bool:
    """Record that a confirmed saga whose every action succeeded has nothing left to do."""
    db.session.rollback()
    done = _own(saga_id, fence, (SagaStatus.CONFIRMED,), {"completed_at": utcnow()})
    db.session.commit()
    return done


def take_over(saga_id: str, fence: int, now: datetime | None = None) -> int | None:
    """Become the saga's writer after its lease lapsed: the next fence, or None if another did."""
    db.session.rollback()
    now = now or utcnow()
    won = db.session.execute(
        update(Saga).where(Saga.id == saga_id, Saga.fence == fence, in_flight(),
                           Saga.lease_expires_at < now)
        .values(fence=Saga.fence + 1, lease_expires_at=lease(now=now), updated_at=now,
                version=Saga.version + 1)
    ).rowcount == 1
    db.session.commit()
    return fence + 1 if won else None


def renew(saga_id: str, fence: int) -> bool:
    """The heartbeat of a working step: its lease runs on while it still owns the saga."""
    params = {"w_saga_id": saga_id, "w_fence": fence, "lease": lease()}
    return db.session.execute(_RENEW, params).rowcount == 1


def record_debt(saga_id: str, fence: int, name: str, error: BaseException) -> bool:
    """A compensation gave up: what is owed, and the step marked, in one fenced transaction."""
    db.session.rollback()
    if not _own(saga_id, fence, RUNNABLE[StepKind.COMPENSATION]):
        db.session.rollback()
        return False
    open_debt = db.session.execute(
        select(Debt.id).filter_by(saga_id=saga_id, step=name, paid_at=None)
    ).first()
    if open_debt is None:
        db.session.add(Debt(saga_id=saga_id, step=name, reason=failure_reason(error),
                            detail=str(error)[:MESSAGE_LIMIT], attempts=1,
                            next_attempt_at=debt_retry_at(1)))
    db.session.execute(
        update(SagaStep).where(SagaStep.saga_id == saga_id, SagaStep.name == name,
                               SagaStep.status.not_in(SETTLED))
        .values(status=StepStatus.DEBT, finished_at=utcnow(), error_code=failure_reason(error),
                error_message=str(error)[:MESSAGE_LIMIT])
    )
    db.session.commit()
    log.warning("saga %s: %s owes a debt: %s", saga_id, name, error,
                extra={"saga_id": saga_id, "step": name})
    metrics.step_finished(StepKind.COMPENSATION, name, StepStatus.DEBT)
    return True


def debt_retry_at(attempts: int, now: datetime | None = None) -> datetime:
    """When a debt that has had `attempts` tries is tried again."""
    delay = min(DEBT_RETRY_MAX_SECONDS, DEBT_FIRST_RETRY_SECONDS * 2 ** (attempts - 1))
    return (now or utcnow()) + timedelta(seconds=delay)


def open_debts(saga_id: str) -> int:
    return db.session.execute(
        db.select(db.func.count(Debt.id)).filter_by(saga_id=saga_id, paid_at=None)
    ).scalar_one()


def finish(saga_id: str, fence: int) -> str | None:
    """End a compensation or cancellation: failed/cancelled, or needs_attention while a debt is open.

    Only once every compensation is settled: a chain that lost one ends nothing, and the saga's
    lease lapses into a re-drive of what is left.
    """
    saga = load(saga_id)
    if saga is None or saga.fence != fence or saga.status not in RUNNABLE[StepKind.COMPENSATION]:
        return None
    if any(step.status not in SETTLED for step in saga.steps if step.kind == StepKind.COMPENSATION):
        return None
    if open_debts(saga_id):
        target = SagaStatus.NEEDS_ATTENTION
    elif saga.status == SagaStatus.CANCELLING:
        target = SagaStatus.CANCELLED
    else:
        target = SagaStatus.FAILED
    if not _own(saga_id, fence, (saga.status,), {"status": target}):
        db.session.rollback()
        return None
    db.session.commit()
    _moved(saga_id, target)
    return target


def settle(saga_id: str) -> bool:
    """needs_attention -> failed or cancelled once every debt is paid."""
    db.session.rollback()
    saga = load(saga_id)
    if saga is None or saga.status != SagaStatus.NEEDS_ATTENTION or open_debts(saga_id):
        return False
    target = SagaStatus.FAILED if saga.failure_reason else SagaStatus.CANCELLED
    if not _own(saga_id, saga.fence, (SagaStatus.NEEDS_ATTENTION,), {"status": target}):
        db.session.rollback()
        return False
    db.session.commit()
    _moved(saga_id, target)
    return True


def pay_debt_step(saga_id: str, name: str) -> None:
    """A debt was paid: its compensation step is done."""
    db.session.execute(
        update(SagaStep).where(SagaStep.saga_id == saga_id, SagaStep.name == name,
                               SagaStep.status == StepStatus.DEBT)
        .values(status=StepStatus.SUCCEEDED, finished_at=utcnow(), error_code=None, error_message=None)
    )
    db.session.execute(update(Saga).where(Saga.id == saga_id)
                       .values(version=Saga.version + 1, updated_at=utcnow()))
    db.session.commit()
    metrics.step_finished(StepKind.COMPENSATION, name, StepStatus.SUCCEEDED)
