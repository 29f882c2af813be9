"""OWASP API6 (sensitive business flows): nobody holds a whole flight. 9 seats a hold or booking,
3 active holds a user; expired, released and booked holds make room again."""

from __future__ import annotations

from datetime import timedelta

from app.extensions import db
from app.models import Hold, Saga
from app.models.types import utcnow
from tests.conftest import book

NINE = [f"{row}A" for row in range(6, 15)]
TEN = [*NINE, "15A"]


def hold(client, flight, headers, seats):
    return client.post(f"/api/v1/flights/{flight.id}/holds", json={"seats": seats}, headers=headers)


def test_a_hold_takes_at_most_nine_seats(client, flight, ada):
    too_many = hold(client, flight, ada, TEN)
    assert too_many.status_code == 422
    assert too_many.get_json()["errors"] == {"seats": ["At most 9 seats per hold."]}
    assert hold(client, flight, ada, NINE).status_code == 201


def test_a_booking_takes_at_most_nine_seats(client, participants, sent, flight, ada):
    assert book(client, ada, flight_id=flight.id, seats=TEN).status_code == 422
    passengers = [{"name": f"P{n}"} for n in range(10)]
    assert book(client, ada, flight_id=flight.id, seats=NINE, passengers=passengers).status_code == 422
    assert db.session.query(Saga).count() == 0
    assert book(client, ada, flight_id=flight.id, seats=NINE).status_code == 202
    assert len(sent) == 1


def test_a_fourth_active_hold_is_429_until_one_expires(client, flight, ada, make_user, auth_headers):
    ids = [hold(client, flight, ada, [seat]).get_json()["id"] for seat in ("1A", "1B", "1C")]
    refused = hold(client, flight, ada, ["1D"])
    assert refused.status_code == 429
    problem = refused.get_json()
    # A business limit, told apart from the request-rate limit by its type.
    assert problem["type"] == "/problems/hold-limit" and problem["limit"] == 3
    assert 0 < int(refused.headers["Retry-After"]) <= 600

    # Expiry is a SQL predicate: the lapsed hold stops counting at once, before any sweep.
    db.session.get(Hold, ids[0]).expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert hold(client, flight, ada, ["1D"]).status_code == 201


def test_a_hold_taken_for_a_booking_makes_room(client, participants, sent, flight, ada):
    ids = [hold(client, flight, ada, [seat]).get_json()["id"] for seat in ("2A", "2B", "2C")]
    assert hold(client, flight, ada, ["2D"]).status_code == 429
    # Booking a held seat uses the hold the user already has: no fourth hold is needed for it.
    assert book(client, ada, hold_id=ids[0]).status_code == 202
    db.session.get(Hold, ids[0]).status = "consumed"  # as confirm_booking leaves it
    db.session.commit()
    assert hold(client, flight, ada, ["2D"]).status_code == 201


def test_one_user_cannot_hold_a_whole_flight(client, flight, ada):
    """At most 9 of the 162 seats (MAX_HELD_SEATS_PER_FLIGHT), however the requests are cut."""
    rows = [[f"{row}{letter}" for letter in "ABCDEF"] for row in range(1, 28)]
    answers = [hold(client, flight, ada, seats) for seats in rows]
    assert sum(answer.status_code == 201 for answer in answers) == 1
    assert {answer.get_json()["scope"] for answer in answers[1:]} == {"account-flight"}
    held = sum(len(h.seats) for h in db.session.query(Hold).filter(Hold.active_clause()))
    assert held == 6 <= 9
