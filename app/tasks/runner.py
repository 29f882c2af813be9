"""How a step task runs: ask the engine (app/engine.py), then translate its outcome for Celery."""

from __future__ import annotations

import logging

from celery import Task

from app import definitions, engine

log = logging.getLogger("saga")


def run(task: Task, saga_id: str, name: str, fence: int | None) -> None:
    """Done: the chain goes on. Retry: `retry()`. Failed: raise, so the chain's errback runs.
    Fenced: the rest of this chain belongs to a writer that no longer exists, so it is dropped.
    Misrouted: the saga's version is not run here; the message goes to that version's queue."""
    outcome = engine.run_step(saga_id, name, fence, task.request.retries, task.request.id,
                              _next_task_id(task.request.chain))
    if isinstance(outcome, engine.Retry):
        # max_retries=None: the engine counts attempts, and work past the pivot retries until done.
        raise task.retry(exc=outcome.error, countdown=outcome.countdown, max_retries=None)
    if isinstance(outcome, engine.Misrouted):
        raise task.retry(exc=outcome.error, countdown=0, max_retries=None,
                         queue=definitions.queue(outcome.version))
    if isinstance(outcome, engine.Failed):
        raise outcome.error
    if isinstance(outcome, engine.Fenced):
        log.info("saga %s: %s fenced off: %s", saga_id, name, outcome.reason,
                 extra={"saga_id": saga_id, "step": name})
        task.request.chain = None


def _next_task_id(rest: list[dict] | None) -> str | None:
    """The id of the chain's next message: Celery gave every task of the chain its id when the
    chain was sent, and this message carries the rest, the next one last."""
    if not rest:
        return None
    return rest[-1].get("options", {}).get("task_id")
