"""The booking service's tables."""

from app.models.booking import (
    TERMINAL,
    Debt,
    IdempotencyKey,
    Saga,
    SagaStatus,
    SagaStep,
    StepKind,
    StepStatus,
    Ticket,
    TicketSeat,
    TicketStatus,
)
from app.models.flight import Cabin, Flight, Seat, build_seats
from app.models.hold import Hold, HoldStatus
from app.models.mail import SentEmail
from app.models.user import ApiToken, User

__all__ = [
    "TERMINAL",
    "ApiToken",
    "Cabin",
    "Debt",
    "Flight",
    "Hold",
    "HoldStatus",
    "IdempotencyKey",
    "Saga",
    "SentEmail",
    "SagaStatus",
    "SagaStep",
    "Seat",
    "StepKind",
    "StepStatus",
    "Ticket",
    "TicketSeat",
    "TicketStatus",
    "User",
    "build_seats",
]
