"""The payment gateway's verbs: tokenize, authorize, void, capture, refund, cancel. Callers commit."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from decimal import Decimal

from app.models.types import new_uuid
from app.participants import transitions
from app.participants.payment.cards import Outcome, brand_of, is_expired, outcome_of
from app.participants.payment.models import CardToken, Payment, PaymentStatus, db
from app.participants.web import ServiceError

log = logging.getLogger(__name__)


def tokenize(number: str, exp_month: int, exp_year: int) -> CardToken:
    """Swaps a valid card number for an opaque token; the number itself is dropped here."""
    card = CardToken(
        token="tok_" + secrets.token_urlsafe(18),
        brand=brand_of(number),
        last4=number[-4:],
        exp_month=exp_month,
        exp_year=exp_year,
        outcome=outcome_of(number),
    )
    db.session.add(card)
    db.session.flush()
    log.info("card tokenized: %s ending %s, expires %02d/%d", card.brand, card.last4, exp_month, exp_year)
    return card


def authorize(token: str, amount: Decimal, currency: str) -> Payment:
    """Reserves ``amount`` on the card; a declined attempt is recorded too, as ``declined``."""
    card = db.session.get(CardToken, token)
    if card is None:
        raise ServiceError(422, "unknown_token", "No card was tokenized under this token.")
    if is_expired(card.exp_month, card.exp_year):
        raise ServiceError(422, "invalid_card", "The card has expired.")
    if card.outcome == Outcome.PROCESSING_ERROR:
        log.warning("authorization of %s %s on card ending %s failed: processing error",
                    amount, currency, card.last4)
        raise ServiceError(503, "processing_error", "The card processor failed to answer; try again.")
    payment = Payment(
        id=new_uuid(), token=token, amount=amount, currency=currency,
        captured_amount=Decimal("0.00"), refunded_amount=Decimal("0.00"),
    )
    if card.outcome == Outcome.APPROVE:
        payment.status = PaymentStatus.AUTHORIZED
    else:
        payment.status, payment.decline_code = PaymentStatus.DECLINED, str(card.outcome)
    db.session.add(payment)
    db.session.flush()
    log.info("payment %s %s: %s %s on %s ending %s%s", payment.id, payment.status, amount, currency,
             card.brand, card.last4, f" ({payment.decline_code})" if payment.decline_code else "")
    return payment


def find(payment_id: str) -> Payment:
    payment = db.session.get(Payment, payment_id)
    if payment is None:
        raise ServiceError(404, "payment_not_found", f"No payment {payment_id}.")
    return payment


def void(payment_id: str) -> Payment:
    """Releases an uncaptured authorization; a payment with nothing to release is left as it is."""
    def decide(payment: Payment) -> dict | None:
        if payment.status in (PaymentStatus.VOIDED, PaymentStatus.DECLINED):
            return None
        _require(payment, PaymentStatus.AUTHORIZED, "void")
        return {"status": PaymentStatus.VOIDED}

    return _change(payment_id, decide)


def capture(payment_id: str, amount: Decimal | None) -> Payment:
    """Takes up to the authorized amount, once; the rest of the authorization is released."""
    def decide(payment: Payment) -> dict:
        _require(payment, PaymentStatus.AUTHORIZED, "capture")
        taken = payment.amount if amount is None else amount
        if taken > payment.amount:
            raise ServiceError(422, "amount_too_large",
                               f"Cannot capture {taken}: only {payment.amount} was authorized.")
        return {"status": PaymentStatus.CAPTURED, "captured_amount": taken}

    return _change(payment_id, decide)


def refund(payment_id: str, amount: Decimal | None) -> Payment:
    """Returns captured money, all at once or in parts; ``refunded`` once nothing is left."""
    def decide(payment: Payment) -> dict:
        _require(payment, PaymentStatus.CAPTURED, "refund")
        remaining = payment.captured_amount - payment.refunded_amount
        given = remaining if amount is None else amount
        if given > remaining:
            raise ServiceError(422, "amount_too_large", f"Cannot refund {given}: only {remaining} is left.")
        refunded = payment.refunded_amount + given
        status = PaymentStatus.REFUNDED if refunded == payment.captured_amount else PaymentStatus.CAPTURED
        return {"status": status, "refunded_amount": refunded}

    return _change(payment_id, decide)


def cancel(payment_id: str) -> Payment:
    """Undoes an authorization whatever became of it: voids it, or refunds all that was captured."""
    def decide(payment: Payment) -> dict | None:
        if payment.status == PaymentStatus.AUTHORIZED:
            return {"status": PaymentStatus.VOIDED}
        if payment.status == PaymentStatus.CAPTURED:
            return {"status": PaymentStatus.REFUNDED, "refunded_amount": payment.captured_amount}
        return None  # voided, declined or refunded: no money is held or taken

    return _change(payment_id, decide)


def _change(payment_id: str, decide: Callable[[Payment], dict | None]) -> Payment:
    payment = find(payment_id)
    # Refunds are decided from the amount already refunded: two partial refunds must not lose one.
    before = transitions.change(db, payment, decide, also_guarded=("refunded_amount",))
    if before is not None:
        log.info("payment %s %s -> %s (captured %s, refunded %s)", payment.id, before, payment.status,
                 payment.captured_amount, payment.refunded_amount)
    return payment


def _require(payment: Payment, status: PaymentStatus, verb: str) -> None:
    if payment.status != status:
        raise ServiceError(409, "invalid_state", f"Cannot {verb} a payment that is {payment.status}.",
                           payment_status=payment.status)
