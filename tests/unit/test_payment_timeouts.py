"""A real timeout: the payment service on a real socket, slowed past the client's read timeout."""

import threading
import time
from datetime import date
from decimal import Decimal

import pytest
from flask import request, request_finished

from app.errors import PaymentUnavailable
from tests.conftest import APPROVED
from tests.participants import payment_over_socket, served

LATENCY_MS = 500


@pytest.fixture
def slow_payment_url(payment_app):
    """The payment service on a free 127.0.0.1 port, every answer held back LATENCY_MS."""
    payment_app.config["PAYMENT_LATENCY_MS"] = LATENCY_MS
    with served(payment_app) as url:
        yield url


def test_an_authorize_slower_than_the_read_timeout_is_payment_unavailable(slow_payment_url):
    patient = payment_over_socket(slow_payment_url, read_timeout=5.0)
    impatient = payment_over_socket(slow_payment_url, read_timeout=0.25)
    try:
        started = time.monotonic()
        token = patient.tokenize(APPROVED, 12, date.today().year + 1, "123")
        assert time.monotonic() - started >= LATENCY_MS / 1000

        with pytest.raises(PaymentUnavailable, match="timed out"):
            impatient.authorize(token.token, Decimal("120.00"), "USD", idempotency_key="slow-1")

        # The service did the work and was only slow to say so: the key tells the caller what happened.
        found = patient.lookup("slow-1")
        assert found is not None and found.status == "authorized"
    finally:
        patient.close()
        impatient.close()


def test_latency_before_the_work_lands_it_after_the_caller_gave_up(payment_app, slow_payment_url):
    payment_app.config["PAYMENT_LATENCY_AT"] = "before"
    landed = threading.Event()
    request_finished.connect(lambda sender, response: landed.set() if request.path == "/payments" else None,
                             payment_app, weak=False)
    patient = payment_over_socket(slow_payment_url, read_timeout=5.0)
    impatient = payment_over_socket(slow_payment_url, read_timeout=0.25)
    try:
        token = patient.tokenize(APPROVED, 12, date.today().year + 1, "123")
        payment_app.config["PAYMENT_LATENCY_MS"] = 1000  # far beyond the timeout: room for the lookup
        with pytest.raises(PaymentUnavailable, match="timed out"):
            impatient.authorize(token.token, Decimal("120.00"), "USD", idempotency_key="late-1")
        payment_app.config["PAYMENT_LATENCY_MS"] = 0  # only the request in flight is held back

        assert patient.lookup("late-1") is None  # the caller gave up before anything was done
        assert landed.wait(timeout=5)
        assert patient.lookup("late-1").status == "authorized"
    finally:
        patient.close()
        impatient.close()
