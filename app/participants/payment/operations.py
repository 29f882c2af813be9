"""The payment gateway's verbs: tokenize, authorize, void, capture, refund. Callers commit."""

from __future__ import annotations

import logging
import secrets
from decimal import Decimal

from app.models.types import new_uuid
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


def find(payment_id: str, *, for_update: bool = False) -> Payment:
    query = db.select(Payment).filter_by(id=payment_id)
    payment = db.session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if payment is None:
        raise ServiceError(404, "payment_not_found", f"No payment {payment_id}.")
    return payment


def void(payment: Payment) -> Payment:
    """Releases an uncaptured authorization; a payment with nothing to release is left as it is."""
    if payment.status in (PaymentStatus.VOIDED, PaymentStatus.DECLINED):
        return payment
    _require(payment, PaymentStatus.AUTHORIZED, "void")
    _transition(payment, PaymentStatus.VOIDED)
    return payment


def capture(payment: Payment, amount: Decimal | None) -> Payment:
    """Takes up to the authorized amount, once; the rest of the authorization is released."""
    _require(payment, PaymentStatus.AUTHORIZED, "capture")
    amount = payment.amount if amount is None else amount
    if amount > payment.amount:
        raise ServiceError(422, "amount_too_large",
                           f"Cannot capture {amount}: only {payment.amount} was authorized.")
    payment.captured_amount = amount
    _transition(payment, PaymentStatus.CAPTURED)
    return payment


def refund(payment: Payment, amount: Decimal | None) -> Payment:
    """Returns captured money, all at once or in parts; ``refunded`` once nothing is left."""
    _require(payment, PaymentStatus.CAPTURED, "refund")
    remaining = payment.captured_amount - payment.refunded_amount
    amount = remaining if amount is None else amount
    if amount > remaining:
        raise ServiceError(422, "amount_too_large", f"Cannot refund {amount}: only {remaining} is left.")
    payment.refunded_amount += amount
    if payment.refunded_amount == payment.captured_amount:
        _transition(payment, PaymentStatus.REFUNDED)
    else:
        log.info("payment %s partly refunded: %s of %s", payment.id, payment.refunded_amount,
                 payment.captured_amount)
    return payment


def _require(payment: Payment, status: PaymentStatus, verb: str) -> None:
    if payment.status != status:
        raise ServiceError(409, "invalid_state", f"Cannot {verb} a payment that is {payment.status}.",
                           payment_status=payment.status)


def _transition(payment: Payment, status: PaymentStatus) -> None:
    log.info("payment %s %s -> %s", payment.id, payment.status, status)
    payment.status = status
