"""A step killed between two of its writes: run again, it finishes what the first run left undone."""

from __future__ import annotations

import pytest

from app import engine, saga_log, seat_holds
from app import saga as definition
from app.models import Saga
from tests.integration.saga_helpers import WorkerKilled, assert_confirmed, hold_keys_left

pytestmark = pytest.mark.integration


@pytest.fixture
def running_saga(live_app, make_saga) -> Saga:
    """A saga written by the API but not enqueued: the test delivers its steps to the engine."""
    return make_saga(seats=["4C", "4D"])


def test_confirm_booking_killed_after_the_ticket_releases_the_keys_when_run_again(running_saga, monkeypatch):
    saga_id = running_saga.id
    for name in definition.LATEST.before(definition.LATEST.pivot):
        assert engine.run_step(saga_id, name, fence=1) == engine.Done()

    def killed(*args: object, **kwargs: object) -> None:
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(seat_holds, "release", killed)  # the ticket is committed, the keys not yet released
        with pytest.raises(WorkerKilled):
            engine.run_step(saga_id, "confirm_booking", fence=1)
    saga = saga_log.load(saga_id)
    assert saga.ticket is not None and sorted(hold_keys_left(saga)) == ["4C", "4D"]

    assert engine.run_step(saga_id, "confirm_booking", fence=1, attempt=1) == engine.Done()  # redelivered
    assert_confirmed(saga_log.load(saga_id))  # keys gone, payment captured, miles posted
