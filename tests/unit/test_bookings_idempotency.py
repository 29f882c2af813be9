"""An Idempotency-Key past IDEMPOTENCY_TTL_SECONDS counts as new, whether or not it was pruned yet."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from app import bookings
from app.extensions import db
from app.models import IdempotencyKey, Saga
from app.models.types import utcnow
from tests.conftest import card
from tests.security_world import stub_enqueue

KEY = "order-1"


@pytest.fixture
def post(client, participants, make_user, auth_headers, make_flight):
    headers = {**auth_headers(make_user()), "Idempotency-Key": KEY}
    flight_id = make_flight().id

    def post(seats: list[str]):
        body = {"flight_id": flight_id, "seats": seats, "payment": card()}
        return client.post("/api/v1/bookings", json=body, headers=headers)

    return post


def set_key_expiry(expires_at) -> None:
    db.session.execute(update(IdempotencyKey).where(IdempotencyKey.key == KEY).values(expires_at=expires_at))
    db.session.commit()


@pytest.mark.parametrize("seats", [["12A"], ["12B"]], ids=["same-body", "other-body"])
def test_an_expired_key_not_yet_pruned_starts_a_new_booking(seats, post, monkeypatch):
    sent = stub_enqueue(monkeypatch)
    first = post(["12A"])
    assert first.status_code == 202
    set_key_expiry(utcnow() - timedelta(seconds=1))  # expired; the hourly prune has not run yet

    again = post(seats)
    assert again.status_code == 202, again.get_json()
    new_id = again.get_json()["id"]
    assert new_id != first.get_json()["id"]
    assert sent == [("start", first.get_json()["id"]), ("start", new_id)]
    claim = db.session.execute(db.select(IdempotencyKey)).scalar_one()  # replaced, not added
    assert claim.saga_id == new_id and claim.expires_at > utcnow()
    replay = post(seats)  # the key now belongs to the new booking
    assert replay.status_code == 200 and replay.get_json()["id"] == new_id


def test_an_expired_key_renewed_by_a_concurrent_request_is_replayed_not_replaced(post, monkeypatch):
    sent = stub_enqueue(monkeypatch)
    first_id = post(["12A"]).get_json()["id"]
    set_key_expiry(utcnow() - timedelta(seconds=1))
    resolve_seats = bookings._resolve_seats

    def renewed_meanwhile(*args):
        # Another request with this key replaced the expired claim after this one had read it.
        set_key_expiry(utcnow() + timedelta(hours=1))
        return resolve_seats(*args)

    monkeypatch.setattr(bookings, "_resolve_seats", renewed_meanwhile)
    again = post(["12A"])
    assert again.status_code == 200, again.get_json()
    assert again.get_json()["id"] == first_id
    assert db.session.query(Saga).count() == 1
    assert db.session.execute(db.select(IdempotencyKey)).scalar_one().saga_id == first_id
    assert sent == [("start", first_id)]
