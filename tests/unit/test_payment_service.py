"""The payment service's HTTP contract (docs/participants.md), spoken to with Flask's test client."""

import threading
import uuid
from datetime import date

import pytest

from app.participants import idempotency
from app.participants.payment import operations
from app.participants.payment.models import Payment, db
from tests.conftest import APPROVED, APPROVED_MASTERCARD, DECLINED, NO_FUNDS, PROCESSOR_DOWN

NEXT_YEAR = date.today().year + 1


@pytest.fixture
def api(payment_app):
    return payment_app.test_client()


def post(api, path, body=None, *, key=None):
    return api.post(path, json=body, headers={"Idempotency-Key": key or f"test-{uuid.uuid4()}"})


def card(number=APPROVED, *, exp_month=12, exp_year=NEXT_YEAR, cvc="123"):
    return {"card_number": number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc}


def tokenize(api, number=APPROVED) -> str:
    response = post(api, "/tokens", card(number))
    assert response.status_code == 201, response.get_json()
    return response.get_json()["token"]


def authorize(api, number=APPROVED, amount="120.00", *, key=None):
    return post(api, "/payments", {"token": tokenize(api, number), "amount": amount, "currency": "USD"},
                key=key)


def authorized(api, amount="120.00") -> str:
    response = authorize(api, amount=amount)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def assert_problem(response, status, code):
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] and body["title"] and body["detail"]
    return body


def payments_in_db(payment_app) -> int:
    with payment_app.app_context():
        return db.session.query(Payment).count()


# Tokens

def test_a_token_keeps_brand_last4_and_expiry_and_nothing_else(api):
    response = post(api, "/tokens", card("4242 4242 4242 4242"))
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "brand", "last4", "exp_month", "exp_year"}
    assert (body["brand"], body["last4"], body["exp_month"], body["exp_year"]) == ("visa", "4242", 12,
                                                                                   NEXT_YEAR)
    assert APPROVED not in body["token"]


@pytest.mark.parametrize(("bad_card", "field"), [
    (card("4242424242424241"), "card_number"),                        # fails the Luhn check
    (card("4242"), "card_number"),
    (card(exp_month=1, exp_year=date.today().year - 1), "exp_year"),  # expired
    (card(exp_month=13), "exp_month"),
    (card(cvc="12"), "cvc"),
    (card(cvc="12345"), "cvc"),
    (card(cvc="12a"), "cvc"),
])
def test_invalid_cards_are_refused_at_tokenize(api, bad_card, field):
    body = assert_problem(post(api, "/tokens", bad_card), 422, "invalid_card")
    assert field in body["errors"]


def test_a_refusal_never_repeats_the_card_number(api):
    response = post(api, "/tokens", card("4242424242424241"))
    assert b"4242424242424241" not in response.data


# Authorizations, by test card

@pytest.mark.parametrize(("number", "brand"), [(APPROVED, "visa"), (APPROVED_MASTERCARD, "mastercard")])
def test_approved_cards_are_authorized(api, number, brand):
    response = authorize(api, number, "120.50")
    assert response.status_code == 201
    payment = response.get_json()
    assert payment["status"] == "authorized"
    assert (payment["amount"], payment["currency"]) == ("120.50", "USD")
    assert (payment["captured_amount"], payment["refunded_amount"]) == ("0.00", "0.00")
    assert (payment["brand"], payment["last4"]) == (brand, number[-4:])


@pytest.mark.parametrize(("number", "code"), [(DECLINED, "card_declined"),
                                              (NO_FUNDS, "insufficient_funds")])
def test_declining_cards_answer_402_and_are_recorded_as_declined(api, number, code):
    body = assert_problem(authorize(api, number, key="declined-1"), 402, code)
    found = api.get("/operations/declined-1").get_json()["payment"]
    assert found["id"] == body["payment_id"]
    assert (found["status"], found["decline_code"]) == ("declined", code)


def test_the_processing_error_card_answers_503_on_every_attempt(api, payment_app):
    token = tokenize(api, PROCESSOR_DOWN)
    body = {"token": token, "amount": "120.00", "currency": "USD"}
    for key in ("same", "same", "other"):
        assert_problem(post(api, "/payments", body, key=key), 503, "processing_error")
    assert_problem(api.get("/operations/same"), 404, "operation_not_found")
    assert payments_in_db(payment_app) == 0


@pytest.mark.parametrize("amount", ["0", "-5.00", "1.005", "abc", None])
def test_an_amount_is_positive_with_at_most_two_decimals(api, amount):
    response = post(api, "/payments", {"token": tokenize(api), "amount": amount, "currency": "USD"})
    assert "amount" in assert_problem(response, 422, "validation_error")["errors"]


def test_an_unknown_token_is_refused(api):
    response = post(api, "/payments", {"token": "tok_nope", "amount": "1.00", "currency": "USD"})
    assert_problem(response, 422, "unknown_token")


# Idempotency

def test_same_key_and_body_replays_the_first_answer_with_one_effect(api, payment_app):
    body = {"token": tokenize(api), "amount": "120.00", "currency": "USD"}
    first = post(api, "/payments", body, key="k-1")
    again = post(api, "/payments", body, key="k-1")
    assert (again.status_code, again.data) == (first.status_code, first.data)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert payments_in_db(payment_app) == 1


def test_a_decline_replays_as_the_same_402(api):
    body = {"token": tokenize(api, DECLINED), "amount": "9.99", "currency": "USD"}
    first = post(api, "/payments", body, key="k-2")
    again = post(api, "/payments", body, key="k-2")
    assert (again.status_code, again.data) == (402, first.data)


def test_same_key_with_another_body_is_refused(api, payment_app):
    token = tokenize(api)
    post(api, "/payments", {"token": token, "amount": "120.00", "currency": "USD"}, key="k-3")
    response = post(api, "/payments", {"token": token, "amount": "99.00", "currency": "USD"}, key="k-3")
    assert_problem(response, 422, "idempotency_key_reused")
    assert payments_in_db(payment_app) == 1


def test_same_key_on_another_endpoint_is_refused(api):
    payment_id = authorized(api)
    post(api, f"/payments/{payment_id}/void", key="k-4")
    assert_problem(post(api, f"/payments/{payment_id}/capture", key="k-4"), 422, "idempotency_key_reused")


def test_a_tokenize_replay_returns_the_same_token(api):
    first = post(api, "/tokens", card(), key="k-5")
    assert post(api, "/tokens", card(), key="k-5").get_json() == first.get_json()
    assert_problem(post(api, "/tokens", card(APPROVED_MASTERCARD), key="k-5"), 422, "idempotency_key_reused")


def test_every_write_needs_a_key(api):
    assert_problem(api.post("/tokens", json=card()), 400, "idempotency_key_missing")
    assert_problem(api.post("/payments/x/void", headers={"Idempotency-Key": ""}), 400,
                   "idempotency_key_missing")


def test_a_refused_write_records_nothing_so_its_key_may_be_used_again(api):
    payment_id = authorized(api)
    assert_problem(post(api, f"/payments/{payment_id}/capture", {"amount": "500.00"}, key="k-6"), 422,
                   "amount_too_large")
    assert post(api, f"/payments/{payment_id}/capture", {"amount": "100.00"}, key="k-6").status_code == 200


# Void, capture, refund

def test_capture_takes_at_most_the_authorized_amount(api):
    payment_id = authorized(api, "120.00")
    assert_problem(post(api, f"/payments/{payment_id}/capture", {"amount": "120.01"}), 422,
                   "amount_too_large")
    captured = post(api, f"/payments/{payment_id}/capture", {"amount": "100.00"}).get_json()
    assert (captured["status"], captured["captured_amount"]) == ("captured", "100.00")


def test_capture_without_amount_takes_all_of_it(api):
    payment_id = authorized(api, "120.00")
    assert post(api, f"/payments/{payment_id}/capture").get_json()["captured_amount"] == "120.00"


def test_capture_happens_once(api):
    payment_id = authorized(api)
    post(api, f"/payments/{payment_id}/capture", {"amount": "10.00"})
    assert_problem(post(api, f"/payments/{payment_id}/capture", {"amount": "10.00"}), 409, "invalid_state")


def test_capture_after_void_is_refused(api):
    payment_id = authorized(api)
    assert post(api, f"/payments/{payment_id}/void").get_json()["status"] == "voided"
    body = assert_problem(post(api, f"/payments/{payment_id}/capture", {"amount": "1.00"}), 409,
                          "invalid_state")
    assert body["payment_status"] == "voided"


def test_voiding_twice_is_harmless(api):
    payment_id = authorized(api)
    first = post(api, f"/payments/{payment_id}/void")
    second = post(api, f"/payments/{payment_id}/void")
    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json()["status"] == "voided"


def test_voiding_a_declined_payment_is_harmless(api):
    payment_id = authorize(api, DECLINED).get_json()["payment_id"]
    response = post(api, f"/payments/{payment_id}/void")
    assert (response.status_code, response.get_json()["status"]) == (200, "declined")


def test_voiding_an_unknown_payment_is_404(api):
    assert_problem(post(api, "/payments/no-such-payment/void"), 404, "payment_not_found")


def test_a_captured_payment_cannot_be_voided(api):
    payment_id = authorized(api)
    post(api, f"/payments/{payment_id}/capture")
    assert_problem(post(api, f"/payments/{payment_id}/void"), 409, "invalid_state")


def test_refund_only_after_capture(api):
    payment_id = authorized(api)
    assert_problem(post(api, f"/payments/{payment_id}/refund", {"amount": "1.00"}), 409, "invalid_state")
    post(api, f"/payments/{payment_id}/capture", {"amount": "100.00"})
    refunded = post(api, f"/payments/{payment_id}/refund").get_json()
    assert (refunded["status"], refunded["refunded_amount"]) == ("refunded", "100.00")
    assert_problem(post(api, f"/payments/{payment_id}/refund", {"amount": "1.00"}), 409, "invalid_state")


def test_partial_refunds_up_to_what_was_captured(api):
    payment_id = authorized(api)
    post(api, f"/payments/{payment_id}/capture", {"amount": "100.00"})
    part = post(api, f"/payments/{payment_id}/refund", {"amount": "40.00"}).get_json()
    assert (part["status"], part["refunded_amount"]) == ("captured", "40.00")
    assert_problem(post(api, f"/payments/{payment_id}/refund", {"amount": "60.01"}), 422, "amount_too_large")
    rest = post(api, f"/payments/{payment_id}/refund", {"amount": "60.00"}).get_json()
    assert (rest["status"], rest["refunded_amount"]) == ("refunded", "100.00")


# Reads

def test_lookup_by_key_shows_the_payment_as_it_is_now(api):
    payment_id = authorize(api, key="booking-1/authorize").get_json()["id"]
    post(api, f"/payments/{payment_id}/void")
    found = api.get("/operations/booking-1%2Fauthorize")
    assert found.status_code == 200
    body = found.get_json()
    assert (body["method"], body["path"], body["response_status"]) == ("POST", "/payments", 201)
    assert (body["payment"]["id"], body["payment"]["status"]) == (payment_id, "voided")


def test_lookup_of_a_key_never_used_is_404(api):
    assert_problem(api.get("/operations/never-used"), 404, "operation_not_found")


def test_get_a_payment(api):
    payment_id = authorized(api)
    assert api.get(f"/payments/{payment_id}").get_json()["status"] == "authorized"
    assert_problem(api.get("/payments/nope"), 404, "payment_not_found")


def test_health(api):
    assert api.get("/healthz").get_json() == {"status": "ok", "database": "ok"}


def test_unknown_routes_and_bad_bodies_are_problems_too(api):
    assert_problem(api.get("/nowhere"), 404, "not_found")
    assert_problem(api.delete("/payments"), 405, "method_not_allowed")
    response = api.post("/payments", data="{", content_type="application/json",
                        headers={"Idempotency-Key": "k-7"})
    assert_problem(response, 400, "bad_request")


# Cancel by key

def cancel(api, target_key, *, key=None):
    return post(api, f"/operations/{target_key}/cancel", key=key)


def test_cancelling_a_key_never_used_closes_it_to_a_later_authorize(api, payment_app):
    closed = cancel(api, "booking-1:authorize", key="booking-1:cancel")
    assert (closed.status_code, closed.get_json()) == (200, {"idempotency_key": "booking-1:authorize",
                                                             "payment": None})

    late = authorize(api, key="booking-1:authorize")
    assert "cancelled" in assert_problem(late, 409, "operation_cancelled")["detail"]
    assert payments_in_db(payment_app) == 0
    found = api.get("/operations/booking-1:authorize").get_json()
    assert (found["cancelled"], found["payment"], found["response_status"]) == (True, None, 409)


def test_cancelling_again_changes_nothing(api, payment_app):
    first = cancel(api, "booking-2:authorize", key="booking-2:cancel")
    replayed = cancel(api, "booking-2:authorize", key="booking-2:cancel")
    assert (replayed.data, replayed.headers["Idempotent-Replayed"]) == (first.data, "true")
    assert cancel(api, "booking-2:authorize").get_json()["payment"] is None  # under another key too
    assert_problem(authorize(api, key="booking-2:authorize"), 409, "operation_cancelled")


def test_cancelling_an_authorization_voids_it(api):
    body = {"token": tokenize(api), "amount": "120.00", "currency": "USD"}
    first = post(api, "/payments", body, key="booking-3:authorize")
    cancelled = cancel(api, "booking-3:authorize").get_json()
    assert (cancelled["payment"]["id"], cancelled["payment"]["status"]) == (first.get_json()["id"], "voided")
    assert api.get("/operations/booking-3:authorize").get_json()["cancelled"] is False
    # No tombstone here: the authorize under that key still replays its own first answer.
    again = post(api, "/payments", body, key="booking-3:authorize")
    assert (again.status_code, again.data) == (201, first.data)


def test_cancelling_a_capture_refunds_what_is_left(api):
    payment_id = authorize(api, key="booking-4:authorize").get_json()["id"]
    post(api, f"/payments/{payment_id}/capture", {"amount": "100.00"})
    post(api, f"/payments/{payment_id}/refund", {"amount": "30.00"})
    payment = cancel(api, "booking-4:authorize").get_json()["payment"]
    assert (payment["status"], payment["refunded_amount"]) == ("refunded", "100.00")
    assert cancel(api, "booking-4:authorize").get_json()["payment"]["status"] == "refunded"


def test_cancelling_a_decline_leaves_it_declined(api):
    authorize(api, DECLINED, key="booking-5:authorize")
    assert cancel(api, "booking-5:authorize").get_json()["payment"]["status"] == "declined"


def test_only_an_authorization_is_cancelled_by_its_key(api):
    post(api, "/tokens", card(), key="a-tokenize")
    body = assert_problem(cancel(api, "a-tokenize"), 409, "invalid_state")
    assert "POST /tokens" in body["detail"]
    assert_problem(cancel(api, "own-key", key="own-key"), 422, "idempotency_key_reused")


def elsewhere(request):
    """The answer of ``request()`` run on a thread of its own: its own app context, session, connection."""
    answers = []
    thread = threading.Thread(target=lambda: answers.append(request()))
    thread.start()
    thread.join(timeout=10)
    return answers[0]


def test_a_cancel_committed_while_the_authorize_runs_wins(api, payment_app, monkeypatch):
    """The tombstone and the authorization race for one key: the first to commit wins."""
    real_authorize = operations.authorize

    def cancelled_meanwhile(*args):
        other = elsewhere(lambda: cancel(payment_app.test_client(), "race-1"))
        assert (other.status_code, other.get_json()["payment"]) == (200, None)
        return real_authorize(*args)

    monkeypatch.setattr(operations, "authorize", cancelled_meanwhile)
    assert_problem(authorize(api, key="race-1"), 409, "operation_cancelled")
    assert payments_in_db(payment_app) == 0


def test_an_authorize_committed_while_the_cancel_runs_is_voided(api, payment_app, monkeypatch):
    token = tokenize(api)
    body = {"token": token, "amount": "120.00", "currency": "USD"}
    real_target, authorized_meanwhile = idempotency.cancel_target, []

    def authorize_meanwhile(*args, **kwargs):
        found = real_target(*args, **kwargs)  # nothing yet: a tombstone is on its way in
        if not authorized_meanwhile:
            authorized_meanwhile.append(elsewhere(
                lambda: post(payment_app.test_client(), "/payments", body, key="race-2")))
        return found

    monkeypatch.setattr(idempotency, "cancel_target", authorize_meanwhile)
    cancelled = cancel(api, "race-2").get_json()
    assert authorized_meanwhile[0].status_code == 201
    assert (cancelled["payment"]["id"], cancelled["payment"]["status"]) == (
        authorized_meanwhile[0].get_json()["id"], "voided")
    assert api.get("/operations/race-2").get_json()["payment"]["status"] == "voided"


@pytest.mark.parametrize("path", ["/payments", "/payments/{id}/capture", "/payments/{id}/refund"])
def test_an_amount_too_large_to_have_cents_is_422_not_500(api, path):
    """Found by tests/fuzz/test_participant_fuzz.py: quantizing 1e308 to cents raised InvalidOperation."""
    payment_id = authorized(api)
    body = {"amount": 1.7976931348623157e308}
    if path == "/payments":
        body = {**body, "token": tokenize(api), "currency": "USD"}
    response = post(api, path.format(id=payment_id), body)
    assert_problem(response, 422, "validation_error")
