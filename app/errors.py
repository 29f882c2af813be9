"""The project's exception tree.

Saga steps raise these; the task layer decides from the branch whether to retry or compensate,
and the API layer turns them into problem+json answers.

    SagaError
    ├── BusinessError            permanent: compensate at once; ``reason`` is the saga failure reason
    │   ├── SeatUnavailable      seat_unavailable
    │   ├── HoldExpired          hold_expired
    │   ├── CardDeclined         card_declined
    │   ├── InsufficientFunds    insufficient_funds
    │   ├── InvalidCard          invalid_card
    │   └── ParticipantRejected  internal_error (any other 4xx from a participant: a bug, not an outage)
    └── TransientError           retry with backoff, then fail with ``reason``
        ├── PaymentUnavailable   payment_unavailable (timeout, connection error, 5xx)
        └── LoyaltyUnavailable   loyalty_unavailable

Anything else a step raises is a bug; the saga fails with ``internal_error`` and compensates.
"""

from __future__ import annotations


class SagaError(Exception):
    """Base of every failure a saga step may report."""

    reason = "internal_error"

    def __init__(self, detail: str = "", **extra: object) -> None:
        super().__init__(detail or self.reason)
        self.detail = detail or self.reason
        self.extra = extra


class BusinessError(SagaError):
    """A refusal that will not change on retry."""


class SeatUnavailable(BusinessError):
    reason = "seat_unavailable"


class HoldExpired(BusinessError):
    reason = "hold_expired"


class CardDeclined(BusinessError):
    reason = "card_declined"


class InsufficientFunds(BusinessError):
    reason = "insufficient_funds"


class InvalidCard(BusinessError):
    reason = "invalid_card"


class ParticipantRejected(BusinessError):
    """A participant refused a request for a reason that is neither a decline nor an outage.

    Retrying cannot help (an unknown id, an invalid state, a reused idempotency key), so the saga
    compensates; ``status`` and ``code`` are the participant's HTTP status and problem code.
    """

    reason = "internal_error"

    def __init__(self, detail: str = "", *, status: int, code: str, **extra: object) -> None:
        super().__init__(detail, status=status, code=code, **extra)
        self.status = status
        self.code = code


class TransientError(SagaError):
    """A failure that may pass: timeouts, connection errors, 5xx, Redis or database hiccups."""


class PaymentUnavailable(TransientError):
    reason = "payment_unavailable"


class LoyaltyUnavailable(TransientError):
    reason = "loyalty_unavailable"


FAILURE_REASONS = (
    "seat_unavailable",
    "hold_expired",
    "card_declined",
    "insufficient_funds",
    "invalid_card",
    "payment_unavailable",
    "loyalty_unavailable",
    "internal_error",
)


def failure_reason(exc: BaseException) -> str:
    """The saga failure reason an exception stands for."""
    return exc.reason if isinstance(exc, SagaError) else "internal_error"
