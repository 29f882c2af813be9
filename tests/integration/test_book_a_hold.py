"""Booking a hold the user took first (the web UI's way): the saga adopts it."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Hold
from tests.conftest import card
from tests.integration.conftest import wait_terminal
from tests.integration.saga_helpers import assert_confirmed

pytestmark = pytest.mark.integration


def take_hold(client, headers, flight_id: int, seats: list[str]) -> str:
    response = client.post(f"/api/v1/flights/{flight_id}/holds", json={"seats": seats}, headers=headers)
    assert response.status_code == 201, response.json
    return response.json["id"]


def book_hold(client, headers, hold_id: str, **extra):
    return client.post("/api/v1/bookings", headers=headers,
                       json={"hold_id": hold_id, "payment": card(), **extra})


def test_a_held_set_of_seats_is_booked_and_the_hold_consumed(live_app, worker, client, make_user,
                                                           auth_headers, make_flight):
    headers = auth_headers(make_user())
    flight = make_flight()
    hold_id = take_hold(client, headers, flight.id, ["4A", "4B"])
    response = book_hold(client, headers, hold_id, passengers=[{"name": "A"}, {"name": "B"}])
    assert response.status_code == 202
    assert response.json["hold_id"] == hold_id and response.json["seats"] == ["4A", "4B"]

    saga = wait_terminal(response.json["id"])
    assert_confirmed(saga)
    assert saga.hold_id == hold_id
    assert client.get(f"/api/v1/holds/{hold_id}", headers=headers).json["status"] == "consumed"


def test_a_hold_can_start_one_booking_only(live_app, client, make_user, auth_headers, make_flight,
                                           monkeypatch):
    from app.tasks import chains as saga_tasks

    monkeypatch.setattr(saga_tasks, "start", lambda saga_id, fence, version=None: None)
    headers = auth_headers(make_user())
    hold_id = take_hold(client, headers, make_flight().id, ["4C"])
    assert book_hold(client, headers, hold_id).status_code == 202
    second = book_hold(client, headers, hold_id)
    assert second.status_code == 409
    assert second.json["type"] == "/problems/hold-not-usable"


def test_someone_elses_hold_is_not_found_and_a_released_one_is_a_conflict(live_app, client, make_user,
                                                                        auth_headers, make_flight):
    owner, stranger = auth_headers(make_user()), auth_headers(make_user())
    flight = make_flight()
    hold_id = take_hold(client, owner, flight.id, ["4D"])
    assert book_hold(client, stranger, hold_id).status_code == 404
    assert client.delete(f"/api/v1/holds/{hold_id}", headers=owner).status_code == 204
    released = book_hold(client, owner, hold_id)
    assert released.status_code == 409
    assert db.session.get(Hold, hold_id).saga_id is None
    assert book_hold(client, owner, "00000000-0000-4000-8000-000000000000").status_code == 404


def test_a_hold_that_expires_before_confirm_fails_the_booking(live_app, worker, client, make_user,
                                                            auth_headers, make_flight, monkeypatch):
    from app import saga as definition
    from app.models.types import utcnow

    headers = auth_headers(make_user())
    hold_id = take_hold(client, headers, make_flight().id, ["4E"])
    real = definition.ACTIONS["award_miles"]

    def award_then_lapse(saga):
        real(saga)
        # Past HOLD_MAX_SECONDS: the saga may not stretch it any more.
        db.session.execute(db.update(Hold).where(Hold.id == hold_id)
                           .values(expires_at=utcnow(), created_at=utcnow().replace(year=2000)))
        db.session.commit()

    monkeypatch.setitem(definition.ACTIONS, "award_miles", award_then_lapse)
    saga = wait_terminal(book_hold(client, headers, hold_id).json["id"])
    assert (saga.status, saga.failure_reason) == ("failed", "hold_expired")
