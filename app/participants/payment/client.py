"""HTTP client of the payment service: what the booking service knows of payments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from app.errors import CardDeclined, InsufficientFunds, InvalidCard, PaymentUnavailable
from app.participants.service_client import ServiceClient, segment


@dataclass(frozen=True)
class CardToken:
    token: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


@dataclass(frozen=True)
class Payment:
    id: str
    status: str  # "authorized" | "voided" | "captured" | "refunded" | "declined"
    amount: Decimal
    currency: str
    captured_amount: Decimal
    refunded_amount: Decimal
    decline_code: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> Payment:
        return cls(
            id=body["id"],
            status=body["status"],
            amount=Decimal(body["amount"]),
            currency=body["currency"],
            captured_amount=Decimal(body["captured_amount"]),
            refunded_amount=Decimal(body["refunded_amount"]),
            decline_code=body.get("decline_code"),
        )


class PaymentClient(ServiceClient):
    """Raises CardDeclined, InsufficientFunds, InvalidCard, PaymentUnavailable, OperationCancelled or
    ParticipantRejected."""

    unavailable = PaymentUnavailable
    refusals = {
        **ServiceClient.refusals,
        "card_declined": CardDeclined,
        "insufficient_funds": InsufficientFunds,
        "invalid_card": InvalidCard,
    }

    def tokenize(self, card_number: str, exp_month: int, exp_year: int, cvc: str) -> CardToken:
        """Swaps a card for a token; the number and CVC go no further than this request."""
        body = {"card_number": card_number, "exp_month": exp_month, "exp_year": exp_year, "cvc": cvc}
        # A fresh key: nothing retries a tokenization, and a second token for one card is harmless.
        answer = self._call("POST", "/tokens", body=body, idempotency_key=f"tokenize-{uuid.uuid4()}")
        return CardToken(token=answer["token"], brand=answer["brand"], last4=answer["last4"],
                         exp_month=answer["exp_month"], exp_year=answer["exp_year"])

    def authorize(self, token: str, amount: Decimal, currency: str, *, idempotency_key: str) -> Payment:
        body = {"token": token, "amount": str(amount), "currency": currency}
        return Payment.from_json(self._call("POST", "/payments", body=body, idempotency_key=idempotency_key))

    def lookup(self, idempotency_key: str) -> Payment | None:
        """What an authorize under this key produced (as it is now); None if nothing was recorded."""
        found = self._operation(idempotency_key, "payment")
        return Payment.from_json(found) if found else None

    def cancel_authorization(self, authorize_key: str, *, idempotency_key: str) -> Payment | None:
        """Voids the authorization made under ``authorize_key``, or refunds it if captured; None when
        there was none, and then there never will be: a late authorize under that key is refused."""
        found = self._cancel(authorize_key, "payment", idempotency_key)
        return Payment.from_json(found) if found else None

    def void(self, payment_id: str, *, idempotency_key: str) -> Payment:
        return self._change(payment_id, "void", None, idempotency_key)

    def capture(self, payment_id: str, amount: Decimal, *, idempotency_key: str) -> Payment:
        return self._change(payment_id, "capture", amount, idempotency_key)

    def refund(self, payment_id: str, amount: Decimal, *, idempotency_key: str) -> Payment:
        return self._change(payment_id, "refund", amount, idempotency_key)

    def _change(self, payment_id: str, verb: str, amount: Decimal | None, idempotency_key: str) -> Payment:
        body = {"amount": str(amount)} if amount is not None else {}
        answer = self._call("POST", f"/payments/{segment(payment_id)}/{verb}", body=body,
                            idempotency_key=idempotency_key)
        return Payment.from_json(answer)
