"""Redaction of card numbers and bearer tokens from log records: defence in depth.

No code should ever log a card number or a token; this filter catches the line that does anyway
(an exception message quoting a request, a library's debug output) before it leaves the process.
"""

from __future__ import annotations

import logging
import re

PAN_MARK = "[card redacted]"
TOKEN_MARK = "Bearer [redacted]"

# 13 to 19 digits, optionally grouped by single spaces or dashes ("4242 4242 4242 4242"), standing
# alone: not inside a word or a longer number, not the decimals of a number ("in 0.0030966909998824s").
_PAN_CANDIDATE = re.compile(r"(?<![\w.])\d(?:[ -]?\d){12,18}(?!\w|\.\d)")
_BEARER = re.compile(r"\bBearer\s+[A-Za-z0-9\-._~+/]+=*", re.IGNORECASE)

# Attributes every LogRecord has; anything else on a record came from `extra=` or a filter.
STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every real card number passes."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if position % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def _mask_pan(match: re.Match) -> str:
    digits = match.group().replace(" ", "").replace("-", "")
    return PAN_MARK if luhn_valid(digits) else match.group()


def redact(text: str) -> str:
    """`text` with every Luhn-valid 13-19 digit run and every bearer token masked."""
    return _BEARER.sub(TOKEN_MARK, _PAN_CANDIDATE.sub(_mask_pan, text))


def redact_value(value: object) -> object:
    """`value` with its strings redacted, looking inside dicts, lists and tuples."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


class RedactFilter(logging.Filter):
    """Masks card numbers and bearer tokens in a record's message, extras and traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info:
            # Formatted once here and kept, redacted, as exc_text, which every formatter prints
            # when exc_info is gone.
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text), None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in STANDARD_ATTRS:
                setattr(record, name, redact_value(value))
        return True
