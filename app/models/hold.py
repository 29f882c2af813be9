"""Seat holds: the SQL side of the Redis locks (see app/seat_holds.py)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import Money, UTCDateTime, new_uuid, utcnow


class HoldStatus(StrEnum):
    HELD = "held"
    CONSUMED = "consumed"
    RELEASED = "released"
    EXPIRED = "expired"


class Hold(db.Model):
    __tablename__ = "holds"
    __table_args__ = (
        Index("ix_holds_flight_active", "flight_id", "status", "expires_at"),
        Index("ix_holds_user_active", "user_id", "status", "expires_at"),
        # One hold per saga, so duplicate deliveries of reserve_seat cannot take two.
        Index("uq_holds_saga_id", "saga_id", unique=True),
        Index("ix_holds_address_active", "client_address", "status", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    flight_id: Mapped[int] = mapped_column(ForeignKey("flights.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # The saga that took or adopted this hold; only it may consume the hold.
    saga_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # The value of the hold's Redis keys: compare-and-delete and the fence check it.
    token: Mapped[str] = mapped_column(String(64))
    seats: Mapped[list[str]] = mapped_column(JSON)
    # Who asked, as app/security.py sees the client: the per-address caps count by it.
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), default=HoldStatus.HELD)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    def is_active(self, now: datetime | None = None) -> bool:
        return self.status == HoldStatus.HELD and self.expires_at > (now or utcnow())

    @property
    def public_status(self) -> str:
        """`held` stops being true at expires_at, whether or not the sweep has run yet."""
        if self.status == HoldStatus.HELD and self.expires_at <= utcnow():
            return HoldStatus.EXPIRED
        return self.status

    @staticmethod
    def active_clause(now: datetime | None = None):
        """The SQL predicate of an active hold: expiry needs no sweep to take effect."""
        return (Hold.status == HoldStatus.HELD) & (Hold.expires_at > (utcnow() if now is None else now))
