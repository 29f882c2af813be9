"""The saga's compensations as Celery tasks, and the task that ends a compensation chain."""

from __future__ import annotations

from celery import shared_task

from app import saga_log
from app.tasks.runner import run_compensation


@shared_task(bind=True, name="saga.cancel_seat")
def cancel_seat(self, saga_id: str) -> None:
    run_compensation(self, saga_id, "cancel_seat")


@shared_task(bind=True, name="saga.cancel_payment")
def cancel_payment(self, saga_id: str) -> None:
    run_compensation(self, saga_id, "cancel_payment")


@shared_task(bind=True, name="saga.reverse_miles")
def reverse_miles(self, saga_id: str) -> None:
    run_compensation(self, saga_id, "reverse_miles")


@shared_task(bind=True, name="saga.cancel_booking")
def cancel_booking(self, saga_id: str) -> None:
    run_compensation(self, saga_id, "cancel_booking")


@shared_task(name="saga.finish")
def finish(saga_id: str) -> None:
    saga_log.finish(saga_id)
