"""The redaction filter: no card number or bearer token leaves a process in a log line."""

from __future__ import annotations

import io
import json
import logging

import pytest

from app.observability.logs import build_handler
from app.observability.redact import PAN_MARK, TOKEN_MARK, RedactFilter, luhn_valid, redact

TEST_CARDS = ["4242424242424242", "5555555555554444", "4000000000000002", "4000000000009995",
              "4000000000000119", "378282246310005", "6011111111111117", "4222222222222"]


@pytest.mark.parametrize("number", TEST_CARDS)
def test_card_numbers_pass_luhn_and_are_masked(number):
    assert luhn_valid(number)
    assert redact(f"card {number} declined") == f"card {PAN_MARK} declined"


@pytest.mark.parametrize("written", ["4242 4242 4242 4242", "4242-4242-4242-4242", "5555 5555 5555 4444"])
def test_grouped_card_numbers_are_masked(written):
    assert redact(f"number={written};") == f"number={PAN_MARK};"


@pytest.mark.parametrize("text", [
    "4242424242424241",                      # fails Luhn
    "424242424242",                          # 12 digits: too short for a card
    "42424242424242424242",                  # 20 digits: too long
    "saga 0d6c5a38-7d4e-4b7e-9a63-1c1b1c1f5e0a -> failed",
    "2026-11-29 08:37:51,123 took 1764405471 s",
    "seats 12A 12B, amount 1350.00, miles 3750",
    "Task saga.finish[6f1d] succeeded in 0.0030966909998821s: None",  # 16 decimals that pass Luhn
    "took 4242424242424242.5 ms",
    "token 9f1c4242424242424242e0a",          # inside a hex string
])
def test_other_numbers_are_left_alone(text):
    assert redact(text) == text


def test_bearer_tokens_are_masked_whatever_their_case():
    assert redact("Authorization: Bearer xMXXtfLej17MLeI-zmsS2tuq_vmICC") == f"Authorization: {TOKEN_MARK}"
    assert redact("bearer abc.def+ghi/jkl==, next") == f"{TOKEN_MARK}, next"


def record(msg: str, *args: object, exc_info=None, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("saga", logging.INFO, __file__, 1, msg, args or None, exc_info)
    for name, value in extra.items():
        setattr(made, name, value)
    return made


def test_the_filter_masks_the_message_its_arguments_and_the_extras():
    logged = record("paying with %s", "4242 4242 4242 4242", body={"card": "4000000000000002", "n": 3},
                    header="Bearer secret-token", attempt=1)
    assert RedactFilter().filter(logged) is True
    assert logged.getMessage() == f"paying with {PAN_MARK}"
    assert logged.body == {"card": PAN_MARK, "n": 3}
    assert logged.header == TOKEN_MARK
    assert logged.attempt == 1


def test_the_filter_masks_a_traceback():
    try:
        raise ValueError("bad card 4242424242424242")
    except ValueError:
        import sys

        logged = record("failed", exc_info=sys.exc_info())
    RedactFilter().filter(logged)
    assert logged.exc_info is None
    assert "ValueError: bad card " + PAN_MARK in logged.exc_text
    assert "4242424242424242" not in logging.Formatter().format(logged)


@pytest.mark.parametrize("fmt", ["json", "text"])
def test_nothing_written_by_our_handler_carries_a_card_number(fmt):
    stream = io.StringIO()
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(build_handler(fmt, stream))
    logger.setLevel(logging.INFO)  # whatever an earlier test left the root logger at
    logger.propagate = False
    try:
        logger.warning("card %s", "4000000000000002", extra={"echo": "4242 4242 4242 4242"})
        try:
            raise RuntimeError("Bearer abc123 with 5555555555554444")
        except RuntimeError:
            logger.exception("request failed")
    finally:
        logger.handlers.clear()
        logger.setLevel(logging.NOTSET)
        logger.propagate = True
    written = stream.getvalue()
    for secret in ("4000000000000002", "4242 4242 4242 4242", "5555555555554444", "abc123"):
        assert secret not in written
    assert written.count(PAN_MARK) >= 3  # the message, the extra, the exception (and its source line)
    if fmt == "json":
        lines = [json.loads(line) for line in written.splitlines() if line.startswith("{")]
        assert lines[1]["exc_info"].endswith(f"RuntimeError: {TOKEN_MARK} with {PAN_MARK}")
