"""What a new password must be: long enough without its surrounding spaces, and not a common one.

The list of common passwords ships with the app (app/data/common_passwords.txt): no network call
and no extra dependency at sign-up. It stops the first guesses of a credential-stuffing or
spraying run, which the login rate limits then slow down.
"""

from __future__ import annotations

from pathlib import Path

from marshmallow import ValidationError

MIN_PASSWORD = 8
LIST = Path(__file__).resolve().parent / "data" / "common_passwords.txt"


def _load(path: Path) -> frozenset[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return frozenset(line for line in lines if line and not line.startswith("#"))


COMMON_PASSWORDS = _load(LIST)


def acceptable_password(password: str) -> None:
    """A marshmallow validator: refuse blank, short (without spaces around it) and common passwords."""
    core = password.strip()
    if not core:
        raise ValidationError("Must not be only spaces.")
    if len(core) < MIN_PASSWORD:
        raise ValidationError(f"Must have at least {MIN_PASSWORD} characters besides spaces around them.")
    if core.lower() in COMMON_PASSWORDS:
        raise ValidationError("This password is among the most common ones; choose another.")
