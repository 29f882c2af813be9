"""The saga log (sagas, their steps and debts) and the tickets a confirmed saga issues."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import Money, UTCDateTime, new_uuid, utcnow

if TYPE_CHECKING:
    from app.models.hold import Hold


class SagaStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPENSATING = "compensating"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    NEEDS_ATTENTION = "needs_attention"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"


TERMINAL = frozenset(
    {SagaStatus.CONFIRMED, SagaStatus.FAILED, SagaStatus.NEEDS_ATTENTION, SagaStatus.CANCELLED}
)


class StepKind(StrEnum):
    ACTION = "action"
    COMPENSATION = "compensation"


class StepStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEBT = "debt"


class TicketStatus(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"


class Saga(db.Model):
    """One booking, and the single source of truth about how far its saga got."""

    __tablename__ = "sagas"
    __table_args__ = (
        Index("ix_sagas_user_created", "user_id", "created_at"),
        Index("ix_sagas_status_progressed", "status", "progressed_at"),
        Index("ix_sagas_status_lease", "status", "lease_expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    flight_id: Mapped[int] = mapped_column(ForeignKey("flights.id"))
    hold_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    seats: Mapped[list[str]] = mapped_column(JSON)
    passengers: Mapped[list[dict]] = mapped_column(JSON, default=list)
    # The address the booking was asked from: the hold its saga takes counts against that address.
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    miles: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), default=SagaStatus.PENDING)
    failure_step: Mapped[str | None] = mapped_column(String(40), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(40), nullable=True)
    failure_detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The card as the payment service tokenized it: never the number or the CVC.
    card_token: Mapped[str] = mapped_column(String(64))
    card_brand: Mapped[str] = mapped_column(String(20))
    card_last4: Mapped[str] = mapped_column(String(4))
    payment_authorization_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    miles_award_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Bumped on every saga-log write: the ETag of the status resource.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Last time a step started or finished.
    progressed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The fencing token: the generation of the one writer this saga has. Every chain carries the
    # fence it was started with and every saga-log write checks it; a re-drive or a compensation
    # chain takes the next one, so every delivery of an older chain finds itself fenced off.
    fence: Mapped[int] = mapped_column(Integer, default=1)
    # The writer's lease: renewed by each write of the saga log (and by a heartbeat while a step
    # works). Once it lapses the reconciler takes the saga over with the next fence.
    lease_expires_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the pivot issued the ticket, in the same transaction: past it nothing is undone, and a
    # compensation may start only while it is unset (the same row, so the two cannot both happen).
    pivoted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The version of the saga definition it started under (app/saga.py): it runs, is re-driven,
    # compensated and shown under that one, whatever version a later deploy starts new sagas with.
    definition_version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    # When its last action succeeded. A saga is confirmed at its pivot; the follow-ups after it are
    # still in flight (the reconciler re-drives them) until this is set.
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    steps: Mapped[list[SagaStep]] = relationship(
        back_populates="saga", order_by="SagaStep.position", cascade="all, delete-orphan"
    )
    debts: Mapped[list[Debt]] = relationship(
        back_populates="saga", order_by="Debt.id", cascade="all, delete-orphan"
    )
    ticket: Mapped[Ticket | None] = relationship(back_populates="saga", uselist=False)
    # The hold it took or adopted, by hold_id (a plain column: the hold row may be swept later).
    # Loaded once per read of the saga: each step's hold check and the pivot's use share it.
    hold: Mapped[Hold | None] = relationship(primaryjoin="foreign(Saga.hold_id) == Hold.id", viewonly=True)

    def step(self, name: str) -> SagaStep | None:
        return next((s for s in self.steps if s.name == name), None)


class SagaStep(db.Model):
    """One line of the saga log: an action or a compensation, with its attempts."""

    __tablename__ = "saga_steps"
    __table_args__ = (UniqueConstraint("saga_id", "name", name="uq_saga_steps_saga_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    saga_id: Mapped[str] = mapped_column(ForeignKey("sagas.id"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(40))
    kind: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(10), default=StepStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_message: Mapped[str | None] = mapped_column(Text, nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(155), nullable=True)

    saga: Mapped[Saga] = relationship(back_populates="steps")


class Debt(db.Model):
    """A compensation that could not finish: what is owed, since when, and why."""

    __tablename__ = "debts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    saga_id: Mapped[str] = mapped_column(ForeignKey("sagas.id"), index=True)
    step: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)

    saga: Mapped[Saga] = relationship(back_populates="debts")


class Ticket(db.Model):
    __tablename__ = "tickets"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    saga_id: Mapped[str] = mapped_column(ForeignKey("sagas.id"), unique=True)
    reference: Mapped[str] = mapped_column(String(6), unique=True)
    flight_id: Mapped[int] = mapped_column(ForeignKey("flights.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(10), default=TicketStatus.ACTIVE)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)

    saga: Mapped[Saga] = relationship(back_populates="ticket")
    seats: Mapped[list[TicketSeat]] = relationship(
        back_populates="ticket", order_by="TicketSeat.id", cascade="all, delete-orphan"
    )


class TicketSeat(db.Model):
    """A seat on a ticket. The partial unique index makes a double sale impossible (I1)."""

    __tablename__ = "ticket_seats"
    __table_args__ = (
        Index(
            "uq_ticket_seats_active",
            "flight_id",
            "seat_number",
            unique=True,
            sqlite_where=text("active"),
            postgresql_where=text("active"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("tickets.id"), index=True)
    flight_id: Mapped[int] = mapped_column(ForeignKey("flights.id"))
    seat_number: Mapped[str] = mapped_column(String(3))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    ticket: Mapped[Ticket] = relationship(back_populates="seats")

    @staticmethod
    def active_clause():
        """`active`, spelled exactly as the partial index's predicate, so reads can use the index.

        Both databases match a partial index's WHERE only literally: SQLAlchemy's `active IS 1` /
        `active = 1` (SQLite) and `active IS true` (PostgreSQL) made each read of a flight's
        active seats scan every ticket seat (docs/performance.md).
        """
        return literal_column("ticket_seats.active")


class IdempotencyKey(db.Model):
    """A client's Idempotency-Key, claimed in the transaction that creates its saga."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_user_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    saga_id: Mapped[str] = mapped_column(ForeignKey("sagas.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
