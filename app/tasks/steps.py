"""The saga's actions as Celery tasks, named `saga.<step>` so Flower reads as the saga."""

from __future__ import annotations

from celery import shared_task

from app.tasks.runner import run_action


@shared_task(bind=True, name="saga.reserve_seat")
def reserve_seat(self, saga_id: str) -> None:
    run_action(self, saga_id, "reserve_seat")


@shared_task(bind=True, name="saga.authorize_payment")
def authorize_payment(self, saga_id: str) -> None:
    run_action(self, saga_id, "authorize_payment")


@shared_task(bind=True, name="saga.award_miles")
def award_miles(self, saga_id: str) -> None:
    run_action(self, saga_id, "award_miles")


@shared_task(bind=True, name="saga.confirm_booking")
def confirm_booking(self, saga_id: str) -> None:
    run_action(self, saga_id, "confirm_booking")
