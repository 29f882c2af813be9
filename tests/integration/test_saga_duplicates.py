"""At-least-once delivery: every step, compensation and the error callback may run twice."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from app import engine, saga_log
from app import saga as definition
from app.definitions import queue
from app.errors import CardDeclined
from app.extensions import db
from app.models import Hold, Saga, Ticket
from app.tasks import chains as saga_tasks
from app.tasks.chains import start as start_chain
from app.tasks.steps import TASKS
from tests.e2e.stack import wait_for
from tests.integration.conftest import wait_terminal
from tests.integration.saga_helpers import assert_confirmed, assert_undone, award_of, payment_of

pytestmark = pytest.mark.integration


@pytest.fixture
def pending_saga(live_app, make_saga) -> Saga:
    """A saga written by the API but not enqueued, so the test drives its steps by hand."""
    return make_saga(seats=["5A", "5B"])


def test_every_action_run_twice_has_one_effect(pending_saga):
    saga = pending_saga
    for name in definition.ACTION_NAMES:
        if not saga_log.load(saga.id).step(name).attempts:  # a success starts the step after it
            saga_log.start_step(saga.id, 1, name, "action", "killed")
        definition.ACTIONS[name](saga_log.load(saga.id))  # its worker died before the log write
        first = (saga_log.load(saga.id).hold_id, payment_of(saga), award_of(saga))
        assert engine.run_step(saga.id, name, fence=1, attempt=1) == engine.Done()  # the redelivery
        assert (saga_log.load(saga.id).hold_id, payment_of(saga), award_of(saga)) == first
    saga = saga_log.load(saga.id)
    assert db.session.execute(db.select(db.func.count(Hold.id)).filter_by(saga_id=saga.id)).scalar() == 1
    assert db.session.execute(db.select(db.func.count(Ticket.id)).filter_by(saga_id=saga.id)).scalar() == 1
    assert all(step.attempts == 2 for step in saga.steps)
    assert_confirmed(saga)


def test_every_compensation_run_twice_has_one_effect(pending_saga):
    saga = pending_saga
    for step in definition.STEPS[:3]:
        step.action(saga_log.load(saga.id))
    for name in definition.compensations_for(definition.ACTION_NAMES):
        definition.COMPENSATIONS[name](saga_log.load(saga.id))
        definition.COMPENSATIONS[name](saga_log.load(saga.id))
    saga = saga_log.load(saga.id)
    assert payment_of(saga).status == "voided"
    assert award_of(saga).status == "reversed"
    assert_undone(saga)


def test_the_error_callback_twice_starts_one_compensation(pending_saga, worker):
    saga = pending_saga
    assert engine.run_step(saga.id, "reserve_seat", fence=1) == engine.Done()
    saga_log.start_step(saga.id, 1, "authorize_payment", "action", "t2")
    saga_log.finish_step(saga.id, 1, "authorize_payment", "failed", CardDeclined("declined"))
    request = SimpleNamespace(task="saga.authorize_payment")
    for _ in range(2):
        saga_tasks.on_step_failed(request, CardDeclined("declined"), None, saga_id=saga.id, fence=1)

    saga = wait_terminal(saga.id)
    assert saga.status == "failed" and saga.failure_reason == "card_declined"
    compensations = [s for s in saga.steps if s.kind == "compensation"]
    assert [s.name for s in compensations] == ["cancel_payment", "cancel_seat"]
    assert all(s.attempts == 1 and s.status == "succeeded" for s in compensations)
    assert_undone(saga)


@pytest.mark.parametrize("step", definition.ACTION_NAMES)
def test_a_stray_duplicate_of_any_step_changes_nothing(step, pending_saga, worker):
    saga = pending_saga
    start_chain(saga.id, 1)  # the real chain ...
    TASKS[step].apply_async((saga.id, 1), queue=queue(saga.definition_version))  # ... and a stray duplicate
    saga = wait_terminal(saga.id)
    assert_confirmed(saga)
    assert all(s.status == "succeeded" for s in saga.steps)
    assert [s.kind for s in saga.steps] == ["action"] * len(definition.ACTION_NAMES)


def test_a_chain_from_an_older_fence_stops_at_its_first_delivery(pending_saga, worker, monkeypatch):
    saga = pending_saga
    start_chain(saga.id, 1)
    assert_confirmed(wait_terminal(saga.id))
    delivered: list[tuple[str, int]] = []
    real = engine.run_step

    def counted(saga_id, name, fence, *args):
        delivered.append((name, fence))
        return real(saga_id, name, fence, *args)

    monkeypatch.setattr(engine, "run_step", counted)
    start_chain(saga.id, 0)  # a chain from before the fence moved on: it is dropped at once
    wait_for(lambda: delivered, timeout=10, what="the stale chain's first delivery")
    time.sleep(1)  # time enough for the worker to send and run the next step, were it sent
    assert delivered == [("reserve_seat", 0)]
    assert_confirmed(saga_log.load(saga.id))
