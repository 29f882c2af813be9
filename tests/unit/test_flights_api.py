"""Flights: search, details and creation (API.md "Flights and seats")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.models import Flight, Seat

DAY = datetime(2030, 6, 1, tzinfo=UTC)


@pytest.fixture
def timetable(make_flight):
    """Five flights over two days and two routes."""
    return {
        "morning": make_flight("SA101", "LHR", "JFK", DAY.replace(hour=9)),
        "evening": make_flight("SA103", "LHR", "JFK", DAY.replace(hour=18)),
        "late": make_flight("SA105", "LHR", "JFK", DAY.replace(hour=23, minute=59)),
        "next_day": make_flight("SA107", "LHR", "JFK", DAY + timedelta(days=1)),
        "back": make_flight("SA102", "JFK", "LHR", DAY.replace(hour=12)),
    }


def numbers(response) -> list[str]:
    return [flight["number"] for flight in response.get_json()["items"]]


def test_a_flight_as_the_api_shows_it(client, make_flight):
    flight = make_flight("SA101", "LHR", "JFK", DAY.replace(hour=9), fares={"economy": "99.90"},
                         currency="GBP")
    response = client.get(f"/api/v1/flights/{flight.id}")
    assert response.status_code == 200
    assert response.get_json() == {
        "id": flight.id,
        "number": "SA101",
        "origin": "LHR",
        "destination": "JFK",
        "departs_at": "2030-06-01T09:00:00+00:00",
        "arrives_at": "2030-06-01T16:00:00+00:00",
        "currency": "GBP",
        "fares": {"first": "1200.00", "business": "600.00", "economy": "99.90"},
        "seats_available": 162,
    }


@pytest.mark.parametrize("flight_id", [999, 0, 2**31, 10**30])
def test_an_unknown_flight_is_404(client, flight_id):
    response = client.get(f"/api/v1/flights/{flight_id}")
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == "/problems/not-found"


def test_list_is_public_and_ordered_by_departure(client, timetable):
    response = client.get("/api/v1/flights")
    assert response.status_code == 200
    assert numbers(response) == ["SA101", "SA102", "SA103", "SA105", "SA107"]
    body = response.get_json()
    assert (body["page"], body["page_size"], body["total"]) == (1, 20, 5)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("origin=LHR", ["SA101", "SA103", "SA105", "SA107"]),
        ("destination=LHR", ["SA102"]),
        ("origin=LHR&destination=JFK&date=2030-06-01", ["SA101", "SA103", "SA105"]),
        ("date=2030-06-02", ["SA107"]),
        ("date=2030-05-31", []),
        ("origin=CDG", []),
    ],
)
def test_filters(client, timetable, query, expected):
    response = client.get(f"/api/v1/flights?{query}")
    assert numbers(response) == expected
    assert response.get_json()["total"] == len(expected)


def test_pages_split_the_list_and_keep_the_total(client, timetable):
    first = client.get("/api/v1/flights?page_size=2").get_json()
    third = client.get("/api/v1/flights?page_size=2&page=3").get_json()
    beyond = client.get("/api/v1/flights?page_size=2&page=4").get_json()
    assert [f["number"] for f in first["items"]] == ["SA101", "SA102"]
    assert [f["number"] for f in third["items"]] == ["SA107"]
    assert beyond["items"] == []
    assert first["total"] == third["total"] == beyond["total"] == 5
    assert (third["page"], third["page_size"]) == (3, 2)


def test_page_size_100_is_allowed(client, timetable):
    assert client.get("/api/v1/flights?page_size=100").status_code == 200


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("page_size=101", "page_size"),
        ("page_size=0", "page_size"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=99999999999999999999", "page"),
        ("date=2030-13-01", "date"),
        ("date=tomorrow", "date"),
        ("origin=lhr", "origin"),
        ("origin=LHRX", "origin"),
        ("destination=L%00R", "destination"),
    ],
)
def test_bad_query_values_are_422(client, query, field):
    response = client.get(f"/api/v1/flights?{query}")
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert field in response.get_json()["errors"]


def test_list_counts_seats_available(client, make_flight, make_user, insert_hold, insert_ticket):
    flight = make_flight()
    user = make_user()
    insert_hold(flight, user, ["12A", "12B"])
    insert_ticket(flight, user, ["1A"])
    [listed] = client.get("/api/v1/flights").get_json()["items"]
    assert listed["seats_available"] == 159


# -- creating flights (admin) -----------------------------------------------------------------

NEW_FLIGHT = {
    "number": "SA501",
    "origin": "LIS",
    "destination": "MAD",
    "departs_at": "2030-07-01T10:00:00+00:00",
    "arrives_at": "2030-07-01T11:30:00+01:00",
}


@pytest.fixture
def admin_headers(make_user, auth_headers):
    return auth_headers(make_user("admin@example.com", is_admin=True))


def test_an_admin_creates_a_flight_with_its_162_seats(client, admin_headers):
    response = client.post("/api/v1/flights", json=NEW_FLIGHT, headers=admin_headers)
    assert response.status_code == 201
    body = response.get_json()
    assert body["number"] == "SA501"
    assert body["arrives_at"] == "2030-07-01T10:30:00+00:00"  # stored and shown in UTC
    assert body["currency"] == "USD"
    assert body["fares"] == {"first": "1200.00", "business": "600.00", "economy": "150.00"}
    assert body["seats_available"] == 162
    assert Seat.query.filter_by(flight_id=body["id"]).count() == 162
    assert client.get(f"/api/v1/flights/{body['id']}").get_json() == body


def test_fares_and_currency_may_be_given(client, admin_headers):
    body = {**NEW_FLIGHT, "fares": {"economy": "75.5", "first": "900"}, "currency": "EUR"}
    response = client.post("/api/v1/flights", json=body, headers=admin_headers)
    assert response.status_code == 201
    assert response.get_json()["fares"] == {"first": "900.00", "business": "600.00", "economy": "75.50"}
    assert response.get_json()["currency"] == "EUR"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"origin": "lis"}, "origin"),
        ({"origin": "LISB"}, "origin"),
        ({"destination": "MA"}, "destination"),
        ({"destination": "LIS"}, "destination"),
        ({"origin": "LIS\n"}, "origin"),
        ({"number": "sa 501"}, "number"),
        ({"number": "SA5012345678"}, "number"),
        ({"arrives_at": "2030-07-01T10:00:00+00:00"}, "arrives_at"),
        ({"arrives_at": "2030-07-01T09:00:00+00:00"}, "arrives_at"),
        ({"departs_at": "2030-07-01T10:00:00"}, "departs_at"),
        ({"departs_at": "soon"}, "departs_at"),
        ({"currency": "usd"}, "currency"),
        ({"fares": {"economy": "-1.00"}}, "fares.economy"),
        ({"fares": {"economy": "0"}}, "fares.economy"),
        ({"fares": {"economy": "10.001"}}, "fares.economy"),
        ({"fares": {"economy": "1e400"}}, "fares.economy"),
        ({"fares": {"economy": "1e2"}}, "fares.economy"),
        ({"fares": {"economy": 75.5}}, "fares.economy"),
        ({"fares": {"economy": "1000000.01"}}, "fares.economy"),
        ({"fares": {"economy": "NaN"}}, "fares.economy"),
        ({"fares": {"premium": "10.00"}}, "fares.premium"),
        ({"seats": 200}, "seats"),
    ],
)
def test_invalid_flights_are_422(client, admin_headers, change, field):
    response = client.post("/api/v1/flights", json={**NEW_FLIGHT, **change}, headers=admin_headers)
    assert response.status_code == 422
    assert field in response.get_json()["errors"]
    assert Flight.query.count() == 0


def test_missing_fields_are_named(client, admin_headers):
    response = client.post("/api/v1/flights", json={}, headers=admin_headers)
    assert set(response.get_json()["errors"]) == {
        "number", "origin", "destination", "departs_at", "arrives_at"}


def test_creating_a_flight_needs_an_admin(client, make_user, auth_headers):
    anonymous = client.post("/api/v1/flights", json=NEW_FLIGHT)
    traveller = client.post("/api/v1/flights", json=NEW_FLIGHT, headers=auth_headers(make_user()))
    assert anonymous.status_code == 401
    assert traveller.status_code == 403
    assert traveller.mimetype == "application/problem+json"
    assert Flight.query.count() == 0


def test_credentials_are_checked_before_the_body(client, make_user, auth_headers):
    response = client.post("/api/v1/flights", json={"number": 1}, headers=auth_headers(make_user()))
    assert response.status_code == 403
