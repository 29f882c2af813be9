"""The step engine: one delivery of one step of one saga, and what should happen next. No Celery.

A delivery names the saga, the step, the fence of the chain that sent it and its attempt. The
engine reads the saga, runs the step's function from the saga's own definition (app/saga.py, the
version it started under) between two fenced writes of the log (app/saga_log.py) and answers with
an outcome; the Celery tasks only translate outcomes into `retry()` and raising, and the janitors
and the admin retry plan with the same log functions.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import redis.exceptions
import sqlalchemy.exc
from flask import current_app

from app import definitions, saga_log
from app import saga as definition
from app.errors import DeliveryInProgress, RetryForward, TransientError
from app.extensions import db
from app.models import Saga, SagaStatus, StepKind, StepStatus
from app.models.types import utcnow

log = logging.getLogger("saga")

# Failures that may pass on their own: retried with backoff before the step gives up.
TRANSIENT = (
    TransientError,
    sqlalchemy.exc.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


@dataclass(frozen=True)
class Done:
    """The step is recorded as done (now or before): the chain goes on."""


@dataclass(frozen=True)
class Retry:
    """Deliver the same step again in `countdown` seconds."""

    countdown: float
    error: BaseException


@dataclass(frozen=True)
class Failed:
    """The action failed for good and the log says so: the chain stops, its errback compensates."""

    error: BaseException


@dataclass(frozen=True)
class Fenced:
    """A stale or superseded delivery: it changed nothing, and its chain stops here."""

    reason: str


@dataclass(frozen=True)
class Misrouted:
    """The saga's definition version is not run by this process: deliver it to a worker that runs it."""

    version: int
    error: BaseException


Outcome = Done | Retry | Failed | Fenced | Misrouted


@dataclass(frozen=True)
class Plan:
    """What to enqueue for a saga under `fence`: actions (a chain with its errback), or
    compensations followed by the task that ends them, or the saga's debts."""

    saga_id: str
    fence: int
    actions: tuple[str, ...] = ()
    compensations: tuple[str, ...] = ()
    debts: bool = False
    version: int | None = None  # the saga's definition version: its messages go to that queue


def backoff(attempt: int) -> float:
    """Full-jitter exponential backoff, capped (kept far below the broker's visibility timeout)."""
    config = current_app.config
    ceiling = min(config["SAGA_RETRY_MAX_SECONDS"], config["SAGA_RETRY_BASE_SECONDS"] * 2**attempt)
    return random.uniform(ceiling / 2, ceiling)


def run_step(saga_id: str, name: str, fence: int | None, attempt: int = 0,
             task_id: str | None = None, next_task_id: str | None = None) -> Outcome:
    """Run one delivery of action or compensation `name`; `next_task_id` is the id of the chain's
    next message, recorded on the next step when this one's success starts it."""
    if fence is None:
        return Fenced("the message carries no fence (sent before fences existed)")
    try:
        if definitions.kind_of(name) == StepKind.ACTION:
            return _run_action(saga_id, name, fence, attempt, task_id, next_task_id)
        return _run_compensation(saga_id, name, fence, attempt, task_id)
    except definitions.UnknownDefinition as exc:  # it changed nothing: a worker that knows it will
        db.session.rollback()
        log.warning("saga %s: %s: %s goes to its queue", saga_id, exc, name,
                    extra={"saga_id": saga_id, "step": name})
        return Misrouted(exc.version, exc)
    except TRANSIENT as exc:  # the log itself did not answer (a locked SQLite, a lost connection)
        db.session.rollback()
        log.warning("saga %s: %s could not reach the saga log: %s", saga_id, name, exc,
                    extra={"saga_id": saga_id, "step": name})
        return Retry(backoff(attempt), exc)


def _current(saga_id: str, fence: int, name: str) -> Saga | Fenced:
    saga = saga_log.load(saga_id, for_step=True)
    if saga is None:
        return Fenced("no such saga")
    if saga.fence != fence:
        return Fenced(f"fence {fence} is stale: the saga is at {saga.fence}")
    if saga.status not in saga_log.runnable(name) or not saga_log.is_in_flight(saga):
        return Fenced(f"the saga is {saga.status}")
    return saga


def _run_action(saga_id: str, name: str, fence: int, attempt: int, task_id: str | None,
                next_task_id: str | None) -> Outcome:
    saga = _current(saga_id, fence, name)
    if isinstance(saga, Fenced):
        return saga
    steps = definitions.of(saga)
    if name not in steps.actions:
        return Fenced(f"{name} is not a step of saga v{steps.version}")
    if saga.step(name).status == StepStatus.SUCCEEDED:
        return Done()
    if any(saga.step(step).status != StepStatus.SUCCEEDED for step in steps.before(name)):
        return Fenced(f"{name} arrived before the steps it follows")
    if _started_ahead(saga, name, attempt, task_id):
        saga_log.resume_started(saga, name, task_id)
    else:
        saga = saga_log.start_step(saga_id, fence, name, StepKind.ACTION, task_id, saga.status)
        if saga is None:
            return Fenced("fenced off at the start")
    step = steps.step(name)
    follow_up = name in steps.follow_ups
    try:
        with heartbeat(saga_id, fence):
            if saga.pivoted_at is None and name != steps.action_names[0]:
                definition.keep_hold_for_next_step(saga)
            if step.pivot and saga.pivoted_at is None and not saga_log.claim_pivot(saga_id, fence):
                db.session.rollback()
                saga = saga_log.load(saga_id)
                if saga.fence != fence or saga.pivoted_at is None:
                    return Fenced("another writer took the saga at the pivot")
            steps.actions[name](saga)
    except DeliveryInProgress as exc:
        return _defer(name, exc)
    except RetryForward as exc:  # past the pivot: retried until it succeeds, never undone
        return _again(saga_id, fence, name, attempt, exc)
    except Exception as exc:
        # Past the pivot nothing is undone: a follow-up retries, with backoff, until it succeeds.
        retries_left = attempt < current_app.config["SAGA_STEP_MAX_RETRIES"]
        if follow_up or (isinstance(exc, TRANSIENT) and retries_left):
            return _again(saga_id, fence, name, attempt, exc)
        return _fail(saga_id, fence, name, exc)
    # The pivot confirms the booking; the follow-ups after it only complete the saga.
    status = saga_log.finish_step(saga_id, fence, name, StepStatus.SUCCEEDED,
                                  saga_status=SagaStatus.CONFIRMED if step.pivot else None,
                                  completed=name == steps.action_names[-1],
                                  start_next=steps.after(name), next_task_id=next_task_id,
                                  facts=saga_log.facts_written(saga))
    return Fenced("fenced off before its success was recorded") if status is None else Done()


def _started_ahead(saga: Saga, name: str, attempt: int, task_id: str | None) -> bool:
    """This very message's first delivery, whose attempt the success of the step before it recorded
    in its own fenced transaction (saga_log.finish_step's `start_next`, with this message's id),
    while that transaction's lease is still fresh: its own start would write the same again, and
    the read that found the fence and the status current is as fresh as that write would be.
    A retry, a re-drive (new messages) or a late delivery records its attempt as always."""
    step = saga.step(name)
    if (attempt or task_id is None or step.task_id != task_id or step.status != StepStatus.RUNNING
            or saga.lease_expires_at is None):
        return False
    left = (saga.lease_expires_at - utcnow()).total_seconds()
    return left >= current_app.config["SAGA_LEASE_SECONDS"] * 2 / 3


def _run_compensation(saga_id: str, name: str, fence: int, attempt: int, task_id: str | None) -> Outcome:
    saga = _current(saga_id, fence, name)
    if isinstance(saga, Fenced):
        return saga
    steps = definitions.of(saga)
    if saga.step(name) is None or name not in steps.compensations:
        return Fenced(f"{name} is not among this saga's compensations")
    if saga.step(name).status in saga_log.SETTLED:
        return Done()
    saga = saga_log.start_step(saga_id, fence, name, StepKind.COMPENSATION, task_id, saga.status)
    if saga is None:
        return Fenced("fenced off at the start")
    try:
        with heartbeat(saga_id, fence):
            steps.compensations[name](saga)
    except DeliveryInProgress as exc:
        return _defer(name, exc)
    except Exception as exc:  # any failure is retried, then kept as a debt: never swallowed
        if attempt < current_app.config["SAGA_COMPENSATION_MAX_RETRIES"]:
            return _again(saga_id, fence, name, attempt, exc)
        db.session.rollback()
        return Done() if saga_log.record_debt(saga_id, fence, name, exc) else Fenced("fenced off")
    status = saga_log.finish_step(saga_id, fence, name, StepStatus.SUCCEEDED)
    return Fenced("fenced off before its success was recorded") if status is None else Done()


def _defer(name: str, exc: DeliveryInProgress) -> Outcome:
    """Not retried: a retry would renew the lease a dead sender no longer renews, and keep the
    reconciler from the takeover that lets the work go on."""
    db.session.rollback()
    return Fenced(f"another delivery of {name} holds its work: {exc}")


def _again(saga_id: str, fence: int, name: str, attempt: int, exc: BaseException) -> Outcome:
    countdown = backoff(attempt)
    if saga_log.finish_step(saga_id, fence, name, StepStatus.RUNNING, exc, retry_in=countdown) is None:
        return Fenced("fenced off")
    return Retry(countdown, exc)


def _fail(saga_id: str, fence: int, name: str, exc: BaseException) -> Outcome:
    status = saga_log.finish_step(saga_id, fence, name, StepStatus.FAILED, exc)
    if status is None:
        return Fenced("fenced off")
    # A duplicate of this step succeeded meanwhile: a success is never downgraded.
    return Done() if status == StepStatus.SUCCEEDED else Failed(exc)


def step_failed(saga_id: str, fence: int, failed_step: str, error: BaseException) -> Plan | None:
    """The chain's errback: compensate every step that started, under the next fence."""
    saga = saga_log.load(saga_id)
    if saga is None or saga.step(failed_step) is None or saga.step(failed_step).status != StepStatus.FAILED:
        return None  # not a failure the log recorded (a crash of the engine itself): leases cover it
    begun = saga_log.begin_compensation(saga_id, fence, failed_step, error)
    if begun is None:
        log.info("saga %s: error callback for %s found nothing to start", saga_id, failed_step,
                 extra={"saga_id": saga_id, "step": failed_step})
        return None
    new_fence, names = begun
    return Plan(saga_id, new_fence, compensations=tuple(names), version=saga.definition_version)


def finish(saga_id: str, fence: int) -> str | None:
    """The last task of a compensation chain."""
    return saga_log.finish(saga_id, fence)


def cancel(saga_id: str) -> Plan | None:
    """The owner cancels a confirmed booking: undo every step, newest first, under the next fence."""
    begun = saga_log.begin_cancellation(saga_id)
    if begun is None:
        return None
    new_fence, names = begun
    return Plan(saga_id, new_fence, compensations=tuple(names))


class _Heartbeats:
    """One thread per process renews the lease of every step working in it.

    A step registers when it starts and leaves when it ends; a step that ends within a third of
    its lease (nearly all) costs two dict operations, and wakes the thread only if its first beat
    is due before the thread's next wake-up (never at the default lease: the thread wakes every
    second, the first beat is due after a third of the lease). Each beat is a SQL write in an app
    context of its own; a beat that finds the fence moved on stops beating for that step.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._working: dict[object, list] = {}  # token -> [app, saga_id, fence, interval, due]
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._wakes_at = 0.0  # when the thread's wait ends, set under the lock

    @contextmanager
    def working(self, saga_id: str, fence: int) -> Iterator[None]:
        app = current_app._get_current_object()
        interval = app.config["SAGA_LEASE_SECONDS"] / 3
        token = object()
        due = time.monotonic() + interval
        with self._lock:
            self._working[token] = [app, saga_id, fence, interval, due]
            # A prefork pool child inherits no thread: each process starts its own.
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._wakes_at = 0.0
                self._thread = threading.Thread(target=self._beat, name="lease-heartbeat", daemon=True)
                self._thread.start()
            wake = due < self._wakes_at
        if wake:
            self._changed.set()
        try:
            yield
        finally:
            with self._lock:
                self._working.pop(token, None)

    def _beat(self) -> None:
        while True:
            now = time.monotonic()
            with self._lock:
                due = [(token, entry) for token, entry in self._working.items() if entry[4] <= now]
                earliest = min((entry[4] for entry in self._working.values()), default=now + 1.0)
                # When the wait below ends (after the renewals, if any are due): a step registering
                # from here on wakes the thread only if its first beat is due before that.
                self._wakes_at = now + max(0.01, min(1.0, earliest - now))
            for token, (app, saga_id, fence, interval, _) in due:
                if self._renew(app, saga_id, fence):
                    with self._lock:
                        if token in self._working:
                            self._working[token][4] = time.monotonic() + interval
                else:
                    with self._lock:
                        self._working.pop(token, None)  # another writer owns the saga now
            self._changed.wait(max(0.01, min(1.0, earliest - time.monotonic())))
            self._changed.clear()

    @staticmethod
    def _renew(app, saga_id: str, fence: int) -> bool:
        with app.app_context():
            try:
                renewed = saga_log.renew(saga_id, fence)
                db.session.commit()
                return renewed
            except Exception as exc:  # a missed beat only shortens the lease; the next one retries
                db.session.rollback()
                log.warning("saga %s: lease not renewed: %s", saga_id, exc, extra={"saga_id": saga_id})
                return True
            finally:
                db.session.remove()


_heartbeats = _Heartbeats()


def heartbeat(saga_id: str, fence: int):
    """Renew the saga's lease while a step works, so a slow participant is not taken for a crash:
    every third of the lease, until the step ends or its fence moves on."""
    return _heartbeats.working(saga_id, fence)
