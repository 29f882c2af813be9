"""Starting a saga, the chain's error callback, and enqueueing what the engine planned.

Every message of a saga goes to its definition version's queue (`saga.v<n>`): a worker consumes the
queues of the versions it runs (celery_init_app), so during a rolling deploy a message never reaches
a worker that lacks its steps; it waits in its queue until one that has them is up (docs/saga.md
"Versions").
"""

from __future__ import annotations

import logging

from celery import chain, shared_task

from app import definitions, engine, recovery
from app.engine import Plan
from app.extensions import db
from app.models import Saga
from app.tasks.steps import TASKS

log = logging.getLogger("saga")


def start(saga_id: str, fence: int, version: int | None = None) -> None:
    """Enqueue a new saga's chain of actions under its first fence."""
    version = version or _version(saga_id)
    dispatch(Plan(saga_id, fence, actions=tuple(definitions.get(version).action_names), version=version))


def _version(saga_id: str) -> int:
    return db.session.execute(db.select(Saga.definition_version).where(Saga.id == saga_id)).scalar_one()


def dispatch(plan: Plan) -> None:
    """Enqueue what the engine or recovery planned: every message carries the plan's fence."""
    version = plan.version or _version(plan.saga_id)
    queue = definitions.queue(version)
    if plan.debts:
        pay_debts.apply_async((plan.saga_id,), queue=queue)
    elif plan.actions:
        chain(*(TASKS[name].si(plan.saga_id, plan.fence).set(queue=queue) for name in plan.actions)).on_error(
            on_step_failed.s(saga_id=plan.saga_id, fence=plan.fence)
        ).apply_async()
    else:
        chain(*(TASKS[name].si(plan.saga_id, plan.fence).set(queue=queue) for name in plan.compensations),
              finish.si(plan.saga_id, plan.fence).set(queue=queue)).apply_async()


# New-style errback (not bound, more than one argument): Celery calls it inline in the worker that
# ran the failed step, once, after the step's retries are exhausted.
@shared_task(name="saga.on_step_failed")
def on_step_failed(request, exc, traceback, saga_id: str, fence: int | None = None) -> None:
    if fence is None:
        return
    plan = engine.step_failed(saga_id, fence, request.task.removeprefix("saga."), exc)
    if plan is not None:
        dispatch(plan)


@shared_task(name="saga.finish")
def finish(saga_id: str, fence: int | None = None) -> None:
    """The last task of a compensation chain."""
    if fence is not None:
        engine.finish(saga_id, fence)


@shared_task(name="saga.pay_debts")
def pay_debts(saga_id: str) -> None:
    """An operator's retry of one saga's debts."""
    recovery.pay_debts_of(saga_id)


def cancel(saga_id: str) -> bool:
    """The owner cancels a confirmed booking: undo every step, newest first."""
    plan = engine.cancel(saga_id)
    if plan is None:
        return False
    dispatch(plan)
    return True
