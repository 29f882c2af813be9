"""Starting a saga, the chain's error callback, and the compensation chain it starts."""

from __future__ import annotations

import logging

from celery import chain, shared_task

from app import saga as definition
from app import saga_log
from app.tasks import compensations, steps

log = logging.getLogger("saga")

ACTION_TASKS = {name: getattr(steps, name) for name in definition.ACTIONS}
COMPENSATION_TASKS = {name: getattr(compensations, name) for name in definition.COMPENSATIONS}


def start(saga_id: str, from_step: str | None = None) -> None:
    """Enqueue the chain of actions (from `from_step` on), with one error callback on it."""
    names = definition.ACTION_NAMES
    names = names[names.index(from_step):] if from_step else names
    chain(*(ACTION_TASKS[name].si(saga_id) for name in names)).on_error(
        on_step_failed.s(saga_id=saga_id)
    ).apply_async()


def dispatch(redrive) -> None:
    """Enqueue what recovery planned for a saga (app.recovery.Redrive)."""
    if redrive.debts:
        from app.tasks.maintenance import pay_debts

        pay_debts.delay(redrive.saga_id)
    elif redrive.actions_from:
        start(redrive.saga_id, from_step=redrive.actions_from)
    else:
        compensate(redrive.saga_id, list(redrive.compensations))


def compensate(saga_id: str, names: list[str]) -> None:
    """Enqueue compensations `names` in that order, then the task that ends the saga."""
    chain(*(COMPENSATION_TASKS[name].si(saga_id) for name in names),
          compensations.finish.si(saga_id)).apply_async()


# New-style errback (not bound, more than one argument): Celery calls it inline in the worker that
# ran the failed step, once, after the step's retries are exhausted.
@shared_task(name="saga.on_step_failed")
def on_step_failed(request, exc, traceback, saga_id: str) -> None:
    failed_step = request.task.removeprefix("saga.")
    saga = saga_log.load(saga_id)
    if saga is None:
        return
    started = [step.name for step in saga.steps if step.kind == "action" and step.attempts]
    names = definition.compensations_for(started)
    if saga_log.begin_compensation(saga_id, failed_step, exc, names):
        compensate(saga_id, names)
    else:
        log.info("saga %s: error callback for %s found nothing to start", saga_id, failed_step,
                 extra={"saga_id": saga_id, "step": failed_step})


def cancel(saga_id: str) -> bool:
    """The owner cancels a confirmed booking: undo every step, newest first."""
    names = definition.compensations_for(definition.ACTION_NAMES)
    if not saga_log.begin_cancellation(saga_id, names):
        return False
    compensate(saga_id, names)
    return True
