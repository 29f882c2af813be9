"""The project's exception tree.

Saga steps raise the SagaError branch; the task layer decides from it whether to retry or
compensate. A request refused raises a Refusal, which carries its HTTP status, its problem ``type``
and its extension members: app/api/problems.py renders any of them as problem+json, so a new refusal
is one class (or one ``raise Refusal(...)``) here and nothing in the views.

    Refusal                      a request refused: ``status``, ``type``, ``headers``, ``extra`` members
    ├── HoldRejected             422 validation-error   (errors: the seats' messages)
    ├── HoldInUse                409 hold-in-use
    ├── HoldLimitReached         429 hold-limit         (limit, scope; Retry-After)
    ├── SalesClosed              409 sales-closed
    ├── EmailTaken               409 email-taken
    └── the saga errors a request may meet too, marked [Refusal] below

    SagaError
    ├── BusinessError            permanent: compensate at once; ``reason`` is the saga failure reason
    │   ├── SeatUnavailable      seat_unavailable     [Refusal: 409 seat-unavailable (seats)]
    │   ├── HoldExpired          hold_expired
    │   ├── CardDeclined         card_declined
    │   ├── InsufficientFunds    insufficient_funds
    │   ├── InvalidCard          invalid_card         [Refusal: 422 invalid-card (errors)]
    │   └── ParticipantRejected  internal_error (any other 4xx from a participant: a bug, not an outage)
    │       └── OperationCancelled   internal_error (a write under a key the saga had already cancelled)
    └── TransientError           retry with backoff, then fail with ``reason``
        ├── PaymentUnavailable   payment_unavailable (timeout, connection error, 5xx)
        │                                             [Refusal: 503 payment-unavailable; Retry-After]
        ├── LoyaltyUnavailable   loyalty_unavailable
        ├── HoldStoreUnavailable internal_error (Redis of the seat holds: connection error, timeout)
        │                                             [Refusal: 503 service-unavailable; Retry-After]
        └── RetryForward         past the pivot: retry until it succeeds, never compensate

Anything else a step raises is a bug; the saga fails with ``internal_error`` and compensates.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

NO_HEADERS: Mapping[str, str] = MappingProxyType({})


class Refusal(Exception):
    """A request refused: raise it anywhere in a request to answer with a problem+json body.

    A subclass names its ``status`` and ``type``; a one-off refusal passes them:
    ``Refusal(409, "...", type="not-cancellable")``. ``type`` None means the status's default slug.
    """

    status = 400
    type: str | None = None
    title: str | None = None
    headers: Mapping[str, str] = NO_HEADERS
    # The ``detail`` the API answers with when it is not the exception's own (saga errors).
    answer: str | None = None

    def __init__(self, status: int, detail: str, *, type: str | None = None, title: str | None = None,
                 headers: Mapping[str, str] | None = None, **extra: object) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type or self.type
        self.title = title or self.title
        self.headers = dict(headers or self.headers)
        self.extra = extra

    def members(self) -> dict[str, object]:
        """The problem's extension members."""
        return dict(self.extra)


class HoldRejected(Refusal):
    """The seats asked for cannot make a hold; `errors` maps each field to its messages."""

    def __init__(self, detail: str, errors: dict[str, list[str]]) -> None:
        super().__init__(422, detail, errors=errors)
        self.errors = errors


class HoldInUse(Refusal):
    """A booking adopted or consumed this hold: only the booking may let it go."""

    def __init__(self, hold_id: str) -> None:
        super().__init__(409, "A booking adopted or used this hold; cancel the booking instead.",
                         type="hold-in-use")
        self.hold_id = hold_id


class HoldLimitReached(Refusal):
    """The caller already holds as much as one actor may; `scope` names the cap."""

    def __init__(self, limit: int, retry_after: int, *, scope: str = "account-holds",
                 detail: str | None = None) -> None:
        detail = detail or f"At most {limit} active holds per user; release one or let it expire."
        super().__init__(429, detail, type="hold-limit", headers={"Retry-After": str(retry_after)},
                         limit=limit, scope=scope)
        self.limit = limit
        self.scope = scope
        # Seconds until the first of the holds counted expires and makes room.
        self.retry_after = retry_after


class SalesClosed(Refusal):
    """The flight departs within SALES_CLOSE_MINUTES (or has departed): no holds, bookings or refunds."""

    def __init__(self, detail: str) -> None:
        super().__init__(409, detail, type="sales-closed")


class EmailTaken(Refusal):
    """An account with this email exists already."""

    def __init__(self, email: str) -> None:
        super().__init__(409, f"An account with {email} exists already.", type="email-taken")
        self.email = email


class SagaError(Exception):
    """Base of every failure a saga step may report."""

    reason = "internal_error"

    def __init__(self, detail: str = "", **extra: object) -> None:
        # Exception's own __init__, not the next in line: a saga error that is also a Refusal keeps
        # its class's status and type, and ``extra`` holds what the participant said.
        Exception.__init__(self, detail or self.reason)
        self.detail = detail or self.reason
        self.extra = extra


class DeliveryInProgress(SagaError):
    """Another delivery of this step under the same fence holds its work (a duplicate message, or
    the redelivery of a killed worker process): this one stops, and the lease decides. A sender
    that still works carries the chain on; one that died stops renewing the lease, and the
    reconciler takes the saga over under the next fence, whose delivery takes the work over.
    Never recorded as a step's error (the delivery only stops), so it has no words of its own."""


class BusinessError(SagaError):
    """A refusal that will not change on retry."""


class SeatUnavailable(BusinessError, Refusal):
    reason = "seat_unavailable"
    status = 409
    type = "seat-unavailable"
    answer = "Some of these seats are held or booked."

    def members(self) -> dict[str, object]:
        return {"seats": self.extra["seats"]}


class HoldExpired(BusinessError):
    reason = "hold_expired"


class CardDeclined(BusinessError):
    reason = "card_declined"


class InsufficientFunds(BusinessError):
    reason = "insufficient_funds"


class InvalidCard(BusinessError, Refusal):
    reason = "invalid_card"
    status = 422
    type = "invalid-card"
    answer = "The card was refused as invalid: check the number and expiry."

    def members(self) -> dict[str, object]:
        return {"errors": {"payment": [self.detail]}}


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


class PaymentUnavailable(TransientError, Refusal):
    reason = "payment_unavailable"
    status = 503
    type = "payment-unavailable"
    headers = MappingProxyType({"Retry-After": "5"})
    answer = "The payment service is unavailable; try again shortly."

    def members(self) -> dict[str, object]:
        return {}


class LoyaltyUnavailable(TransientError):
    reason = "loyalty_unavailable"


class MailUnavailable(TransientError):
    """The SMTP server did not take the message (down, refused, timed out): retried."""

    reason = "mail_unavailable"


class HoldStoreUnavailable(TransientError, Refusal):
    """Redis, where seat holds live, did not answer."""

    reason = "internal_error"
    status = 503
    headers = MappingProxyType({"Retry-After": "1"})
    answer = "Seat holds are unavailable for a moment; try again."

    def members(self) -> dict[str, object]:
        return {}


class RetryForward(TransientError):
    """Work after the pivot (capture, posting miles) that must be retried, never undone."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause


def failure_reason(exc: BaseException) -> str:
    """The saga failure reason an exception stands for."""
    return exc.reason if isinstance(exc, SagaError) else "internal_error"
