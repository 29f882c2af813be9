"""The payment service's HTTP endpoints (docs/participants.md): parse, call an operation, answer."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, Response

from app.participants.idempotency import Answer, KeyedResource, idempotent, require_key_on_writes
from app.participants.payment import operations
from app.participants.payment.models import IdempotencyRecord, PaymentStatus, db
from app.participants.payment.openapi import DOCUMENT
from app.participants.payment.schemas import (
    AmountRequest,
    AuthorizeRequest,
    TokenRequest,
    payment_json,
    token_json,
)
from app.participants.trust import public, requires
from app.participants.web import health, json_response, load_body, problem_body, raw_body

bp = Blueprint("payment", __name__)
bp.before_request(require_key_on_writes)
# A cancel by key voids the authorization, or refunds it once captured.
PAYMENTS = KeyedResource(db, IdempotencyRecord, "payment", "/payments", operations.find, operations.cancel,
                         payment_json)


@bp.get("/healthz")
@public
def healthz() -> Response:
    return health(db)


@bp.get("/openapi.json")
@public
def openapi() -> Response:
    return json_response(200, DOCUMENT)


@bp.post("/tokens")
@requires("tokenize")
def create_token() -> Response:
    card = load_body(TokenRequest(), code="invalid_card", detail="The card is not valid.")
    # The number and CVC are checked and dropped, not even a keyed hash of them is kept: with the
    # last 4 stored and an issuer prefix guessed, a number has only ~10^5 candidates to try.
    fingerprinted = {"last4": card["card_number"][-4:], "exp_month": card["exp_month"],
                     "exp_year": card["exp_year"]}

    def run() -> Answer:
        token = operations.tokenize(card["card_number"], card["exp_month"], card["exp_year"])
        return Answer(201, token_json(token))

    return idempotent(db, IdempotencyRecord, run, fingerprinted=fingerprinted)


@bp.post("/payments")
@requires("authorize")
def authorize() -> Response:
    data = load_body(AuthorizeRequest())

    def run() -> Answer:
        payment = operations.authorize(data["token"], data["amount"], data["currency"])
        if payment.status == PaymentStatus.DECLINED:
            detail = "The card was declined." if payment.decline_code == "card_declined" \
                else "The card has insufficient funds."
            body = problem_body(402, payment.decline_code, detail, payment_id=payment.id)
            return Answer(402, body, payment.id)
        return Answer(201, payment_json(payment), payment.id)

    return idempotent(db, IdempotencyRecord, run, fingerprinted=raw_body())


@bp.get("/payments/<payment_id>")
@requires("read")
def get_payment(payment_id: str) -> Response:
    return json_response(200, payment_json(operations.find(payment_id)))


@bp.post("/payments/<payment_id>/void")
@requires("void")
def void(payment_id: str) -> Response:
    return PAYMENTS.change(lambda: operations.void(payment_id))


@bp.post("/payments/<payment_id>/capture")
@requires("capture")
def capture(payment_id: str) -> Response:
    amount = _optional_amount()
    return PAYMENTS.change(lambda: operations.capture(payment_id, amount))


@bp.post("/payments/<payment_id>/refund")
@requires("refund")
def refund(payment_id: str) -> Response:
    amount = _optional_amount()
    return PAYMENTS.change(lambda: operations.refund(payment_id, amount))


@bp.get("/operations/<path:key>")
@requires("read")
def lookup(key: str) -> Response:
    return PAYMENTS.lookup(key)


@bp.post("/operations/<path:key>/cancel")
@requires("cancel")
def cancel_operation(key: str) -> Response:
    """Voids (or refunds) the authorization made under ``key``; if none was, none ever will be."""
    return PAYMENTS.cancel(key)


def _optional_amount() -> Decimal | None:
    """The ``amount`` of a capture or refund; no body, or no amount, means all there is."""
    return load_body(AmountRequest(), optional=True).get("amount")

