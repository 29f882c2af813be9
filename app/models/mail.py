"""The e-mails a saga sent: at most one of each kind per booking, even under duplicate deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import UTCDateTime


class SentEmail(db.Model):
    """One e-mail of one booking: claimed by the delivery that sends it, then marked sent."""

    __tablename__ = "sent_emails"
    __table_args__ = (UniqueConstraint("saga_id", "kind", name="uq_sent_emails_saga_kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    saga_id: Mapped[str] = mapped_column(ForeignKey("sagas.id"))
    kind: Mapped[str] = mapped_column(String(20))  # itinerary | cancellation
    # The same Message-ID on every attempt, so a resend after a crash is recognisably the same mail.
    message_id: Mapped[str] = mapped_column(String(255))
    recipient: Mapped[str] = mapped_column(String(254))
    # The saga's fence of the delivery sending it, and since when; None while none is (the last
    # send failed). Only a delivery under a newer fence takes it over (app/itinerary.py).
    fence: Mapped[int | None] = mapped_column(Integer, nullable=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
