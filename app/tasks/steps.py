"""The saga's actions as Celery tasks, named `saga.<step>` so Flower reads as the saga.

Each message carries the saga id and the fence of the chain that sent it (app/engine.py).
"""

from __future__ import annotations

from celery import shared_task

from app.tasks.runner import run


# max_retries=None: the engine bounds the attempts, and work past the pivot must be able to retry
# until it succeeds (Celery reads None in retry() as "the task's default"). A pool child killed
# mid-step is retried after default_retry_delay; its lease and the fence cover a longer wait.
@shared_task(bind=True, name="saga.reserve_seat", max_retries=None)
def reserve_seat(self, saga_id: str, fence: int | None = None) -> None:
    run(self, saga_id, "reserve_seat", fence)


@shared_task(bind=True, name="saga.authorize_payment", max_retries=None)
def authorize_payment(self, saga_id: str, fence: int | None = None) -> None:
    run(self, saga_id, "authorize_payment", fence)


@shared_task(bind=True, name="saga.award_miles", max_retries=None)
def award_miles(self, saga_id: str, fence: int | None = None) -> None:
    run(self, saga_id, "award_miles", fence)


@shared_task(bind=True, name="saga.confirm_booking", max_retries=None)
def confirm_booking(self, saga_id: str, fence: int | None = None) -> None:
    run(self, saga_id, "confirm_booking", fence)
