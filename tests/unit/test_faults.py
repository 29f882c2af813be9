"""The named faults of tests/faults.py do to a participant call what their names say."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.errors import PaymentUnavailable
from tests.conftest import APPROVED

NEXT_YEAR = 2031


@pytest.fixture
def token(participants) -> str:
    return participants.payment.tokenize(APPROVED, 12, NEXT_YEAR, "123").token


def authorize(participants, token: str, key: str):
    return participants.payment.authorize(token, Decimal("10.00"), "USD", idempotency_key=key)


def test_fail_before_does_nothing(participants, faults, token):
    faults.fail_before("payment", "POST", "^/payments$", times=1)
    with pytest.raises(PaymentUnavailable):
        authorize(participants, token, "k-1")
    assert participants.payment.lookup("k-1") is None
    assert authorize(participants, token, "k-1").status == "authorized"  # used up


def test_fail_after_does_the_work_and_loses_the_answer(participants, faults, token):
    faults.fail_after("payment", "POST", "^/payments$")
    with pytest.raises(PaymentUnavailable, match="timed out"):
        authorize(participants, token, "k-2")
    assert participants.payment.lookup("k-2").status == "authorized"


def test_answer_late_runs_its_sequel_between_the_work_and_the_answer(participants, faults, token):
    seen = []
    faults.answer_late("payment", "POST", "^/payments$", then=lambda: seen.append(
        participants.payment.lookup("k-3").status))
    assert authorize(participants, token, "k-3").status == "authorized"
    assert seen == ["authorized"]


def test_answer_twice_delivers_a_duplicate_the_key_absorbs(participants, faults, token):
    faults.answer_twice("payment", "POST", "^/payments$")
    first = authorize(participants, token, "k-4")
    faults.clear()
    assert authorize(participants, token, "k-4") == first
