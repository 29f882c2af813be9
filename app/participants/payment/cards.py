"""Card numbers: Luhn check, brand, expiry, and what the test cards make the gateway do."""

from __future__ import annotations

from datetime import date
from enum import StrEnum


class Outcome(StrEnum):
    """What an authorization against a card does (SPEC §6); any other valid card is approved."""

    APPROVE = "approve"
    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    PROCESSING_ERROR = "processing_error"


TEST_CARD_OUTCOMES = {
    "4242424242424242": Outcome.APPROVE,
    "5555555555554444": Outcome.APPROVE,
    "4000000000000002": Outcome.CARD_DECLINED,
    "4000000000009995": Outcome.INSUFFICIENT_FUNDS,
    "4000000000000119": Outcome.PROCESSING_ERROR,
}


def normalize(number: str) -> str:
    """The digits of a card number as people type it (spaces and dashes allowed)."""
    return number.replace(" ", "").replace("-", "")


def luhn_ok(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for position, char in enumerate(reversed(number)):
        digit = int(char)
        if position % 2 == 1:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def brand_of(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if 51 <= int(number[:2]) <= 55 or 2221 <= int(number[:4]) <= 2720:
        return "mastercard"
    if number[:2] in ("34", "37"):
        return "amex"
    if number.startswith(("6011", "65")):
        return "discover"
    return "unknown"


def is_expired(exp_month: int, exp_year: int, today: date | None = None) -> bool:
    """A card is good through the last day of its expiry month."""
    today = today or date.today()
    return (exp_year, exp_month) < (today.year, today.month)


def cvc_ok(cvc: str) -> bool:
    return cvc.isdigit() and len(cvc) in (3, 4)


def outcome_of(number: str) -> Outcome:
    return TEST_CARD_OUTCOMES.get(number, Outcome.APPROVE)
