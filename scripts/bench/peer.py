"""celery-saga (pinned in requirements-dev.txt) doing the same participant work as the saga.

Its steps are the four of scripts/bench/work.py, each with its compensation; its state lives in
its Redis backend (the benchmark's holds DB). It wraps them in its own start and complete tasks
and keeps its state as one JSON document per saga. The driver learns that a saga ended when the
worker finishes `celery_saga.complete` (a task_postrun hook: the library has no callback).

    worker: celery -A scripts.bench.peer.app worker --pool=prefork --concurrency=K
"""

from __future__ import annotations

import os

from celery import Celery
from celery.signals import task_postrun
from celery_saga import Saga, StepResponse, saga_step, set_default_backend
from celery_saga.backends.redis import RedisSagaBackend

from scripts.bench import work

app = Celery("bench_peer")
app.config_from_object("celeryconfig")
app.conf.broker_url = os.environ.get("CELERY_BROKER_URL", app.conf.broker_url)
backend = RedisSagaBackend(url=os.environ.get("BENCH_DONE_URL", "redis://127.0.0.1:6379/3"), ttl=3600)
set_default_backend(backend)


def _step(result: dict) -> StepResponse:
    return StepResponse(output={"booking": result}, compensation_data=result)


@app.task(name="peer.cancel_seat")
def cancel_seat(compensation_data: dict) -> None:
    work.release(compensation_data)


@app.task(name="peer.cancel_payment")
def cancel_payment(compensation_data: dict) -> None:
    work.void(compensation_data)


@app.task(name="peer.reverse_miles")
def reverse_miles(compensation_data: dict) -> None:
    work.reverse(compensation_data)


@app.task(name="peer.cancel_booking")
def cancel_booking(compensation_data: dict) -> None:
    return None  # the ticket row is written last: nothing after it can fail


@saga_step(compensate="peer.cancel_seat")
@app.task(name="peer.reserve_seat")
def reserve_seat(**context) -> StepResponse:
    return _step(work.reserve(context["booking"]))


@saga_step(compensate="peer.cancel_payment")
@app.task(name="peer.authorize_payment")
def authorize_payment(**context) -> StepResponse:
    return _step(work.authorize(context["booking"]))


@saga_step(compensate="peer.reverse_miles")
@app.task(name="peer.award_miles")
def award_miles(**context) -> StepResponse:
    return _step(work.award(context["booking"]))


@saga_step(compensate="peer.cancel_booking")
@app.task(name="peer.confirm_booking")
def confirm_booking(**context) -> StepResponse:
    return _step(work.confirm(context["booking"]))


booking_saga = (Saga("booking").add_step(reserve_seat).add_step(authorize_payment)
                .add_step(award_miles).add_step(confirm_booking))


@task_postrun.connect
def _report(sender=None, args=None, state=None, **_) -> None:
    if sender is not None and sender.name == "celery_saga.complete" and state == "SUCCESS":
        execution = backend.load(args[0])
        work.report_done(execution.input_data["booking"]["booking_id"])


def start(booking: dict) -> None:
    booking_saga.run(booking=booking)
