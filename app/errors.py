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
    │       └── OperationCancelled   internal_error (a write under a key the saga had already cancelled)
    └── TransientError           retry with backoff, then fail with ``reason``
        ├── PaymentUnavailable   payment_unavailable (timeout, connection error, 5xx)
        ├── LoyaltyUnavailable   loyalty_unavailable
        ├── HoldStoreUnavailable internal_error (Redis of the seat holds: connection error, timeout)
        └── RetryForward         past the pivot: retry until it succeeds, never compensate

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


class OperationCancelled(ParticipantRejected):
    """A write landed under an idempotency key that a compensation had already cancelled (409).

    The participant refused it and changed nothing: a late delivery of a step whose saga has moved on,
    so it must not be retried.
    """


class TransientError(SagaError):
    """A failure that may pass: timeouts, connection errors, 5xx, Redis or database hiccups."""


class PaymentUnavailable(TransientError):
    reason = "payment_unavailable"


class LoyaltyUnavailable(TransientError):
    reason = "loyalty_unavailable"


class HoldStoreUnavailable(TransientError):
    """Redis, where seat holds live, did not answer."""

    reason = "internal_error"


class RetryForward(TransientError):
    """Work after the pivot (capture, posting miles) that must be retried, never undone."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


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
