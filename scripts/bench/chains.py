"""The bare chains the saga is measured against, on the saga's own Celery settings.

`bare`: the same participant work as a booking (scripts/bench/work.py) as a plain chain of four
tasks, each passing its result to the next: no log, no fence, no API, no compensation. `noop`: four
empty tasks, the floor of Celery's own messaging. The app loads the same `celeryconfig` as the
booking service (broker, JSON, acks_late, prefetch 1, reject/retry on worker lost, task events).

    worker: celery -A scripts.bench.chains.app worker --pool=prefork --concurrency=K
"""

from __future__ import annotations

import os

from celery import Celery, chain

from scripts.bench import work

app = Celery("bench_chains")
app.config_from_object("celeryconfig")
app.conf.broker_url = os.environ.get("CELERY_BROKER_URL", app.conf.broker_url)


@app.task(name="bare.reserve_seat")
def reserve_seat(booking: dict) -> dict:
    return work.reserve(booking)


@app.task(name="bare.authorize_payment")
def authorize_payment(booking: dict) -> dict:
    return work.authorize(booking)


@app.task(name="bare.award_miles")
def award_miles(booking: dict) -> dict:
    return work.award(booking)


@app.task(name="bare.confirm_booking")
def confirm_booking(booking: dict) -> None:
    work.confirm(booking)
    work.report_done(booking["booking_id"])


@app.task(name="noop.step")
def noop(booking_id: str) -> None:
    return None


@app.task(name="noop.last")
def noop_last(booking_id: str) -> None:
    work.report_done(booking_id)


def start_bare(booking: dict) -> None:
    chain(reserve_seat.s(booking), authorize_payment.s(), award_miles.s(), confirm_booking.s()).apply_async()


def start_noop(booking_id: str) -> None:
    """Four signatures that ignore their parent, as the saga's chain is built."""
    chain(*(noop.si(booking_id) for _ in range(3)), noop_last.si(booking_id)).apply_async()
