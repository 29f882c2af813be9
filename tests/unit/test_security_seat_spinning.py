"""Seat spinning (OWASP API6): a handful of fresh accounts from one address cannot hold a flight.

What one actor may hold at once is capped per account and per client address, on one flight and in
total, and tighter for accounts younger than NEW_ACCOUNT_SECONDS. Holds a saga takes for a direct
booking by seats count as much as holds taken through the holds API.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.extensions import db
from app.models import Saga, User
from app.models.types import utcnow
from tests.conftest import card

SPINNER = "203.0.113.66"
# The defaults of app/config.py; tests/conftest.py turns the per-address caps off for the rest.
CAPS = {"MAX_HELD_SEATS_PER_ADDRESS_PER_FLIGHT": 18, "MAX_HELD_SEATS_PER_ADDRESS": 54}


@pytest.fixture(autouse=True)
def caps(app):
    app.config.update(CAPS)


def rows(first: int, count: int = 9, letter: str = "A") -> list[str]:
    """`count` seats of one letter, from row `first` on (economy starts at row 6)."""
    return [f"{row}{letter}" for row in range(first, first + count)]


def all_seats() -> list[list[str]]:
    """The 162 seats as 18 lots of 9."""
    lots = []
    for letter in "ABCDEF":
        lots += [rows(1, letter=letter), rows(10, letter=letter), rows(19, letter=letter)]
    return lots


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def hold(client, flight, headers, seats, address=SPINNER):
    return client.post(f"/api/v1/flights/{flight.id}/holds", json={"seats": seats}, headers=headers,
                       **from_address(address))


def available(client, flight) -> int:
    return client.get(f"/api/v1/flights/{flight.id}").get_json()["seats_available"]


def age(user: User, days: int) -> None:
    user.created_at = utcnow() - timedelta(days=days)
    db.session.commit()


def test_six_fresh_accounts_from_one_address_cannot_empty_a_flight(client, make_user, auth_headers,
                                                                   make_flight, participants, sent):
    flight = make_flight()
    spinners = [auth_headers(make_user()) for _ in range(6)]
    lots = iter(all_seats())
    granted = 0
    for headers in spinners:
        for _ in range(3):
            answer = hold(client, flight, headers, next(lots))
            granted += answer.status_code == 201
            if answer.status_code != 201:
                assert answer.status_code == 429
                assert answer.get_json()["type"] == "/problems/hold-limit"
                assert int(answer.headers["Retry-After"]) > 0
    assert granted * 9 <= CAPS["MAX_HELD_SEATS_PER_ADDRESS_PER_FLIGHT"]
    assert available(client, flight) >= 162 - CAPS["MAX_HELD_SEATS_PER_ADDRESS_PER_FLIGHT"]

    # Travellers from other addresses still hold and book.
    for n, address in enumerate(("198.51.100.1", "198.51.100.2", "192.0.2.7")):
        traveller = auth_headers(make_user())
        seats = rows(20 + 2 * n, count=2, letter="F")
        assert hold(client, flight, traveller, seats, address).status_code == 201
        booked = client.post("/api/v1/bookings", json={"flight_id": flight.id, "seats": rows(20 + n, 1, "E"),
                                                       "payment": card()},
                             headers=traveller, **from_address(address))
        assert booked.status_code == 202


def test_one_account_holds_at_most_nine_seats_of_a_flight(client, make_user, auth_headers, make_flight):
    ada = auth_headers(make_user())
    flight = make_flight()
    assert hold(client, flight, ada, rows(6, 5)).status_code == 201
    refused = hold(client, flight, ada, rows(6, 5, "B"))
    assert refused.status_code == 429
    problem = refused.get_json()
    assert problem["type"] == "/problems/hold-limit" and problem["scope"] == "account-flight"
    assert problem["limit"] == 9
    assert hold(client, flight, ada, rows(6, 4, "B")).status_code == 201


def test_a_new_account_holds_fewer_seats_in_total(client, make_user, auth_headers, make_flight):
    fresh = make_user()
    old = make_user()
    age(old, days=30)
    flights = [make_flight(number=f"SA90{n}") for n in range(3)]
    for user, letter, expected in ((fresh, "A", [201, 429, 429]), (old, "B", [201, 201, 201])):
        headers = auth_headers(user)
        address = f"198.51.100.{user.id}"
        answers = [hold(client, flight, headers, rows(6, 9, letter), address).status_code
                   for flight in flights]
        assert answers == expected
    refused = hold(client, flights[1], auth_headers(fresh), ["1A"], address=f"198.51.100.{fresh.id}")
    assert refused.get_json()["scope"] == "new-account"


def test_a_direct_booking_by_seats_counts_against_the_caps(client, make_user, auth_headers, make_flight,
                                                           participants, sent):
    flight = make_flight()
    ada = make_user()
    age(ada, days=30)
    headers = auth_headers(ada)
    assert hold(client, flight, headers, rows(6, 5)).status_code == 201
    # A booking by seats takes its hold inside the saga: the caps are checked when it is asked for.
    body = {"flight_id": flight.id, "seats": rows(6, 5, "B"), "payment": card()}
    refused = client.post("/api/v1/bookings", json=body, headers=headers, **from_address(SPINNER))
    assert refused.status_code == 429
    assert refused.get_json()["type"] == "/problems/hold-limit"
    assert db.session.query(Saga).count() == 0
    ok = client.post("/api/v1/bookings", json={"flight_id": flight.id, "seats": rows(6, 4, "B"),
                                               "payment": card()}, headers=headers, **from_address(SPINNER))
    assert ok.status_code == 202
    # Still pending (no hold taken yet), the booking's seats count until its saga holds them.
    assert hold(client, flight, headers, ["1A"]).status_code == 429


def test_direct_bookings_from_one_address_cannot_empty_a_flight(client, make_user, auth_headers,
                                                                make_flight, participants, sent):
    flight = make_flight()
    answers = []
    for lot in all_seats():
        spinner = make_user()
        age(spinner, days=30)
        answers.append(client.post("/api/v1/bookings", json={"flight_id": flight.id, "seats": lot,
                                                             "payment": card()},
                                   headers=auth_headers(spinner), **from_address(SPINNER)).status_code)
    assert answers.count(202) * 9 <= CAPS["MAX_HELD_SEATS_PER_ADDRESS_PER_FLIGHT"]
    assert set(answers) == {202, 429}


def test_the_caps_are_settings(app):
    for name in ("MAX_HELD_SEATS_PER_FLIGHT", "MAX_HELD_SEATS_PER_ACCOUNT", "NEW_ACCOUNT_SECONDS",
                 "MAX_HELD_SEATS_NEW_ACCOUNT", *CAPS):
        assert isinstance(app.config[name], int)
