"""Idempotency fingerprints keep no trace of the card number or CVC (docs/security.md, "Card data").

A keyed hash of a card number with its last 4 known has too few candidates to be safe to store, so
both the booking service and the payment service fingerprint the card as last 4 and expiry only.
"""

from __future__ import annotations

from app.bookings import request_fingerprint
from app.extensions import db
from app.models import IdempotencyKey, Saga
from app.participants.idempotency import fingerprint
from app.participants.payment.cards import luhn_ok
from app.participants.payment.models import IdempotencyRecord
from app.participants.payment.models import db as payment_db
from tests.conftest import APPROVED, APPROVED_MASTERCARD, card
from tests.security_world import stub_enqueue


def same_last4(number: str) -> str:
    """Another Luhn-valid number with the same first and last 4 digits."""
    for middle in range(10**7, 10**8):
        candidate = f"{number[:4]}{middle}{number[-4:]}"
        if candidate != number and luhn_ok(candidate):
            return candidate
    raise AssertionError("no such number")


def body(**payment) -> dict:
    return {"flight_id": 1, "seats": ["12A"], "payment": {**card(), "card_number": APPROVED, **payment}}


def test_the_booking_fingerprint_sees_last4_and_expiry_but_not_the_number_or_cvc(app):
    reference = request_fingerprint(body())
    assert request_fingerprint(body(card_number=same_last4(APPROVED))) == reference
    assert request_fingerprint(body(card_number="4242 4242 4242 4242")) == reference
    assert request_fingerprint(body(cvc="999")) == reference
    assert request_fingerprint(body(card_number=APPROVED_MASTERCARD)) != reference
    assert request_fingerprint(body(exp_month=11)) != reference
    assert request_fingerprint({**body(), "seats": ["12B"]}) != reference


def test_a_retry_with_another_cvc_replays_and_another_card_is_refused(client, participants, monkeypatch,
                                                                      make_user, auth_headers, make_flight):
    stub_enqueue(monkeypatch)
    headers = {**auth_headers(make_user()), "Idempotency-Key": "order-1"}
    flight_id = make_flight().id

    def book(**payment):
        request = {**body(**payment), "flight_id": flight_id}
        return client.post("/api/v1/bookings", json=request, headers=headers)

    first = book()
    assert first.status_code == 202
    again = book(cvc="999")
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    other = book(card_number=APPROVED_MASTERCARD)
    assert other.status_code == 422
    assert other.get_json()["type"] == "/problems/idempotency-key-reused"
    assert db.session.query(Saga).count() == 1
    stored = db.session.query(IdempotencyKey).one()
    assert stored.request_hash == request_fingerprint({**body(), "flight_id": flight_id})


def test_the_payment_service_fingerprints_a_card_as_last4_and_expiry(participants):
    for number in (APPROVED, same_last4(APPROVED)):
        participants.payment.tokenize(number, 12, 2031, "123")
    with participants.payment_app.app_context():
        records = payment_db.session.query(IdempotencyRecord).all()
        expected = fingerprint("POST", "/tokens", {"last4": "4242", "exp_month": 12, "exp_year": 2031})
        assert [record.fingerprint for record in records] == [expected, expected]
