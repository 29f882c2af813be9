"""PCI DSS: no full card number and no CVC in the services' databases or in any log line."""

import logging
import re
from datetime import date
from decimal import Decimal

import pytest

from app.errors import SagaError

# Each card with a CVC of its own, so a leak can be traced to the card it came from.
CARDS = {
    "4242424242424242": "7391",
    "5555555555554444": "8264",
    "4000000000000002": "6153",
    "4000000000009995": "9482",
    "4000000000000119": "5837",
}


def leaks(text: str) -> list[str]:
    """Card numbers, CVC values standing alone, or the very word "cvc", found in ``text``."""
    found = [number for number in CARDS if number in text]
    found += [cvc for cvc in CARDS.values() if re.search(rf"(?<![\w.-]){cvc}(?![\w.-])", text)]
    found += re.findall(r"(?i)cvc", text)
    return found


def test_no_card_number_or_cvc_is_stored_or_logged(participants, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    payment, loyalty = participants.payment, participants.loyalty
    for n, (number, cvc) in enumerate(CARDS.items()):
        token = payment.tokenize(number, 12, date.today().year + 2, cvc)
        try:
            authorized = payment.authorize(token.token, Decimal("120.00"), "USD", idempotency_key=f"auth-{n}")
        except SagaError:
            continue  # declines and the processing error: recorded or not, their traces are checked below
        payment.capture(authorized.id, Decimal("100.00"), idempotency_key=f"capture-{n}")
        payment.refund(authorized.id, Decimal("100.00"), idempotency_key=f"refund-{n}")
        loyalty.create_award(str(n), 300, reference=f"booking-{n}", idempotency_key=f"award-{n}")
    with pytest.raises(SagaError):
        payment.tokenize("4242424242424241", 12, date.today().year + 2, "7391")  # refused: Luhn

    databases = sorted(tmp_path.glob("*.db*"))
    assert {path.name for path in databases} >= {"payment.db", "loyalty.db"}
    for path in databases:
        assert leaks(path.read_bytes().decode("latin-1")) == [], path.name
    # The logs did record the payments, by brand and last 4 only.
    assert "ending 4242" in caplog.text and "ending 0119" in caplog.text
    assert leaks(caplog.text) == []
