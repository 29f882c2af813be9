"""Jinja filters: money, times and booking statuses in a traveller's words."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from app.models import SagaStatus
from app.web import bp

# (label, tone): the tone picks the badge's colour in app.css.
STATUS_WORDS = {
    SagaStatus.PENDING: ("Starting", "busy"),
    SagaStatus.RUNNING: ("In progress", "busy"),
    SagaStatus.COMPENSATING: ("Undoing", "busy"),
    SagaStatus.CONFIRMED: ("Booked", "good"),
    SagaStatus.FAILED: ("Not booked", "bad"),
    SagaStatus.NEEDS_ATTENTION: ("Needs attention", "warn"),
    SagaStatus.CANCELLING: ("Cancelling", "busy"),
    SagaStatus.CANCELLED: ("Cancelled", "muted"),
}


@bp.app_template_filter("money")
def money(amount: Decimal | str, currency: str) -> str:
    return f"{Decimal(amount):,.2f} {currency}"


@bp.app_template_filter("day")
def day(moment: datetime) -> str:
    return moment.strftime("%a %d %b %Y")


@bp.app_template_filter("clock")
def clock(moment: datetime) -> str:
    return moment.strftime("%H:%M")


@bp.app_template_filter("when")
def when(moment: datetime) -> str:
    return f"{day(moment)}, {clock(moment)} UTC"


@bp.app_template_filter("duration")
def duration(departs: datetime, arrives: datetime) -> str:
    minutes = int((arrives - departs).total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


@bp.app_template_filter("status_label")
def status_label(status: str) -> str:
    return STATUS_WORDS.get(status, (status, ""))[0]


@bp.app_template_filter("status_tone")
def status_tone(status: str) -> str:
    return STATUS_WORDS.get(status, ("", "muted"))[1]


@bp.app_template_filter("seat_list")
def seat_list(seats: list[str]) -> str:
    return ", ".join(seats)
