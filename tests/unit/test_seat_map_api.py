"""Seat maps and blocking seats (API.md "Flights and seats", "Admin"; SPEC.md §2)."""

from __future__ import annotations

from collections import Counter

import pytest

from app import catalog
from app.extensions import db
from app.models import HoldStatus
from tests.sql import statements_sent


@pytest.fixture
def other(make_user):
    return make_user("other@example.com")


def seat_map(client, flight, headers=None) -> dict[str, dict]:
    response = client.get(f"/api/v1/flights/{flight.id}/seats", headers=headers or {})
    assert response.status_code == 200
    return {seat["number"]: seat for seat in response.get_json()["seats"]}


def test_an_empty_flight_has_162_available_seats_in_row_order(client, flight):
    response = client.get(f"/api/v1/flights/{flight.id}/seats")
    assert response.status_code == 200
    body = response.get_json()
    assert body["flight_id"] == flight.id
    seats = body["seats"]
    assert len(seats) == 162
    assert [s["number"] for s in seats[:7]] == ["1A", "1B", "1C", "1D", "1E", "1F", "2A"]
    assert seats[-1]["number"] == "27F"
    assert seats[70] == {"number": "12E", "row": 12, "letter": "E", "cabin": "economy",
                         "status": "available", "price": "150.00"}
    assert {s["status"] for s in seats} == {"available"}


def test_prices_follow_the_cabin_and_the_flights_fares(client, make_flight):
    flight = make_flight(fares={"business": "555.55"})
    seats = seat_map(client, flight)
    assert (seats["2F"]["cabin"], seats["2F"]["price"]) == ("first", "1200.00")
    assert (seats["3A"]["cabin"], seats["3A"]["price"]) == ("business", "555.55")
    assert (seats["27F"]["cabin"], seats["27F"]["price"]) == ("economy", "150.00")


def test_statuses(client, flight, traveller, other, insert_hold, insert_ticket):
    flight.seats[0].blocked = True  # 1A
    db.session.commit()
    insert_ticket(flight, other, ["2A", "2B"])
    insert_ticket(flight, other, ["2C"], active=False)  # a cancelled ticket frees its seat
    insert_hold(flight, other, ["3A"])
    insert_hold(flight, other, ["3B"], expires_in=-1)  # expired, though the sweep has not run
    insert_hold(flight, other, ["3C"], status=HoldStatus.RELEASED)
    insert_hold(flight, other, ["3D"], status=HoldStatus.CONSUMED)
    seats = seat_map(client, flight)
    statuses = {n: seats[n]["status"] for n in ("1A", "2A", "2B", "2C", "3A", "3B", "3C", "3D")}
    assert statuses == {"1A": "blocked", "2A": "booked", "2B": "booked", "2C": "available",
                        "3A": "held", "3B": "available", "3C": "available", "3D": "available"}
    assert Counter(seat["status"] for seat in seats.values()) == {
        "available": 158, "blocked": 1, "booked": 2, "held": 1}


def test_blocked_outranks_booked_and_held(client, flight, other, insert_hold, insert_ticket):
    insert_ticket(flight, other, ["5A"])
    insert_hold(flight, other, ["5B"])
    for seat in flight.seats:
        if seat.number in ("5A", "5B"):
            seat.blocked = True
    db.session.commit()
    seats = seat_map(client, flight)
    assert (seats["5A"]["status"], seats["5B"]["status"]) == ("blocked", "blocked")


def test_the_holder_sees_its_own_holds(client, flight, traveller, other, insert_hold, auth_headers):
    insert_hold(flight, traveller, ["12A", "12B"])
    insert_hold(flight, other, ["12C"])
    mine = seat_map(client, flight, auth_headers(traveller))
    assert mine["12A"] == {"number": "12A", "row": 12, "letter": "A", "cabin": "economy",
                           "status": "held", "price": "150.00", "held_by_you": True}
    assert mine["12B"]["held_by_you"] is True
    assert "held_by_you" not in mine["12C"]
    assert "held_by_you" not in mine["12D"]
    theirs = seat_map(client, flight, auth_headers(other))
    assert "held_by_you" not in theirs["12A"]
    assert theirs["12C"]["held_by_you"] is True
    anonymous = seat_map(client, flight)
    assert not any("held_by_you" in seat for seat in anonymous.values())
    assert anonymous["12A"]["status"] == "held"


def test_a_bad_token_on_the_seat_map_is_401(client, flight):
    response = client.get(f"/api/v1/flights/{flight.id}/seats", headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401


def test_the_seat_map_of_an_unknown_flight_is_404(client):
    assert client.get("/api/v1/flights/4242/seats").status_code == 404


def test_the_seat_map_takes_a_fixed_number_of_queries(client, flight, traveller, other, insert_hold,
                                                      insert_ticket, auth_headers):
    headers = auth_headers(traveller)
    db.session.expire_all()
    with statements_sent() as few:
        seat_map(client, flight, headers)
    insert_ticket(flight, other, [f"{row}A" for row in range(6, 27)])
    for row in range(6, 27):
        insert_hold(flight, traveller if row % 2 else other, [f"{row}B", f"{row}C"])
    db.session.expire_all()
    with statements_sent() as many:
        seat_map(client, flight, headers)
    assert len(many) == len(few) == 5  # the caller, the flight, then one each for the three below
    for table in ("seats", "ticket_seats", "holds"):
        assert sum(f"FROM {table} " in statement for statement in many) == 1


def test_seats_available_agrees_with_the_seat_map(client, make_flight, other, insert_hold, insert_ticket):
    busy, empty = make_flight("SA1"), make_flight("SA2")
    busy.seats[0].blocked = True  # 1A: blocked and booked, counted once
    busy.seats[1].blocked = True  # 1B: blocked and held, counted once
    db.session.commit()
    insert_ticket(busy, other, ["1A", "10A", "10B"])
    insert_hold(busy, other, ["1B", "11A"])
    insert_hold(busy, other, ["11A", "11B"])  # a seat in two holds (Redis lost a key) counts once
    insert_hold(busy, other, ["28Z"])  # no such seat: nothing to count
    available = catalog.seats_available([busy.id, empty.id])
    map_count = Counter(seat["status"] for seat in seat_map(client, busy).values())["available"]
    assert available == {busy.id: map_count, empty.id: 162}
    assert map_count == 162 - 2 - 2 - 2


def test_seats_available_of_no_flights(app):
    assert catalog.seats_available([]) == {}


# -- blocking seats (admin) -------------------------------------------------------------------


@pytest.fixture
def admin_headers(make_user, auth_headers):
    return auth_headers(make_user("admin@example.com", is_admin=True))


def block(client, flight, number, blocked, headers):
    return client.put(f"/api/v1/admin/flights/{flight.id}/seats/{number}", json={"blocked": blocked},
                      headers=headers)


def test_an_admin_blocks_and_unblocks_a_seat(client, flight, admin_headers):
    response = block(client, flight, "14C", True, admin_headers)
    assert response.status_code == 200
    assert response.get_json() == {"number": "14C", "row": 14, "letter": "C", "cabin": "economy",
                                   "status": "blocked", "price": "150.00"}
    assert seat_map(client, flight)["14C"]["status"] == "blocked"
    assert client.get(f"/api/v1/flights/{flight.id}").get_json()["seats_available"] == 161

    response = block(client, flight, "14C", False, admin_headers)
    assert response.get_json()["status"] == "available"
    assert seat_map(client, flight)["14C"]["status"] == "available"


def test_unblocking_shows_what_still_has_the_seat(client, flight, other, insert_hold, admin_headers):
    insert_hold(flight, other, ["14C"])
    block(client, flight, "14C", True, admin_headers)
    assert block(client, flight, "14C", False, admin_headers).get_json()["status"] == "held"


@pytest.mark.parametrize("number", ["28A", "1G", "0A", "12a", "A1", "1A1", "x" * 300])
def test_blocking_an_unknown_seat_is_404(client, flight, admin_headers, number):
    response = block(client, flight, number, True, admin_headers)
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_blocking_a_seat_of_an_unknown_flight_is_404(client, admin_headers):
    response = client.put("/api/v1/admin/flights/999/seats/1A", json={"blocked": True}, headers=admin_headers)
    assert response.status_code == 404


@pytest.mark.parametrize("body", [{}, {"blocked": "yes"}, {"blocked": 1}, {"blocked": None},
                                  {"blocked": True, "reason": "broken"}])
def test_blocking_needs_a_boolean(client, flight, admin_headers, body):
    response = client.put(f"/api/v1/admin/flights/{flight.id}/seats/1A", json=body, headers=admin_headers)
    assert response.status_code == 422
    assert seat_map(client, flight)["1A"]["status"] == "available"


def test_blocking_needs_an_admin(client, flight, traveller, auth_headers):
    assert block(client, flight, "1A", True, {}).status_code == 401
    assert block(client, flight, "1A", True, auth_headers(traveller)).status_code == 403
    assert seat_map(client, flight)["1A"]["status"] == "available"
