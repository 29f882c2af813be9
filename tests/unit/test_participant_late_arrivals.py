"""A write that lands after the booking service compensated it is refused, and changes nothing.

The saga's last authorize (or award) attempt may time out on the client while the request is still
on its way; the saga compensates, and only then does the slow request reach the participant. The
compensation cancels by idempotency key, so the participant closes the key off even when nothing
had been done under it yet.
"""

from __future__ import annotations

import time
from datetime import date

import pytest
from flask import request, request_finished

from app import saga as definition
from app.errors import BusinessError, PaymentUnavailable
from app.models import Saga, SagaStatus
from app.participants.loyalty.client import Balance
from app.participants.loyalty.models import Award
from app.participants.loyalty.models import db as loyalty_db
from app.participants.payment.models import Payment
from app.participants.payment.models import db as payment_db
from app.settings_check import UnworkableSettings
from tests.conftest import APPROVED
from tests.participants import build_payment_app, payment_by_id, payment_over_socket, served

NEXT_YEAR = date.today().year + 1


@pytest.fixture
def saga(insert_saga) -> Saga:
    """A saga that is compensating: its authorize and award may still be on their way."""
    return insert_saga(SagaStatus.COMPENSATING, seats=["1A"], miles=300)


def count(service_app, model) -> int:
    service_db = payment_db if model is Payment else loyalty_db
    with service_app.app_context():
        return service_db.session.query(model).count()


def test_an_authorization_landing_after_cancel_payment_is_refused(saga, participants):
    token = participants.payment.tokenize(APPROVED, 12, NEXT_YEAR, "123").token
    definition.cancel_payment(saga)  # the authorize timed out on the client: nothing to see yet

    with pytest.raises(BusinessError) as refused:  # the slow request lands
        participants.payment.authorize(token, saga.amount, saga.currency,
                                       idempotency_key=definition.key(saga, "authorize_payment"))

    assert (refused.value.status, refused.value.code) == (409, "operation_cancelled")
    assert count(participants.payment_app, Payment) == 0
    assert participants.payment.lookup(definition.key(saga, "authorize_payment")) is None


def test_an_award_landing_after_reverse_miles_is_refused(saga, participants):
    definition.reverse_miles(saga)

    with pytest.raises(BusinessError) as refused:
        participants.loyalty.create_award(str(saga.user_id), saga.miles, reference=saga.id,
                                          idempotency_key=definition.key(saga, "award_miles"))

    assert (refused.value.status, refused.value.code) == (409, "operation_cancelled")
    assert count(participants.loyalty_app, Award) == 0
    assert participants.loyalty.balance(str(saga.user_id)).pending == 0


# cancel_payment and reverse_miles keep doing what they did

def authorize_for(saga: Saga, participants) -> str:
    token = participants.payment.tokenize(APPROVED, 12, NEXT_YEAR, "123").token
    return participants.payment.authorize(token, saga.amount, saga.currency,
                                          idempotency_key=definition.key(saga, "authorize_payment")).id


def test_cancel_payment_voids_an_authorization(saga, participants):
    payment_id = authorize_for(saga, participants)
    definition.cancel_payment(saga)
    definition.cancel_payment(saga)  # a compensation may run twice
    assert payment_by_id(participants.payment, payment_id).status == "voided"


def test_cancel_payment_refunds_a_capture(saga, participants):
    payment_id = authorize_for(saga, participants)
    participants.payment.capture(payment_id, saga.amount, idempotency_key=definition.key(saga, "capture"))
    definition.cancel_payment(saga)
    refunded = payment_by_id(participants.payment, payment_id)
    assert (refunded.status, refunded.refunded_amount) == ("refunded", saga.amount)


@pytest.mark.parametrize("posted", [False, True])
def test_reverse_miles_reverses_the_award(saga, participants, posted):
    award = participants.loyalty.create_award(str(saga.user_id), saga.miles, reference=saga.id,
                                              idempotency_key=definition.key(saga, "award_miles"))
    if posted:
        participants.loyalty.post_award(award.id, idempotency_key=definition.key(saga, "post_miles"))
    definition.reverse_miles(saga)
    definition.reverse_miles(saga)
    assert participants.loyalty.balance(str(saga.user_id)) == Balance(str(saga.user_id), 0, 0)


# The same sequence for real: a socket, a client that gives up, a request held back before its work

# Far beyond the impatient client's read timeout: the cancel has all that time to come first.
LATENCY_MS = 1000


@pytest.fixture
def late_payment_url(payment_app):
    """The payment service on a free 127.0.0.1 port, its latency (when set) spent before the work."""
    payment_app.config["PAYMENT_LATENCY_AT"] = "before"
    with served(payment_app) as url:
        yield url


def test_an_authorize_that_timed_out_and_lands_after_cancel_payment_is_refused(app, saga, payment_app,
                                                                               late_payment_url):
    answers = []
    request_finished.connect(lambda sender, response: answers.append((request.path, response.status_code)),
                             payment_app, weak=False)
    saga_client = payment_over_socket(late_payment_url, read_timeout=5.0)
    app.extensions["payment"] = saga_client
    impatient = payment_over_socket(late_payment_url, read_timeout=0.25)
    try:
        token = saga_client.tokenize(APPROVED, 12, NEXT_YEAR, "123").token
        payment_app.config["PAYMENT_LATENCY_MS"] = LATENCY_MS
        with pytest.raises(PaymentUnavailable, match="timed out"):
            impatient.authorize(token, saga.amount, saga.currency,
                                idempotency_key=definition.key(saga, "authorize_payment"))
        payment_app.config["PAYMENT_LATENCY_MS"] = 0  # only the authorize in flight is held back

        definition.cancel_payment(saga)
        assert ("/payments", 201) not in answers  # the cancel came first...
        deadline = time.monotonic() + 5
        while not any(path == "/payments" for path, _ in answers) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert ("/payments", 409) in answers  # ...and the late authorize was refused
        assert count(payment_app, Payment) == 0
    finally:
        saga_client.close()
        impatient.close()


def test_a_latency_setting_that_cannot_work_is_refused_at_start(tmp_path):
    # Refused by the service's settings check (app/settings_check.py), before the database opens.
    with pytest.raises(UnworkableSettings, match="PAYMENT_LATENCY_AT must be before or after"):
        build_payment_app(tmp_path, PAYMENT_LATENCY_AT="soon")
