"""Starting a saga, the chain's error callback, and enqueueing what the engine planned."""

from __future__ import annotations

import logging

from celery import chain, shared_task

from app import engine, recovery
from app import saga as definition
from app.engine import Plan
from app.tasks import compensations, steps

log = logging.getLogger("saga")

ACTION_TASKS = {name: getattr(steps, name) for name in definition.ACTIONS}
COMPENSATION_TASKS = {name: getattr(compensations, name) for name in definition.COMPENSATIONS}


def start(saga_id: str, fence: int) -> None:
    """Enqueue a new saga's chain of actions under its first fence."""
    dispatch(Plan(saga_id, fence, actions=tuple(definition.ACTION_NAMES)))


def dispatch(plan: Plan) -> None:
    """Enqueue what the engine or recovery planned: every message carries the plan's fence."""
    if plan.debts:
        pay_debts.delay(plan.saga_id)
    elif plan.actions:
        chain(*(ACTION_TASKS[name].si(plan.saga_id, plan.fence) for name in plan.actions)).on_error(
            on_step_failed.s(saga_id=plan.saga_id, fence=plan.fence)
        ).apply_async()
    else:
        chain(*(COMPENSATION_TASKS[name].si(plan.saga_id, plan.fence) for name in plan.compensations),
              compensations.finish.si(plan.saga_id, plan.fence)).apply_async()


# New-style errback (not bound, more than one argument): Celery calls it inline in the worker that
# ran the failed step, once, after the step's retries are exhausted.
@shared_task(name="saga.on_step_failed")
def on_step_failed(request, exc, traceback, saga_id: str, fence: int | None = None) -> None:
    if fence is None:
        return
    plan = engine.step_failed(saga_id, fence, request.task.removeprefix("saga."), exc)
    if plan is not None:
        dispatch(plan)


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
