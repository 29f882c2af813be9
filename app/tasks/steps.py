"""The saga's actions as Celery tasks, named `saga.<step>` so Flower reads as the saga."""

from __future__ import annotations

from celery import shared_task

from app.tasks.runner import run_action


# max_retries=None: each retry() in app/tasks/runner.py names its own bound, and work past the pivot
# must be able to retry until it succeeds (Celery reads None in retry() as "the task's default").
@shared_task(bind=True, name="saga.reserve_seat", max_retries=None)
def reserve_seat(self, saga_id: str) -> None:
    run_action(self, saga_id, "reserve_seat")


@shared_task(bind=True, name="saga.authorize_payment", max_retries=None)
def authorize_payment(self, saga_id: str) -> None:
    run_action(self, saga_id, "authorize_payment")


@shared_task(bind=True, name="saga.award_miles", max_retries=None)
def award_miles(self, saga_id: str) -> None:
    run_action(self, saga_id, "award_miles")


@shared_task(bind=True, name="saga.confirm_booking", max_retries=None)
def confirm_booking(self, saga_id: str) -> None:
    run_action(self, saga_id, "confirm_booking")
