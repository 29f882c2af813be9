"""The loyalty service's own database: mile awards and idempotency records."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from app.models.types import UTCDateTime, new_uuid, utcnow
from app.participants.idempotency import IdempotencyRecordMixin


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class AwardStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    REVERSED = "reversed"


class Award(db.Model):
    """Miles credited to an account: pending (not spendable) → posted, or reversed from either.

    An account is just the caller's id on its awards: it exists from its first award on.
    """

    __tablename__ = "awards"
    __table_args__ = (Index("ix_awards_account_status", "account_id", "status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    account_id: Mapped[str] = mapped_column(String(64))
    miles: Mapped[int] = mapped_column(Integer)
    # The caller's own name for what earned the miles, e.g. a booking id.
    reference: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(10), default=AwardStatus.PENDING)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    posted_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    reversed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotencyRecord(IdempotencyRecordMixin, db.Model):
    __tablename__ = "idempotency_records"
