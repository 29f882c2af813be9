"""The saga's compensations as Celery tasks, and the task that ends a compensation chain."""

from __future__ import annotations

from celery import shared_task

from app import saga_log
from app.tasks.runner import run_compensation


# max_retries=None: each retry() in app/tasks/runner.py names its own bound, and work past the pivot
# must be able to retry until it succeeds (Celery reads None in retry() as "the task's default").
@shared_task(bind=True, name="saga.cancel_seat", max_retries=None)
def cancel_seat(self, saga_id: str) -> None:
    run_compensation(self, saga_id, "cancel_seat")


@shared_task(bind=True, name="saga.cancel_payment", max_retries=None)
def cancel_payment(self, saga_id: str) -> None:
    run_compensation(self, saga_id, "cancel_payment")


@shared_task(bind=True, name="saga.reverse_miles", max_retries=None)
def reverse_miles(self, saga_id: str) -> None:
    run_compensation(self, saga_id, "reverse_miles")


@shared_task(bind=True, name="saga.cancel_booking", max_retries=None)
def cancel_booking(self, saga_id: str) -> None:
    run_compensation(self, saga_id, "cancel_booking")


@shared_task(name="saga.finish")
def finish(saga_id: str) -> None:
    saga_log.finish(saga_id)
