"""The payment service's own database: card tokens, payments and idempotency records."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from app.models.types import Money, UTCDateTime, new_uuid, utcnow
from app.participants.idempotency import IdempotencyRecordMixin


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class PaymentStatus(StrEnum):
    AUTHORIZED = "authorized"
    VOIDED = "voided"
    CAPTURED = "captured"
    REFUNDED = "refunded"
    DECLINED = "declined"


class CardToken(db.Model):
    """A tokenized card: never the number or the CVC, at most brand, last 4 and expiry (PCI DSS)."""

    __tablename__ = "card_tokens"

    token: Mapped[str] = mapped_column(String(64), primary_key=True)
    brand: Mapped[str] = mapped_column(String(20))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    # What the mock gateway will do with this card, decided from the number at tokenize time.
    outcome: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Payment(db.Model):
    """One authorization and its fate: authorized → captured → refunded, or authorized → voided."""

    __tablename__ = "payments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    token: Mapped[str] = mapped_column(ForeignKey("card_tokens.token"))
    status: Mapped[str] = mapped_column(String(12))
    amount: Mapped[Decimal] = mapped_column(Money)
    currency: Mapped[str] = mapped_column(String(3))
    captured_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    refunded_amount: Mapped[Decimal] = mapped_column(Money, default=Decimal("0.00"))
    decline_code: Mapped[str | None] = mapped_column(String(30), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    card: Mapped[CardToken] = relationship()


class IdempotencyRecord(IdempotencyRecordMixin, db.Model):
    __tablename__ = "idempotency_records"
