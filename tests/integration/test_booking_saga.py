"""The booking saga on a real Celery worker and the real Redis, with the real participant apps."""

from __future__ import annotations

import pytest

from app import saga as definition
from app.errors import TransientError
from app.extensions import db
from app.models import Debt, Hold, Saga
from app.models.types import utcnow
from tests.conftest import APPROVED, DECLINED, NO_FUNDS, PROCESSOR_DOWN, book
from tests.integration.conftest import wait_terminal
from tests.integration.saga_helpers import assert_confirmed, assert_undone, seat_status, step_names

pytestmark = pytest.mark.integration


@pytest.fixture
def traveller(make_user, auth_headers):
    user = make_user()
    return user, auth_headers(user)


def test_happy_path_confirms_with_ticket_capture_and_miles(live_app, worker, client, traveller,
                                                            make_flight):
    user, headers = traveller
    flight = make_flight()
    response = book(client, headers, flight.id, ["1A", "12B"],
                    passengers=[{"name": "Ada Lovelace"}, {"name": "Alan Turing"}])
    assert response.status_code == 202
    assert response.headers["Location"] == f"/api/v1/bookings/{response.json['id']}"
    assert response.json["status"] == "pending"
    assert response.json["amount"] == "1350.00" and response.json["miles"] == 3750

    saga = wait_terminal(response.json["id"])
    assert_confirmed(saga)
    assert len(saga.ticket.reference) == 6
    polled = client.get(response.headers["Location"], headers=headers)
    assert polled.status_code == 200 and "Retry-After" not in polled.headers
    body = polled.json
    assert body["ticket"]["seats"] == ["1A", "12B"]
    assert [s["name"] for s in body["steps"]] == definition.ACTION_NAMES
    assert all(s["status"] == "succeeded" and s["attempts"] == 1 and s["task_id"] for s in body["steps"])
    assert len({s["task_id"] for s in body["steps"]}) == len(body["steps"])  # each its own message's
    assert body["failure"] is None
    assert body["payment"] == {"brand": "visa", "last4": "4242"}
    assert seat_status(client, flight.id)["1A"] == "booked"
    me = client.get("/api/v1/me", headers=headers).json
    assert me["miles_balance"] == 3750


def _expire_hold_after_award(monkeypatch):
    """Fault: the hold lapses while miles are being awarded, so the pivot's fence refuses."""
    real = definition.ACTIONS["award_miles"]

    def award_then_lapse(saga: Saga) -> None:
        real(saga)
        db.session.execute(db.update(Hold).where(Hold.id == saga.hold_id).values(expires_at=utcnow()))
        db.session.commit()

    monkeypatch.setitem(definition.ACTIONS, "award_miles", award_then_lapse)


def _seat_sold_before(client, make_user, auth_headers, flight):
    other = make_user()
    first = book(client, auth_headers(other), flight.id, ["12B"])
    assert wait_terminal(first.json["id"]).status == "confirmed"


FAILURES = {
    # name: (card, fault, failed step, reason, compensations that run, newest first)
    "declined": (DECLINED, None, "authorize_payment", "card_declined", ["cancel_payment", "cancel_seat"]),
    "no_funds": (NO_FUNDS, None, "authorize_payment", "insufficient_funds",
                 ["cancel_payment", "cancel_seat"]),
    "processor_down": (PROCESSOR_DOWN, None, "authorize_payment", "payment_unavailable",
                       ["cancel_payment", "cancel_seat"]),
    "loyalty_down": (None, "loyalty", "award_miles", "loyalty_unavailable",
                     ["reverse_miles", "cancel_payment", "cancel_seat"]),
    "hold_expired": (None, "hold", "confirm_booking", "hold_expired",
                     ["cancel_booking", "reverse_miles", "cancel_payment", "cancel_seat"]),
    "seat_taken": (None, "sold", "reserve_seat", "seat_unavailable", ["cancel_seat"]),
}


@pytest.mark.parametrize("case", FAILURES)
def test_a_failing_step_compensates_newest_first(case, live_app, worker, client, traveller, make_flight,
                                                 make_user, auth_headers, monkeypatch, faults):
    number, fault, failed_step, reason, compensations = FAILURES[case]
    user, headers = traveller
    flight = make_flight()
    if fault == "hold":
        _expire_hold_after_award(monkeypatch)
    elif fault == "loyalty":
        faults.fail_before("loyalty", "POST", "^/awards$")  # the award cannot reach the service
    elif fault == "sold":
        _seat_sold_before(client, make_user, auth_headers, flight)

    response = book(client, headers, flight.id, ["12A", "12B"], number=number or APPROVED)
    assert response.status_code == 202
    saga = wait_terminal(response.json["id"])

    assert saga.status == "failed"
    assert (saga.failure_step, saga.failure_reason) == (failed_step, reason)
    assert step_names(saga, "compensation") == compensations
    assert all(step.status == "succeeded" for step in saga.steps if step.kind == "compensation")
    assert_undone(saga)
    seats = seat_status(client, flight.id)
    assert seats["12A"] == "available"
    assert seats["12B"] == ("booked" if fault == "sold" else "available")
    body = client.get(f"/api/v1/bookings/{saga.id}", headers=headers).json
    assert body["failure"]["reason"] == reason
    assert [s["name"] for s in body["steps"]] == definition.ACTION_NAMES + compensations


@pytest.mark.parametrize("broken", ["cancel_booking", "reverse_miles", "cancel_payment", "cancel_seat"])
def test_a_compensation_that_cannot_finish_becomes_a_debt(broken, live_app, worker, client, traveller,
                                                         make_flight, monkeypatch):
    user, headers = traveller
    flight = make_flight()
    _expire_hold_after_award(monkeypatch)  # so every step started and all four compensations run

    def always_down(saga: Saga) -> None:
        raise TransientError(f"{broken} cannot reach its party")

    monkeypatch.setitem(definition.COMPENSATIONS, broken, always_down)
    saga = wait_terminal(book(client, headers, flight.id, ["3A"]).json["id"])

    assert saga.status == "needs_attention"
    by_name = {step.name: step for step in saga.steps}
    assert by_name[broken].status == "debt"
    assert by_name[broken].attempts == live_app.config["SAGA_COMPENSATION_MAX_RETRIES"] + 1
    others = [s.name for s in saga.steps if s.kind == "compensation" and s.name != broken]
    assert len(others) == 3
    assert all(by_name[name].status == "succeeded" for name in others)
    debt = db.session.execute(db.select(Debt).filter_by(saga_id=saga.id)).scalar_one()
    assert (debt.step, debt.paid_at) == (broken, None)
    assert "cannot reach" in debt.detail
    body = client.get(f"/api/v1/bookings/{saga.id}", headers=headers).json
    assert body["status"] == "needs_attention" and body["failure"]["reason"] == "hold_expired"


def test_cancelling_a_confirmed_booking_refunds_and_frees(live_app, worker, client, traveller, make_flight):
    user, headers = traveller
    flight = make_flight()
    saga = wait_terminal(book(client, headers, flight.id, ["2C"]).json["id"])
    assert saga.status == "confirmed"

    response = client.post(f"/api/v1/bookings/{saga.id}/cancel", headers=headers)
    assert response.status_code == 202 and response.json["status"] == "cancelling"
    saga = wait_terminal(saga.id)
    assert saga.status == "cancelled"
    assert_undone(saga)
    from tests.integration.saga_helpers import payment_of

    assert payment_of(saga).status == "refunded"
    assert seat_status(client, flight.id)["2C"] == "available"
    assert client.post(f"/api/v1/bookings/{saga.id}/cancel", headers=headers).status_code == 409
    assert client.get("/api/v1/me", headers=headers).json["miles_balance"] == 0


@pytest.mark.parametrize("ttl", [20, 45])
def test_holds_shorter_than_the_step_budget_still_confirm(ttl, live_app, worker, client, traveller,
                                                          make_flight, monkeypatch):
    # SAGA_STEP_BUDGET_SECONDS stays at its default (60): longer than any of these holds.
    monkeypatch.setitem(live_app.config, "HOLD_TTL_SECONDS", ttl)
    user, headers = traveller
    saga = wait_terminal(book(client, headers, make_flight().id, ["4A"]).json["id"])
    assert (saga.failure_step, saga.failure_reason) == (None, None)
    assert_confirmed(saga)
