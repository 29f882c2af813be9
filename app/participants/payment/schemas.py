"""Request bodies of the payment service, and the JSON shape of what it answers."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from marshmallow import Schema, ValidationError, fields, pre_load, validate, validates_schema

from app.models.types import CENT
from app.participants.payment.cards import cvc_ok, is_expired, luhn_ok, normalize
from app.participants.payment.models import CardToken, Payment

MAX_AMOUNT = Decimal("1000000.00")


def _cents(value: Decimal) -> None:
    try:
        exact = value == value.quantize(CENT)
    except InvalidOperation:  # too many digits to have cents (1e308): out of range anyway, not a 500
        exact = False
    if not exact:
        raise ValidationError("At most two decimal places.")


def _luhn(number: str) -> None:
    # Messages never repeat the number back: answers and logs must not carry it.
    if not luhn_ok(number):
        raise ValidationError("Not a valid card number.")


def _cvc(cvc: str) -> None:
    if not cvc_ok(cvc):
        raise ValidationError("The CVC is 3 or 4 digits.")


def _amount(**kwargs: object) -> fields.Decimal:
    return fields.Decimal(validate=[validate.Range(min=Decimal("0.01"), max=MAX_AMOUNT), _cents], **kwargs)


class TokenRequest(Schema):
    card_number = fields.String(required=True, validate=_luhn)
    exp_month = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=12))
    exp_year = fields.Integer(required=True, strict=True, validate=validate.Range(min=2000, max=2100))
    cvc = fields.String(required=True, validate=_cvc)

    @pre_load
    def _digits_only(self, data: dict, **kwargs: object) -> dict:
        if isinstance(data.get("card_number"), str):
            data = {**data, "card_number": normalize(data["card_number"])}
        return data

    @validates_schema(skip_on_field_errors=True)
    def _not_expired(self, data: dict, **kwargs: object) -> None:
        if is_expired(data["exp_month"], data["exp_year"]):
            raise ValidationError("The card has expired.", "exp_year")


class AuthorizeRequest(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=64))
    amount = _amount(required=True)
    currency = fields.String(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))


class AmountRequest(Schema):
    """Capture or refund; without ``amount``, all that is left."""

    amount = _amount()


def money(value: Decimal) -> str:
    return str(Decimal(value).quantize(CENT))


def token_json(card: CardToken) -> dict:
    return {"token": card.token, "brand": card.brand, "last4": card.last4,
            "exp_month": card.exp_month, "exp_year": card.exp_year}


def payment_json(payment: Payment) -> dict:
    return {
        "id": payment.id,
        "status": str(payment.status),
        "amount": money(payment.amount),
        "currency": payment.currency,
        "captured_amount": money(payment.captured_amount),
        "refunded_amount": money(payment.refunded_amount),
        "decline_code": payment.decline_code,
        "brand": payment.card.brand,
        "last4": payment.card.last4,
        "created_at": payment.created_at.isoformat(),
        "updated_at": payment.updated_at.isoformat(),
    }
