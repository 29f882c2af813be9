"""Helpers for saga tests: read the parties' books, check the invariants, kill a worker."""

from __future__ import annotations

from app.extensions import db, get_redis
from app.models import Hold, Saga, TicketSeat
from app.participants import loyalty_client, payment_client
from app.seat_holds import hold_key


class WorkerKilled(BaseException):
    """Stands for SIGKILL: nothing after it runs, no handler catches it."""


def seat_status(client, flight_id: int) -> dict[str, str]:
    seats = client.get(f"/api/v1/flights/{flight_id}/seats").get_json()["seats"]
    return {seat["number"]: seat["status"] for seat in seats}


def payment_of(saga: Saga):
    """What the payment service recorded for this saga's authorization, if anything."""
    return payment_client().lookup(f"{saga.id}:authorize_payment")


def award_of(saga: Saga):
    return loyalty_client().lookup_award(f"{saga.id}:award_miles")


def hold_keys_left(saga: Saga) -> list[str]:
    return [s for s in saga.seats if get_redis().exists(hold_key(saga.flight_id, s))]


def step_names(saga: Saga, kind: str) -> list[str]:
    return [step.name for step in saga.steps if step.kind == kind]


def assert_undone(saga: Saga) -> None:
    """A failed booking left nothing behind: no money taken, no miles, no ticket, no hold."""
    charge = payment_of(saga)
    assert charge is None or charge.status in ("voided", "declined", "refunded"), charge
    if charge is not None:
        assert charge.captured_amount == charge.refunded_amount
    award = award_of(saga)
    assert award is None or award.status == "reversed", award
    assert saga.ticket is None or saga.ticket.status == "cancelled"
    hold = db.session.get(Hold, saga.hold_id) if saga.hold_id else None
    assert hold is None or hold.status in ("released", "expired", "consumed")
    assert hold_keys_left(saga) == []


def assert_confirmed(saga: Saga) -> None:
    """A confirmed booking: one captured payment of its amount, its miles posted, its seats ticketed."""
    assert saga.status == "confirmed"
    charge = payment_of(saga)
    assert charge.status == "captured" and charge.captured_amount == saga.amount
    award = award_of(saga)
    assert award.status == "posted" and award.miles == saga.miles
    assert sorted(s.seat_number for s in saga.ticket.seats) == sorted(saga.seats)
    assert db.session.get(Hold, saga.hold_id).status == "consumed"
    assert hold_keys_left(saga) == []


def active_ticket_seats(flight_id: int) -> list[str]:
    return list(db.session.execute(
        db.select(TicketSeat.seat_number).filter_by(flight_id=flight_id, active=True)
    ).scalars())
