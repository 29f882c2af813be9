"""What a step learns (its hold's, payment's, award's id) is written with its success, fenced."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from app import engine, saga_log
from app.extensions import db
from app.models import Saga
from app.participants.payment.client import PaymentClient
from tests.sql import statements_sent

pytestmark = pytest.mark.integration

FACTS = {"reserve_seat": "hold_id", "authorize_payment": "payment_authorization_id",
         "award_miles": "miles_award_id"}


@pytest.fixture
def running_saga(live_app, make_saga) -> Saga:
    """A saga written by the API but not enqueued: the test delivers its steps to the engine."""
    return make_saga(seats=["9A"])


@pytest.mark.parametrize("step", list(FACTS))
def test_a_success_writes_its_fact_in_the_one_fenced_update_of_the_saga(running_saga, step):
    saga_id = running_saga.id
    for name in list(FACTS)[:list(FACTS).index(step)]:
        assert engine.run_step(saga_id, name, fence=1) == engine.Done()

    with statements_sent("UPDATE sagas") as updates:
        assert engine.run_step(saga_id, step, fence=1) == engine.Done()

    assert getattr(saga_log.load(saga_id), FACTS[step]) is not None
    # The success's own UPDATE carries the fact and the fence; the session flushes none of its own.
    success = [sql for sql in updates if FACTS[step] in sql]
    assert len(success) == 1 and "fence" in success[0].split("WHERE", 1)[1]


def test_a_success_fenced_off_during_its_call_writes_no_fact(running_saga, monkeypatch):
    saga_id = running_saga.id
    assert engine.run_step(saga_id, "reserve_seat", fence=1) == engine.Done()
    authorize = PaymentClient.authorize

    def taken_over_meanwhile(self, *args, **kwargs):
        result = authorize(self, *args, **kwargs)
        # The reconciler takes the saga over (next fence) while this writer waits for the answer.
        with db.engine.begin() as other:
            other.execute(update(Saga).where(Saga.id == saga_id).values(fence=Saga.fence + 1))
        return result

    monkeypatch.setattr(PaymentClient, "authorize", taken_over_meanwhile)
    outcome = engine.run_step(saga_id, "authorize_payment", fence=1)

    assert isinstance(outcome, engine.Fenced)
    saga = saga_log.load(saga_id, for_step=True)
    assert saga.fence == 2 and saga.payment_authorization_id is None
