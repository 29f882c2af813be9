"""The saga's compensations as Celery tasks, and the task that ends a compensation chain."""

from __future__ import annotations

from celery import shared_task

from app import engine
from app.tasks.runner import run


# max_retries=None: the engine bounds the attempts, then records a debt and lets the chain go on.
@shared_task(bind=True, name="saga.cancel_seat", max_retries=None)
def cancel_seat(self, saga_id: str, fence: int | None = None) -> None:
    run(self, saga_id, "cancel_seat", fence)


@shared_task(bind=True, name="saga.cancel_payment", max_retries=None)
def cancel_payment(self, saga_id: str, fence: int | None = None) -> None:
    run(self, saga_id, "cancel_payment", fence)


@shared_task(bind=True, name="saga.reverse_miles", max_retries=None)
def reverse_miles(self, saga_id: str, fence: int | None = None) -> None:
    run(self, saga_id, "reverse_miles", fence)


@shared_task(bind=True, name="saga.cancel_booking", max_retries=None)
def cancel_booking(self, saga_id: str, fence: int | None = None) -> None:
    run(self, saga_id, "cancel_booking", fence)


@shared_task(name="saga.finish")
def finish(saga_id: str, fence: int | None = None) -> None:
    if fence is not None:
        engine.finish(saga_id, fence)
