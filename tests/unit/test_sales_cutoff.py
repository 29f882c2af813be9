"""Travel in the past: sales close SALES_CLOSE_MINUTES before departure; search hides departed flights."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Hold, Saga
from app.models.types import utcnow
from tests.conftest import card


def departing_in(make_flight, minutes: float, number: str = "SA500"):
    return make_flight(number=number, departs_at=utcnow().replace(microsecond=0) + timedelta(minutes=minutes))


CLOSED = [-60 * 24, -1, 10, 44]  # departed a day ago, a minute ago; 10 and 44 minutes from now


@pytest.mark.parametrize("minutes", CLOSED)
def test_a_flight_whose_sales_closed_cannot_be_held(client, make_flight, ada, minutes):
    flight = departing_in(make_flight, minutes)
    refused = client.post(f"/api/v1/flights/{flight.id}/holds", json={"seats": ["7A"]}, headers=ada)
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "/problems/sales-closed"
    assert db.session.query(Hold).count() == 0


def test_sales_are_open_until_the_cut_off(app, client, make_flight, ada):
    assert app.config["SALES_CLOSE_MINUTES"] == 45
    flight = departing_in(make_flight, 50)
    held = client.post(f"/api/v1/flights/{flight.id}/holds", json={"seats": ["7A"]}, headers=ada)
    assert held.status_code == 201


@pytest.mark.parametrize("minutes", CLOSED)
def test_a_flight_whose_sales_closed_cannot_be_booked(client, make_flight, ada, participants, sent, minutes):
    flight = departing_in(make_flight, minutes)
    body = {"flight_id": flight.id, "seats": ["7A"], "payment": card()}
    refused = client.post("/api/v1/bookings", json=body, headers=ada)
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "/problems/sales-closed"
    assert db.session.query(Saga).count() == 0 and sent == []


def test_a_hold_taken_before_the_cut_off_cannot_be_booked_after_it(client, make_flight, ada, participants,
                                                                    sent):
    flight = departing_in(make_flight, 60)
    hold_id = client.post(f"/api/v1/flights/{flight.id}/holds", json={"seats": ["7A"]},
                          headers=ada).get_json()["id"]
    flight.departs_at = utcnow() + timedelta(minutes=30)
    db.session.commit()
    refused = client.post("/api/v1/bookings", json={"hold_id": hold_id, "payment": card()}, headers=ada)
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "/problems/sales-closed"
    assert sent == []


def test_a_booking_cannot_be_cancelled_after_the_cut_off(client, make_flight, make_user, auth_headers,
                                                         insert_ticket, sent):
    user = make_user()
    flight = departing_in(make_flight, 60 * 24)
    saga_id = insert_ticket(flight, user, ["7A"]).saga_id
    flight.departs_at = utcnow() - timedelta(hours=2)  # it flew
    db.session.commit()
    refused = client.post(f"/api/v1/bookings/{saga_id}/cancel", headers=auth_headers(user))
    assert refused.status_code == 409
    assert refused.get_json()["type"] == "/problems/cancellation-closed"
    assert db.session.get(Saga, saga_id).status == "confirmed" and sent == []


def test_a_booking_can_be_cancelled_before_the_cut_off(client, make_flight, make_user, auth_headers,
                                                       insert_ticket, sent):
    user = make_user()
    saga_id = insert_ticket(departing_in(make_flight, 60 * 24), user, ["7A"]).saga_id
    assert client.post(f"/api/v1/bookings/{saga_id}/cancel", headers=auth_headers(user)).status_code == 202


def test_search_hides_departed_flights_unless_asked(client, make_flight):
    departing_in(make_flight, -120, "SA001")
    departing_in(make_flight, 60 * 24, "SA002")
    listed = client.get("/api/v1/flights").get_json()
    assert [f["number"] for f in listed["items"]] == ["SA002"] and listed["total"] == 1
    everything = client.get("/api/v1/flights?include_departed=true").get_json()
    assert [f["number"] for f in everything["items"]] == ["SA001", "SA002"]
    assert "SA001" not in client.get("/").get_data(as_text=True)


def test_the_search_parameter_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    query = {p["name"]: p for p in spec["paths"]["/api/v1/flights"]["get"]["parameters"]}
    assert query["include_departed"]["schema"]["type"] == "boolean"
