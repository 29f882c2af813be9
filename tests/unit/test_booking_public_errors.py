"""Travellers see a stable code and plain words for a failure; the raw detail is for operators."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.extensions import db
from app.models import Saga, SagaStatus, SagaStep, StepKind, StepStatus
from app.models.types import utcnow

RAW_PAYMENT = ("POST http://payment.internal:8003/payments failed: ConnectError: [Errno 111] "
               "Connection refused")
RAW_REDIS = ("the seat-hold store did not answer: Error 111 connecting to redis.internal:6379. "
             "Connection refused.")
# Ports with their colon: a bare "8003" also turns up in a timestamp's microseconds (…:23.528003).
INTERNALS = ("http://", ":8003", ":6379", "ConnectError", "Errno", "payment.internal", "redis.internal")


@pytest.fixture
def failed(make_user, make_flight):
    """A saga that failed at authorize_payment (payment down), its reserve_seat retried on Redis errors."""
    owner = make_user()
    flight = make_flight()
    saga = Saga(user_id=owner.id, flight_id=flight.id, seats=["7A"], amount=Decimal("150.00"),
                currency="USD", miles=150, status=SagaStatus.FAILED, card_token="tok", card_brand="visa",
                card_last4="4242", failure_step="authorize_payment", failure_reason="payment_unavailable",
                failure_detail=RAW_PAYMENT)
    saga.steps = [
        SagaStep(name="reserve_seat", kind=StepKind.ACTION, position=1, status=StepStatus.SUCCEEDED,
                 attempts=2, started_at=utcnow(), finished_at=utcnow()),
        SagaStep(name="authorize_payment", kind=StepKind.ACTION, position=2, status=StepStatus.FAILED,
                 attempts=5, error_code="payment_unavailable", error_message=RAW_PAYMENT),
        SagaStep(name="award_miles", kind=StepKind.ACTION, position=3),
        SagaStep(name="confirm_booking", kind=StepKind.ACTION, position=4),
        SagaStep(name="cancel_seat", kind=StepKind.COMPENSATION, position=5, status=StepStatus.DEBT,
                 attempts=6, error_code="internal_error", error_message=RAW_REDIS),
    ]
    db.session.add(saga)
    db.session.commit()
    return owner, saga


def shows_internals(text: str) -> list[str]:
    return [word for word in INTERNALS if word in text]


def test_the_owner_sees_codes_and_words_not_internals(client, auth_headers, failed):
    owner, saga = failed
    booking = client.get(f"/api/v1/bookings/{saga.id}", headers=auth_headers(owner)).get_json()
    assert booking["failure"]["step"] == "authorize_payment"
    assert booking["failure"]["reason"] == "payment_unavailable"
    assert booking["failure"]["detail"] and not shows_internals(booking["failure"]["detail"])
    errors = {step["name"]: step["error"] for step in booking["steps"] if step["error"]}
    assert errors["authorize_payment"]["code"] == "payment_unavailable"
    assert errors["cancel_seat"]["code"] == "internal_error"
    for error in errors.values():
        assert error["message"] and not shows_internals(error["message"])
    listed = client.get("/api/v1/bookings", headers=auth_headers(owner)).get_data(as_text=True)
    assert not shows_internals(listed)


def test_the_owners_page_shows_no_internals(app, client, failed):
    from tests.unit.web_browser import Browser

    owner, saga = failed
    browser = Browser(app)
    browser.log_in(owner)
    assert not shows_internals(browser.get(f"/bookings/{saga.id}").get_data(as_text=True))


def test_operators_see_the_raw_detail_on_the_admin_api(client, make_user, auth_headers, failed):
    _, saga = failed
    admin = auth_headers(make_user(is_admin=True))
    listed = client.get("/api/v1/admin/sagas?status=failed", headers=admin).get_json()["items"]
    (booking,) = [item for item in listed if item["id"] == saga.id]
    assert booking["failure"]["detail"] == RAW_PAYMENT
    errors = {step["name"]: step["error"]["message"] for step in booking["steps"] if step["error"]}
    assert errors == {"authorize_payment": RAW_PAYMENT, "cancel_seat": RAW_REDIS}
    # Elsewhere, an administrator reads a booking as travellers do.
    plain = client.get(f"/api/v1/bookings/{saga.id}", headers=admin).get_json()
    assert not shows_internals(plain["failure"]["detail"])


def _subclasses(cls: type) -> list[type]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _subclasses(child))]


def test_every_failure_reason_has_words():
    from app.errors import SagaError
    from app.public_errors import public_message

    # Every reason the tree names, so a new error class is checked without a list to keep up.
    reasons = {cls.reason for cls in _subclasses(SagaError)}
    messages = {reason: public_message(reason) for reason in reasons}
    assert all(messages.values()) and len(set(messages.values())) == len(messages)
    assert public_message("something new") == public_message("internal_error")
