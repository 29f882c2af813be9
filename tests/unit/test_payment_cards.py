from datetime import date

import pytest

from app.participants.payment.cards import (
    Outcome,
    brand_of,
    cvc_ok,
    is_expired,
    luhn_ok,
    normalize,
    outcome_of,
)

TEST_CARDS = ["4242424242424242", "5555555555554444", "4000000000000002", "4000000000009995",
              "4000000000000119"]


@pytest.mark.parametrize("number", TEST_CARDS)
def test_every_test_card_passes_the_luhn_check(number):
    assert luhn_ok(number)


@pytest.mark.parametrize("number", [
    "4242424242424241",  # last digit off by one
    "4242424242424224",  # two digits swapped
    "424242424242424a",
    "42424242424",       # too short
    "",
])
def test_numbers_failing_the_luhn_check_or_the_format(number):
    assert not luhn_ok(number)


def test_spaces_and_dashes_are_dropped():
    assert normalize("4242 4242-4242 4242") == "4242424242424242"


@pytest.mark.parametrize(("number", "brand"), [
    ("4242424242424242", "visa"),
    ("5555555555554444", "mastercard"),
    ("2223003122003222", "mastercard"),
    ("378282246310005", "amex"),
    ("6011111111111117", "discover"),
    ("3056930009020004", "unknown"),
])
def test_brand_from_the_leading_digits(number, brand):
    assert brand_of(number) == brand


def test_a_card_is_good_through_the_end_of_its_expiry_month():
    today = date(2026, 11, 29)
    assert not is_expired(11, 2026, today)
    assert not is_expired(1, 2027, today)
    assert is_expired(10, 2026, today)
    assert is_expired(12, 2025, today)


@pytest.mark.parametrize(("cvc", "ok"), [("123", True), ("1234", True), ("12", False),
                                         ("12345", False), ("12a", False), ("", False)])
def test_cvc_is_three_or_four_digits(cvc, ok):
    assert cvc_ok(cvc) is ok


@pytest.mark.parametrize(("number", "outcome"), [
    ("4242424242424242", Outcome.APPROVE),
    ("5555555555554444", Outcome.APPROVE),
    ("4000000000000002", Outcome.CARD_DECLINED),
    ("4000000000009995", Outcome.INSUFFICIENT_FUNDS),
    ("4000000000000119", Outcome.PROCESSING_ERROR),
    ("4111111111111111", Outcome.APPROVE),  # any other valid card
])
def test_what_each_test_card_makes_the_gateway_do(number, outcome):
    assert outcome_of(number) == outcome
