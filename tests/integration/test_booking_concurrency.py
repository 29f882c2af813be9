"""Many bookings racing for overlapping seats of one flight: I1, I2, I5 and I6 hold."""

from __future__ import annotations

import random
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from app.extensions import db
from app.models import Saga
from tests.conftest import book
from tests.integration.conftest import wait_terminal
from tests.integration.saga_helpers import active_ticket_seats, assert_confirmed, assert_undone, seat_status

pytestmark = pytest.mark.integration

BOOKINGS = 100
SEAT_POOL = [f"{row}{letter}" for row in range(6, 11) for letter in "ABCDEF"]  # 30 economy seats


def test_a_hundred_racing_bookings_never_double_sell(live_app, worker, make_user, auth_headers, make_flight):
    # Ten bookings in flight per account on one flight is the race under test, not seat spinning:
    # the seat caps (tests/unit/test_security_seat_spinning.py) would turn most of them away.
    live_app.config.update(MAX_HELD_SEATS_PER_FLIGHT=0, MAX_HELD_SEATS_NEW_ACCOUNT=0,
                           MAX_HELD_SEATS_PER_ACCOUNT=0)
    flight = make_flight()
    flight_id = flight.id
    users = [make_user() for _ in range(10)]
    headers = [auth_headers(user) for user in users]
    rng = random.Random(7)
    requests = [(headers[i % len(users)], rng.sample(SEAT_POOL, rng.choice((1, 2)))) for i in range(BOOKINGS)]

    def submit(request):
        with live_app.test_client() as client:
            response = book(client, request[0], flight_id, request[1])
            return response.status_code, response.get_json()["id"]

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(submit, requests))
    assert {status for status, _ in answers} == {202}
    sagas = [wait_terminal(saga_id, timeout=180) for _, saga_id in answers]
    assert len({saga.id for saga in sagas}) == BOOKINGS

    # I1: no seat in two active tickets.
    sold = Counter(active_ticket_seats(flight.id))
    assert all(count == 1 for count in sold.values())
    # Every saga ended, and each left exactly what its outcome says (I2).
    outcomes = Counter(saga.status for saga in sagas)
    assert set(outcomes) <= {"confirmed", "failed"}, outcomes
    confirmed = [saga for saga in sagas if saga.status == "confirmed"]
    for saga in sagas:
        db.session.refresh(saga)
        if saga.status == "confirmed":
            assert_confirmed(saga)
        else:
            assert saga.failure_reason in ("seat_unavailable", "hold_expired"), saga.failure_reason
            assert_undone(saga)
    # Every seat of the pool is booked by exactly one confirmed booking, or free.
    booked_by = Counter(seat for saga in confirmed for seat in saga.seats)
    with live_app.test_client() as client:
        status = seat_status(client, flight.id)
    for seat in SEAT_POOL:
        assert booked_by[seat] <= 1
        assert status[seat] == ("booked" if booked_by[seat] else "available"), seat
    assert db.session.execute(db.select(db.func.count(Saga.id))).scalar() == BOOKINGS
