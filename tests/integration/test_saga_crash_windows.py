"""A step killed between two of its writes: run again, it finishes what the first run left undone."""

from __future__ import annotations

import pytest

from app import saga as definition
from app import saga_log, seat_holds
from app.extensions import db
from app.models import Saga
from app.tasks import saga as saga_tasks
from tests.integration.saga_helpers import assert_confirmed, book, hold_keys_left

pytestmark = pytest.mark.integration


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler catches it."""


@pytest.fixture
def running_saga(live_app, client, make_user, auth_headers, make_flight, monkeypatch) -> Saga:
    """A saga written by the API and set running, its steps driven by hand."""
    monkeypatch.setattr(saga_tasks, "start", lambda saga_id, fence: None)
    response = book(client, auth_headers(make_user()), make_flight().id, ["4C", "4D"])
    saga_log.transition(response.json["id"], "pending", "running")
    return db.session.get(Saga, response.json["id"])


def test_confirm_booking_killed_after_the_ticket_releases_the_keys_when_run_again(running_saga, monkeypatch):
    saga_id = running_saga.id
    for step in definition.STEPS[:-1]:
        step.action(saga_log.load(saga_id))

    def killed(*args: object, **kwargs: object) -> None:
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(seat_holds, "release", killed)  # the ticket is committed, the keys not yet released
        with pytest.raises(WorkerKilled):
            definition.confirm_booking(saga_log.load(saga_id))
    saga = saga_log.load(saga_id)
    assert saga.ticket is not None and sorted(hold_keys_left(saga)) == ["4C", "4D"]

    definition.confirm_booking(saga_log.load(saga_id))  # the redelivery
    saga_log.transition(saga_id, "running", "confirmed")
    assert_confirmed(saga_log.load(saga_id))  # keys gone, payment captured, miles posted
