"""A booking asked for while the payment service cannot tokenize: 503, nothing written, the cause logged."""

from __future__ import annotations

import logging

from app.extensions import db
from app.models import IdempotencyKey, Saga
from tests.conftest import card


def test_a_booking_the_payment_service_cannot_tokenize_is_503_and_leaves_nothing(
        client, participants, faults, make_user, auth_headers, make_flight, caplog):
    faults.fail_before("payment", "POST", "^/tokens$")
    headers = {**auth_headers(make_user()), "Idempotency-Key": "order-1"}
    body = {"flight_id": make_flight().id, "seats": ["12A"], "payment": card()}
    with caplog.at_level(logging.WARNING):
        response = client.post("/api/v1/bookings", json=body, headers=headers)

    assert response.status_code == 503
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Retry-After"]
    assert response.get_json()["type"] == "/problems/payment-unavailable"
    # The traveller reads the public answer; the operator's log names the call that failed and how.
    assert "127.0.0.1" not in response.get_json()["detail"]
    assert any("answered 503 payment-unavailable: POST" in r.getMessage() and "/tokens failed: ConnectError"
               in r.getMessage() for r in caplog.records)
    assert db.session.query(Saga).count() == 0
    assert db.session.query(IdempotencyKey).count() == 0

    faults.clear()  # the service is back: the same key books
    assert client.post("/api/v1/bookings", json=body, headers=headers).status_code == 202
