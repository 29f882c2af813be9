"""What a step and the status read: the saga with what they show of it in one query, and nothing they
already know."""

from __future__ import annotations

import threading
import time

import pytest

from app import engine
from app.extensions import db
from app.models import Saga, Ticket
from tests.sql import statements_sent

pytestmark = pytest.mark.integration

ACTIONS = ("reserve_seat", "authorize_payment", "award_miles", "confirm_booking")


@pytest.fixture
def running_saga(live_app, make_saga) -> Saga:
    """A saga written by the API but not enqueued: the test delivers its steps to the engine."""
    return make_saga(seats=["11C"])


def _from(table: str, statements: list[str]) -> list[str]:
    return [sql for sql in statements if f" FROM {table} " in f"{sql.split(' WHERE ')[0]} "]


@pytest.mark.parametrize("step", ["authorize_payment", "award_miles"])
def test_a_step_before_the_pivot_reads_the_saga_its_steps_and_its_hold_in_one_select(running_saga, step):
    saga_id = running_saga.id
    for name in ACTIONS[:ACTIONS.index(step)]:
        assert engine.run_step(saga_id, name, fence=1) == engine.Done()

    with statements_sent("SELECT") as selects:
        assert engine.run_step(saga_id, step, fence=1) == engine.Done()

    # The hold check before the step needs the hold: it came joined to the saga, not on its own.
    assert len(selects) == 1, selects
    assert "JOIN saga_steps" in selects[0] and "JOIN holds" in selects[0]


def test_the_pivot_knows_from_the_saga_that_no_ticket_was_issued_yet(running_saga):
    saga_id = running_saga.id
    for name in ACTIONS[:-1]:
        assert engine.run_step(saga_id, name, fence=1) == engine.Done()

    with statements_sent("SELECT") as selects:
        assert engine.run_step(saga_id, "confirm_booking", fence=1) == engine.Done()

    assert _from("tickets", selects) == []
    tickets = db.session.scalars(db.select(Ticket).filter_by(saga_id=saga_id)).all()
    assert len(tickets) == 1


def test_the_pivot_delivered_again_after_its_ticket_issues_no_second_one(running_saga, monkeypatch):
    """Killed after the ticket's commit and before its success was recorded: the redelivery sees
    the saga past its pivot, issues nothing, and captures and posts by the same keys."""
    from app import saga as definition

    saga_id = running_saga.id
    for name in ACTIONS[:-1]:
        assert engine.run_step(saga_id, name, fence=1) == engine.Done()
    with monkeypatch.context() as patch:
        def killed(*args, **kwargs):
            raise SystemExit("the worker died after the ticket's commit")

        patch.setattr(definition, "payment_client", lambda: type("Dead", (), {"capture": killed})())
        with pytest.raises(SystemExit):
            engine.run_step(saga_id, "confirm_booking", fence=1)
    db.session.rollback()
    first = db.session.scalars(db.select(Ticket).filter_by(saga_id=saga_id)).one()

    assert engine.run_step(saga_id, "confirm_booking", fence=1, attempt=1) == engine.Done()

    db.session.expire_all()
    assert db.session.scalars(db.select(Ticket).filter_by(saga_id=saga_id)).one().id == first.id
    assert db.session.get(Saga, saga_id).status == "confirmed"


def test_the_status_reads_a_booking_with_its_steps_and_its_ticket_seats_in_one_select(
        live_app, client, make_saga, make_user, auth_headers):
    saga = make_saga(seats=["12A", "12B"])
    saga_id = saga.id
    for name in ACTIONS:
        assert engine.run_step(saga_id, name, fence=1) == engine.Done()
    admin = auth_headers(make_user(is_admin=True))  # administrators see every booking
    db.session.remove()

    with statements_sent("SELECT") as selects:
        booking = client.get(f"/api/v1/bookings/{saga_id}", headers=admin).get_json()

    # The bearer token's user, then the booking: steps times seats joined, each shown once, in order.
    assert len(selects) == 2, selects
    assert [step["name"] for step in booking["steps"]] == [*ACTIONS, "send_itinerary"]
    assert sorted(booking["ticket"]["seats"]) == ["12A", "12B"]


def test_a_long_poll_woken_by_the_outcome_reads_the_booking_once_and_its_state_once(
        live_app, client, running_saga, make_user, auth_headers):
    """Woken, the status has changed and the answer is the booking: read whole, not as its state
    first and then whole; and the caller, known from the token before the wait, is not read again."""
    saga_id = running_saga.id
    location, admin = f"/api/v1/bookings/{saga_id}", auth_headers(make_user(is_admin=True))
    etag = client.get(location, headers=admin).headers["ETag"]
    db.session.remove()

    def confirm_later() -> None:
        time.sleep(0.3)
        with live_app.app_context():
            for name in ACTIONS:
                assert engine.run_step(saga_id, name, fence=1) == engine.Done()

    mover = threading.Thread(target=confirm_later)
    with statements_sent("SELECT") as selects:
        mover.start()
        answer = client.get(location, headers={**admin, "Prefer": "wait=10", "If-None-Match": etag})
        mover.join()

    assert answer.status_code == 200 and answer.json["status"] == "confirmed"
    state_reads = [sql for sql in selects if sql.startswith("SELECT sagas.id, sagas.version, sagas.status,")]
    booking_reads = [sql for sql in _from("sagas", selects) if "JOIN tickets" in sql]
    assert len(state_reads) == 1, state_reads  # before the wait
    assert len(booking_reads) == 1, booking_reads  # after it
    assert len(_from("users", selects)) == 1, selects  # the bearer token's user, before the wait
