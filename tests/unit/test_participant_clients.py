"""The payment and loyalty clients: the real services over WSGI, and failures from httpx.MockTransport."""

import socket
from datetime import date
from decimal import Decimal

import httpx
import pytest

from app.errors import (
    BusinessError,
    CardDeclined,
    InsufficientFunds,
    InvalidCard,
    LoyaltyUnavailable,
    OperationCancelled,
    ParticipantRejected,
    PaymentUnavailable,
    TransientError,
)
from app.participants import loyalty_client, payment_client
from app.participants.loyalty.client import Award, Balance, LoyaltyClient
from app.participants.payment.client import CardToken, Payment, PaymentClient
from tests.conftest import APPROVED, DECLINED, NO_FUNDS, PROCESSOR_DOWN
from tests.participants import payment_by_id, secret_of, wire_participants

NEXT_YEAR = date.today().year + 1


def token_for(payment: PaymentClient, number: str = APPROVED) -> str:
    return payment.tokenize(number, 12, NEXT_YEAR, "123").token


@pytest.fixture
def payment(payment_app):
    """The production client, reaching the real service through httpx's WSGI transport."""
    client = PaymentClient("http://payment.test", connect_timeout=1.0, read_timeout=5.0,
                           transport=httpx.WSGITransport(app=payment_app),
                           token=secret_of("payment", "booking"))
    yield client
    client.close()


@pytest.fixture
def loyalty(loyalty_app):
    client = LoyaltyClient("http://loyalty.test", connect_timeout=1.0, read_timeout=5.0,
                           transport=httpx.WSGITransport(app=loyalty_app),
                           token=secret_of("loyalty", "booking"))
    yield client
    client.close()


# Payment client against the real service

def test_the_booking_app_reaches_the_wired_services(app, participants):
    assert payment_client() is participants.payment
    assert loyalty_client() is participants.loyalty


def test_wire_participants_alone_builds_both_services(app, tmp_path):
    wired = wire_participants(app, tmp_path)
    try:
        assert payment_client().tokenize(APPROVED, 12, NEXT_YEAR, "123").last4 == "4242"
        assert loyalty_client().balance("7").balance == 0
        assert {path.name for path in tmp_path.glob("*.db")} >= {"payment.db", "loyalty.db"}
    finally:
        wired.close()


def test_tokenize_gives_a_card_token(payment):
    token = payment.tokenize("5555 5555 5555 4444", 12, NEXT_YEAR, "123")
    assert isinstance(token, CardToken)
    assert (token.brand, token.last4, token.exp_month, token.exp_year) == ("mastercard", "4444", 12,
                                                                           NEXT_YEAR)


@pytest.mark.parametrize(("number", "exp_year", "cvc"), [
    ("4242424242424241", NEXT_YEAR, "123"),              # Luhn
    (APPROVED, date.today().year - 1, "123"),  # expired
    (APPROVED, NEXT_YEAR, "1"),                # CVC
])
def test_an_invalid_card_raises_invalid_card(payment, number, exp_year, cvc):
    with pytest.raises(InvalidCard):
        payment.tokenize(number, 12, exp_year, cvc)


def test_authorize_gives_a_payment(payment):
    payment = payment.authorize(token_for(payment), Decimal("120.50"), "USD",
                                             idempotency_key="booking-1:authorize_payment")
    assert payment == Payment(id=payment.id, status="authorized", amount=Decimal("120.50"), currency="USD",
                              captured_amount=Decimal("0.00"), refunded_amount=Decimal("0.00"))


@pytest.mark.parametrize(("number", "error", "code"), [
    (DECLINED, CardDeclined, "card_declined"),
    (NO_FUNDS, InsufficientFunds, "insufficient_funds"),
])
def test_declines_raise_their_business_error_and_can_be_looked_up(payment, number, error, code):
    with pytest.raises(error) as raised:
        payment.authorize(token_for(payment, number), Decimal("10.00"), "USD", idempotency_key="k-declined")
    assert raised.value.reason == code
    found = payment.lookup("k-declined")
    assert found.id == raised.value.extra["payment_id"]
    assert (found.status, found.decline_code) == ("declined", code)


def test_the_processing_error_card_raises_payment_unavailable(payment):
    token = token_for(payment, PROCESSOR_DOWN)
    for _ in range(2):
        with pytest.raises(PaymentUnavailable):
            payment.authorize(token, Decimal("10.00"), "USD", idempotency_key="k-0119")
    assert payment.lookup("k-0119") is None


def test_an_authorize_retried_under_its_key_has_one_effect(payment):
    token = token_for(payment)
    first = payment.authorize(token, Decimal("10.00"), "USD", idempotency_key="k-retry")
    assert payment.authorize(token, Decimal("10.00"), "USD", idempotency_key="k-retry") == first
    assert payment.lookup("k-retry") == first


def test_lookup_of_a_key_never_used_is_none(payment):
    assert payment.lookup("never/used") is None


def test_void_capture_refund(payment):
    token = token_for(payment)
    voided = payment.authorize(token, Decimal("50.00"), "USD", idempotency_key="a-1")
    assert payment.void(voided.id, idempotency_key="v-1").status == "voided"
    assert payment.void(voided.id, idempotency_key="v-2").status == "voided"

    kept = payment.authorize(token, Decimal("50.00"), "USD", idempotency_key="a-2")
    captured = payment.capture(kept.id, Decimal("45.00"), idempotency_key="c-2")
    assert (captured.status, captured.captured_amount) == ("captured", Decimal("45.00"))
    refunded = payment.refund(kept.id, Decimal("45.00"), idempotency_key="r-2")
    assert (refunded.status, refunded.refunded_amount) == ("refunded", Decimal("45.00"))
    assert payment_by_id(payment, kept.id) == refunded


@pytest.mark.parametrize(("attempt", "status", "code"), [
    ("capture after void", 409, "invalid_state"),
    ("key reused for a refund", 422, "idempotency_key_reused"),
    ("unknown payment", 404, "payment_not_found"),
])
def test_other_refusals_raise_participant_rejected_with_status_and_code(payment, attempt, status, code):
    voided = payment.authorize(token_for(payment), Decimal("50.00"), "USD", idempotency_key="a-3")
    payment.void(voided.id, idempotency_key="v-3")
    calls = {
        "capture after void": lambda: payment.capture(voided.id, Decimal("1.00"), idempotency_key="c-3"),
        "key reused for a refund": lambda: payment.refund(voided.id, Decimal("1.00"), idempotency_key="v-3"),
        "unknown payment": lambda: payment_by_id(payment, "no-such-payment"),
    }
    with pytest.raises(ParticipantRejected) as raised:
        calls[attempt]()
    assert (raised.value.status, raised.value.code) == (status, code)
    assert raised.value.reason == "internal_error"
    assert isinstance(raised.value, BusinessError)


def test_cancel_authorization_voids_refunds_or_closes_the_key(payment):
    token = token_for(payment)
    authorized = payment.authorize(token, Decimal("50.00"), "USD", idempotency_key="b-1:authorize")
    voided = payment.cancel_authorization("b-1:authorize", idempotency_key="b-1:cancel")
    assert (voided.id, voided.status) == (authorized.id, "voided")

    captured = payment.authorize(token, Decimal("50.00"), "USD", idempotency_key="b-2:authorize")
    payment.capture(captured.id, Decimal("50.00"), idempotency_key="b-2:capture")
    refunded = payment.cancel_authorization("b-2:authorize", idempotency_key="b-2:cancel")
    assert (refunded.status, refunded.refunded_amount) == ("refunded", Decimal("50.00"))

    assert payment.cancel_authorization("b-3/authorize", idempotency_key="b-3:cancel") is None
    with pytest.raises(OperationCancelled) as refused:
        payment.authorize(token, Decimal("50.00"), "USD", idempotency_key="b-3/authorize")
    assert (refused.value.status, refused.value.code) == (409, "operation_cancelled")
    assert isinstance(refused.value, BusinessError) and not isinstance(refused.value, TransientError)


# Loyalty client against the real service

def test_awards_through_the_client(loyalty):
    created = loyalty.create_award("7", 300, reference="booking-1", idempotency_key="booking-1:award_miles")
    assert created == Award(id=created.id, account_id="7", miles=300, status="pending")
    assert loyalty.balance("7") == Balance(account_id="7", balance=0, pending=300)
    assert loyalty.lookup_award("booking-1:award_miles") == created
    assert loyalty.post_award(created.id, idempotency_key="p-1").status == "posted"
    assert loyalty.balance("7") == Balance(account_id="7", balance=300, pending=0)
    assert loyalty.reverse_award(created.id, idempotency_key="r-1").status == "reversed"
    assert loyalty.balance("7") == Balance(account_id="7", balance=0, pending=0)
    assert loyalty.lookup_award("never-used") is None


def test_cancel_award_reverses_it_or_closes_the_key(loyalty):
    created = loyalty.create_award("7", 300, reference="b-1", idempotency_key="b-1:award")
    reversed_ = loyalty.cancel_award("b-1:award", idempotency_key="b-1:reverse")
    assert (reversed_.id, reversed_.status) == (created.id, "reversed")
    assert loyalty.cancel_award("b-2:award", idempotency_key="b-2:reverse") is None
    with pytest.raises(OperationCancelled):
        loyalty.create_award("7", 300, reference="b-2", idempotency_key="b-2:award")
    assert loyalty.balance("7") == Balance(account_id="7", balance=0, pending=0)


def test_loyalty_refusals_raise_participant_rejected(loyalty):
    created = loyalty.create_award("7", 300, reference="booking-1", idempotency_key="k-1")
    loyalty.reverse_award(created.id, idempotency_key="k-2")
    with pytest.raises(ParticipantRejected) as raised:
        loyalty.post_award(created.id, idempotency_key="k-3")
    assert (raised.value.status, raised.value.code) == (409, "invalid_state")


# Failures as httpx sees them

def payment_over(handler, **timeouts) -> PaymentClient:
    timeouts = {"connect_timeout": 0.5, "read_timeout": 3.0, **timeouts}
    return PaymentClient("http://payment.test", transport=httpx.MockTransport(handler), **timeouts)


def loyalty_over(handler, **timeouts) -> LoyaltyClient:
    timeouts = {"connect_timeout": 0.5, "read_timeout": 3.0, **timeouts}
    return LoyaltyClient("http://loyalty.test", transport=httpx.MockTransport(handler), **timeouts)


CLIENTS = [
    pytest.param(payment_over, lambda c: c.authorize("tok", Decimal("1.00"), "USD", idempotency_key="k"),
                 PaymentUnavailable, id="payment"),
    pytest.param(loyalty_over, lambda c: c.create_award("7", 1, reference="r", idempotency_key="k"),
                 LoyaltyUnavailable, id="loyalty"),
]


def raising(exc_type):
    def handler(request):
        raise exc_type("simulated", request=request)
    return handler


def answering(status, body=None, *, text=None):
    def handler(request):
        if text is not None:
            return httpx.Response(status, text=text)
        return httpx.Response(status, json=body)
    return handler


@pytest.mark.parametrize(("make", "call", "unavailable"), CLIENTS)
@pytest.mark.parametrize("failure", [
    raising(httpx.ConnectError),
    raising(httpx.ConnectTimeout),
    raising(httpx.ReadTimeout),
    raising(httpx.RemoteProtocolError),
    answering(500, text="Internal Server Error"),
    answering(502, text="<html>Bad gateway</html>"),
    answering(503, {"status": 503, "code": "processing_error", "detail": "try again"}),
    answering(200, text="not json"),
], ids=["connect-error", "connect-timeout", "read-timeout", "protocol-error", "500", "502", "503",
        "unreadable-200"])
def test_transient_failures_raise_the_clients_unavailable_error(make, call, unavailable, failure):
    client = make(failure)
    with pytest.raises(unavailable) as raised:
        call(client)
    assert isinstance(raised.value, TransientError)
    client.close()


@pytest.mark.parametrize(("make", "call", "unavailable"), CLIENTS)
@pytest.mark.parametrize("broken", [httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError])
def test_a_connection_broken_once_is_tried_again_under_the_same_key(make, call, unavailable, broken):
    sent = []

    def handler(request):
        sent.append(request.headers["Idempotency-Key"])
        if len(sent) == 1:
            raise broken("Server disconnected without sending a response.", request=request)
        # One body both clients read: a Payment's fields and an Award's.
        return answering(200, {"id": "x-1", "status": "authorized", "amount": "1.00", "currency": "USD",
                               "captured_amount": "0.00", "refunded_amount": "0.00",
                               "account_id": "7", "miles": 1})(request)

    client = make(handler)
    call(client)
    assert sent == ["k", "k"]
    client.close()


@pytest.mark.parametrize(("make", "call", "unavailable"), CLIENTS)
@pytest.mark.parametrize("failure", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.ConnectError])
def test_a_timeout_or_refused_connection_is_not_sent_again(make, call, unavailable, failure):
    sent = []

    def handler(request):
        sent.append(request)
        raise failure("simulated", request=request)

    with pytest.raises(unavailable):
        call(make(handler))
    assert len(sent) == 1


@pytest.mark.parametrize(("make", "call", "unavailable"), CLIENTS)
def test_a_closed_port_raises_the_clients_unavailable_error(make, call, unavailable):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client_class = PaymentClient if unavailable is PaymentUnavailable else LoyaltyClient
    client = client_class(f"http://127.0.0.1:{closed_port}", connect_timeout=0.5, read_timeout=0.5)
    with pytest.raises(unavailable):
        call(client)
    client.close()


@pytest.mark.parametrize(("status", "code", "error"), [
    (402, "card_declined", CardDeclined),
    (402, "insufficient_funds", InsufficientFunds),
    (422, "invalid_card", InvalidCard),
    (409, "operation_cancelled", OperationCancelled),
    (409, "invalid_state", ParticipantRejected),
    (404, "payment_not_found", ParticipantRejected),
    (422, "idempotency_key_reused", ParticipantRejected),
    (400, "idempotency_key_missing", ParticipantRejected),
    (418, None, ParticipantRejected),
])
def test_refusals_map_by_their_code(status, code, error):
    body = {"type": "/problems/x", "title": "t", "status": status, "detail": "refused", "code": code}
    client = payment_over(answering(status, body if code else None))
    with pytest.raises(error) as raised:
        client.capture("pay-1", Decimal("1.00"), idempotency_key="k")
    assert not isinstance(raised.value, TransientError)
    if error is ParticipantRejected:
        assert (raised.value.status, raised.value.code) == (status, code or "unknown")
    client.close()


def test_every_call_carries_the_timeouts_and_every_write_its_key():
    seen = []

    def handler(request):
        seen.append(request)
        if request.url.path == "/tokens":
            return httpx.Response(201, json={"token": "tok_1", "brand": "visa", "last4": "4242",
                                             "exp_month": 12, "exp_year": NEXT_YEAR})
        if request.url.path.endswith("/cancel"):
            return httpx.Response(200, json={"idempotency_key": "k-auth", "payment": None})
        if request.url.path.startswith("/operations/"):
            return httpx.Response(404, json={"status": 404, "code": "operation_not_found"})
        return httpx.Response(200, json={"id": "pay-1", "status": "authorized", "amount": "1.00",
                                         "currency": "USD", "captured_amount": "0.00",
                                         "refunded_amount": "0.00"})

    client = payment_over(handler, connect_timeout=0.5, read_timeout=3.0)
    client.tokenize(APPROVED, 12, NEXT_YEAR, "123")
    client.authorize("tok_1", Decimal("1.00"), "USD", idempotency_key="k-auth")
    client.lookup("k-auth")
    payment_by_id(client, "pay-1")
    client.void("pay-1", idempotency_key="k-void")
    client.capture("pay-1", Decimal("1.00"), idempotency_key="k-capture")
    client.refund("pay-1", Decimal("1.00"), idempotency_key="k-refund")
    client.cancel_authorization("k-auth", idempotency_key="k-cancel")
    client.close()

    assert all(r.extensions["timeout"] == {"connect": 0.5, "read": 3.0, "write": 3.0, "pool": 3.0}
               for r in seen)
    writes = {r.url.path: r.headers.get("Idempotency-Key") for r in seen if r.method == "POST"}
    assert writes.pop("/tokens").startswith("tokenize-")
    assert writes == {"/payments": "k-auth", "/payments/pay-1/void": "k-void",
                      "/payments/pay-1/capture": "k-capture", "/payments/pay-1/refund": "k-refund",
                      "/operations/k-auth/cancel": "k-cancel"}


def test_keys_and_ids_are_escaped_into_one_path_segment():
    seen = []

    def handler(request):
        seen.append(request.url.raw_path)
        return httpx.Response(404, json={"status": 404, "code": "operation_not_found"})

    client = loyalty_over(handler)
    assert client.lookup_award("booking/1 award") is None
    client.close()
    assert seen == [b"/operations/booking%2F1%20award"]
