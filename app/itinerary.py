"""Saga v2's follow-up: the itinerary e-mail (text, HTML and an .ics of the flight), and the e-mail
that tells the traveller a confirmed booking was cancelled (its compensation, run on cancellation).

Each is sent at most once per booking however often its step is delivered: a row in `sent_emails`
is claimed before sending and marked sent after. A delivery that finds it sent does nothing. The
claim is held under the saga's fence, as every write of the saga log is: a delivery under a newer
fence takes it over at once, since the reconciler moves the fence only once the sender's lease
lapsed; one under the same fence (a duplicate, or the redelivery of a killed worker process) cannot
tell a sender that still works from a dead one, so it stops and leaves that to the lease
(DeliveryInProgress). A send that fails releases the claim for its own retry. SMTP has no
idempotency key, so the one window left is a crash between the server taking the message and the
row being marked: the resend carries the same Message-ID.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from html import escape

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from app import mail
from app.errors import DeliveryInProgress
from app.extensions import db
from app.models import Flight, Saga, SentEmail, User
from app.models.types import utcnow


def send_itinerary(saga: Saga) -> None:
    """E-mail the traveller the booking: reference, flight, seats, passengers, amount, miles, .ics."""
    _send_once(saga, "itinerary", _itinerary)


def send_cancellation(saga: Saga) -> None:
    """E-mail the traveller that the booking was cancelled and refunded."""
    _send_once(saga, "cancellation", _cancellation)


def _send_once(saga: Saga, kind: str, compose: Callable[[Saga, Flight, EmailMessage], None]) -> None:
    row = _claim(saga, kind)
    if row is None:
        return
    flight = db.session.get(Flight, saga.flight_id)
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = row.recipient
    message["Message-ID"] = row.message_id
    message["Date"] = format_datetime(utcnow())
    compose(saga, flight, message)
    try:
        mail.send(message)
    except Exception:
        # Released for this step's own retry, which claims it again under the same fence.
        db.session.rollback()
        db.session.execute(update(SentEmail).where(SentEmail.id == row.id, SentEmail.sent_at.is_(None),
                                                   SentEmail.fence == saga.fence).values(fence=None))
        db.session.commit()
        raise
    db.session.execute(update(SentEmail).where(SentEmail.id == row.id).values(sent_at=utcnow()))
    db.session.commit()


def _claim(saga: Saga, kind: str) -> SentEmail | None:
    """This delivery's claim on the e-mail; None when it was sent already; DeliveryInProgress while
    another delivery under the same fence (or a newer one) holds it."""
    busy = DeliveryInProgress(f"the {kind} e-mail is claimed by another delivery")
    row = db.session.execute(select(SentEmail).filter_by(saga_id=saga.id, kind=kind)).scalar_one_or_none()
    if row is None:
        recipient = db.session.get(User, saga.user_id).email
        domain = recipient.rpartition("@")[2] or "localhost"
        row = SentEmail(saga_id=saga.id, kind=kind, recipient=recipient, fence=saga.fence,
                        claimed_at=utcnow(), message_id=make_msgid(f"{kind}.{saga.id}", domain=domain))
        db.session.add(row)
        try:
            db.session.commit()
        except IntegrityError as exc:  # a duplicate delivery claimed it a moment ago
            db.session.rollback()
            raise busy from exc
        return row
    if row.sent_at is not None:
        return None
    if row.fence is not None and row.fence >= saga.fence:
        raise busy
    held_by = SentEmail.fence.is_(None) if row.fence is None else SentEmail.fence == row.fence
    taken = db.session.execute(
        update(SentEmail).where(SentEmail.id == row.id, SentEmail.sent_at.is_(None), held_by)
        .values(fence=saga.fence, claimed_at=utcnow())
    ).rowcount
    db.session.commit()
    if taken != 1:
        raise busy
    db.session.refresh(row)
    return row


# The messages --------------------------------------------------------------------------------------


def _facts(saga: Saga, flight: Flight) -> list[tuple[str, str]]:
    passengers = ", ".join(p.get("name", "") for p in saga.passengers or []) or "as booked"
    return [
        ("Reference", saga.ticket.reference if saga.ticket else "-"),
        ("Flight", f"{flight.number} {flight.origin} to {flight.destination}"),
        ("Departs", _when(flight.departs_at)),
        ("Arrives", _when(flight.arrives_at)),
        ("Seats", ", ".join(saga.seats)),
        ("Passengers", passengers),
        ("Amount", f"{saga.amount:,.2f} {saga.currency}"),
        ("Miles", f"{saga.miles:,}"),
    ]


def _when(moment: datetime) -> str:
    return moment.strftime("%a %d %b %Y, %H:%M UTC")


def _bodies(message: EmailMessage, intro: str, facts: list[tuple[str, str]], outro: str) -> None:
    text = "\n".join([intro, "", *(f"{name + ':':<12} {value}" for name, value in facts), "", outro])
    rows = "".join(f"<tr><th align=\"left\">{escape(name)}</th><td>{escape(value)}</td></tr>"
                   for name, value in facts)
    html = (f"<!doctype html><html><body><p>{escape(intro)}</p><table>{rows}</table>"
            f"<p>{escape(outro)}</p></body></html>")
    message.set_content(text + "\n")
    message.add_alternative(html, subtype="html")


def _itinerary(saga: Saga, flight: Flight, message: EmailMessage) -> None:
    reference = saga.ticket.reference if saga.ticket else ""
    route = f"{flight.number} {flight.origin}-{flight.destination}"
    message["Subject"] = f"Your itinerary: {route}, ref {reference}"
    _bodies(message, "Your booking is confirmed. Here is your itinerary.", _facts(saga, flight),
            "The attached calendar file adds the flight to your calendar.")
    message.add_attachment(calendar(saga, flight).encode(), maintype="text", subtype="calendar",
                           filename=f"{flight.number}-{reference}.ics", params={"method": "PUBLISH"})


def _cancellation(saga: Saga, flight: Flight, message: EmailMessage) -> None:
    reference = saga.ticket.reference if saga.ticket else ""
    message["Subject"] = f"Cancelled: {flight.number} {flight.origin}-{flight.destination}, ref {reference}"
    _bodies(message, "Your booking was cancelled.", _facts(saga, flight),
            "The payment will be refunded to your card and the miles for it reversed.")


def calendar(saga: Saga, flight: Flight) -> str:
    """The flight as an RFC 5545 event (CRLF lines, UTC times, text escaped)."""
    def stamp(moment: datetime) -> str:
        return moment.strftime("%Y%m%dT%H%M%SZ")

    def text(value: str) -> str:
        return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")

    reference = saga.ticket.reference if saga.ticket else ""
    summary = f"Flight {flight.number} {flight.origin} to {flight.destination}"
    description = f"Reference {reference}, seats {', '.join(saga.seats)}"
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Flight booking//Itinerary//EN", "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:{saga.id}@flight-booking",
        f"DTSTAMP:{stamp(utcnow())}",
        f"DTSTART:{stamp(flight.departs_at)}",
        f"DTEND:{stamp(flight.arrives_at)}",
        f"SUMMARY:{text(summary)}",
        f"LOCATION:{text(flight.origin)}",
        f"DESCRIPTION:{text(description)}",
        "END:VEVENT", "END:VCALENDAR",
    ]
    return "\r\n".join(lines) + "\r\n"
