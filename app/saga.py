"""THE booking saga: each action beside its compensation, in order, the pivot marked.

Every function here takes the saga row, talks to one party, and is idempotent: it may run twice,
or be killed at any line and run again, with the same outcome. Payment and loyalty writes carry
the idempotency key `<saga id>:<step>`; the hold is keyed by its token; the ticket by the saga.
Actions raise app.errors; compensations tolerate "nothing to undo". No Celery here.
"""

from __future__ import annotations

import secrets
import string
from datetime import timedelta

from flask import current_app
from sqlalchemy import inspect, select, update
from sqlalchemy.exc import IntegrityError

from app import holds, itinerary
from app.config import step_budget_seconds
from app.definitions import Definition, Step, check
from app.errors import HoldExpired, RetryForward, SeatUnavailable
from app.extensions import db, lock_rows
from app.models import Flight, Hold, HoldStatus, Saga, Ticket, TicketSeat, TicketStatus
from app.models.types import new_uuid, utcnow
from app.participants import loyalty_client, payment_client


def key(saga: Saga, step: str) -> str:
    """The idempotency key of one write of one saga."""
    return f"{saga.id}:{step}"


def saga_hold(saga: Saga) -> Hold | None:
    """The hold this saga took or adopted, if any."""
    if saga.hold_id:
        return saga.hold
    return db.session.execute(db.select(Hold).filter_by(saga_id=saga.id)).scalars().first()


def keep_hold_for_next_step(saga: Saga) -> None:
    """The saga's deadline is its hold: no step starts with less hold left than it may need."""
    hold = saga_hold(saga)
    if hold is None:
        return
    config = current_app.config
    # Capped by what an extension can give, so short holds confirm too (see step_budget_seconds).
    budget = timedelta(seconds=step_budget_seconds(config))
    now = utcnow()
    if hold.is_active(now) and hold.expires_at - now >= budget:
        return
    if saga.ticket is not None:  # asked only here: nearly every step finds enough hold left
        return
    holds.extend_hold(hold, now + timedelta(seconds=config["HOLD_TTL_SECONDS"]))
    db.session.refresh(hold)
    if not hold.is_active(now) or hold.expires_at - now < budget:
        raise HoldExpired(f"hold {hold.id} has too little time left for the next step")


# 1. reserve_seat / cancel_seat ------------------------------------------------------------------


def reserve_seat(saga: Saga) -> None:
    """Take a hold on every seat (or keep the one adopted at POST), long enough for the saga."""
    # The row lock makes two deliveries of this step at once take turns, so the second finds the
    # first's hold instead of refusing its own seats.
    lock_rows(select(Saga.id).where(Saga.id == saga.id))
    hold = saga_hold(saga)
    if hold is None:
        flight = db.session.get(Flight, saga.flight_id)
        # The sales cut-off and the seat caps were checked at POST (app/bookings.py); the hold still
        # carries the address, so it counts against that address's caps while it lasts.
        hold = holds.take_hold(saga.user_id, flight, saga.seats, saga_id=saga.id, enforce_limits=False,
                               client_address=saga.client_address)
    elif not hold.is_active():
        raise HoldExpired(f"hold {hold.id} is {hold.public_status}")
    else:
        taken = holds.reclaim_keys(hold)
        if taken:
            raise SeatUnavailable("seats taken: " + ", ".join(taken), seats=taken)
    # Committed with the step's success (app/saga_log.py finish_step). The hold's key, from its
    # identity: take_hold's commit expired the row, and its id is all that is needed of it.
    saga.hold_id = inspect(hold).identity[0]


def cancel_seat(saga: Saga) -> None:
    """Release the hold if this saga still owns it (a consumed hold belongs to the ticket)."""
    hold = saga_hold(saga)
    if hold is not None and hold.saga_id == saga.id and hold.status == HoldStatus.HELD:
        holds.release_hold(hold)


# 2. authorize_payment / cancel_payment ----------------------------------------------------------


def authorize_payment(saga: Saga) -> None:
    """Authorize the total on the tokenized card."""
    result = payment_client().authorize(saga.card_token, saga.amount, saga.currency,
                                 idempotency_key=key(saga, "authorize_payment"))
    saga.payment_authorization_id = result.id  # committed with the step's success


def cancel_payment(saga: Saga) -> None:
    """Void the authorization, or refund it if captured, by its idempotency key.

    The authorize may have timed out on our side and still be on its way: cancelling by key, not by
    a payment id found first, also closes the key, so an authorize landing later is refused.
    """
    payment_client().cancel_authorization(key(saga, "authorize_payment"),
                                          idempotency_key=key(saga, "cancel_payment"))


# 3. award_miles / reverse_miles -----------------------------------------------------------------


def award_miles(saga: Saga) -> None:
    """Create a pending award: not spendable until the booking is confirmed and it is posted."""
    award = loyalty_client().create_award(str(saga.user_id), saga.miles, reference=saga.id,
                                   idempotency_key=key(saga, "award_miles"))
    saga.miles_award_id = award.id  # committed with the step's success


def reverse_miles(saga: Saga) -> None:
    """Reverse the award, pending or posted, by its idempotency key (closing it to a late award)."""
    loyalty_client().cancel_award(key(saga, "award_miles"), idempotency_key=key(saga, "reverse_miles"))


# 4. confirm_booking (the pivot) / cancel_booking ------------------------------------------------


def confirm_booking(saga: Saga) -> None:
    """Issue the ticket behind the fence; then capture and post miles, retrying forward only."""
    # Read before the ticket's commit expires the row (nothing here changes them): no reload after.
    payment_id, amount, award_id = saga.payment_authorization_id, saga.amount, saga.miles_award_id
    capture_key, post_key = key(saga, "capture_payment"), key(saga, "post_miles")
    # The ticket commits with the claim of the pivot or not at all (saga_log.claim_pivot): a saga
    # read past its pivot has its ticket, one read before it has none, and nothing is read to know.
    issued_before = saga.pivoted_at is not None
    if not issued_before:
        _issue_ticket(saga)
    try:
        if issued_before:
            _release_keys(saga)  # the run that issued the ticket may have died before releasing them
        # Both writes are idempotent by their keys: a retry replays them instead of repeating them.
        payment_client().capture(payment_id, amount, idempotency_key=capture_key)
        loyalty_client().post_award(award_id, idempotency_key=post_key)
    except Exception as exc:  # past the pivot every failure is retried, never compensated
        raise RetryForward(exc) from exc


def _issue_ticket(saga: Saga) -> None:
    hold = saga_hold(saga)
    if hold is None:
        raise HoldExpired("the saga has no hold")
    # The fence, Redis side: no other hold may have taken these seats since ours lapsed.
    others = holds.keys_held_by_others(hold)
    if others:
        raise SeatUnavailable("seats re-held by another booking: " + ", ".join(others), seats=others)
    # The fence, SQL side: consume the hold only while it is still ours and unexpired.
    consumed = db.session.execute(
        update(Hold)
        .where(Hold.id == hold.id, Hold.saga_id == saga.id, Hold.active_clause())
        .values(status=HoldStatus.CONSUMED, updated_at=utcnow())
        # The session's hold is not brought up to date (the ORM evaluated the WHERE on it, a third
        # of this statement's CPU): nothing after this reads its status, and the commit expires it.
        .execution_options(synchronize_session=False)
    ).rowcount
    if consumed != 1:
        db.session.rollback()
        if db.session.execute(db.select(Ticket.id).filter_by(saga_id=saga.id)).first():
            return  # a duplicate delivery of this step issued the ticket a moment ago
        raise HoldExpired(f"hold {hold.id} lapsed before the booking was confirmed")
    keys = holds.seat_keys(hold)  # before the commit expires the row
    ticket_id, now = new_uuid(), utcnow()
    try:
        # Table-level INSERTs: the session's unit of work for two known rows cost more CPU than
        # the rest of the pivot's writes; nothing in this step reads the ticket back.
        db.session.execute(_INSERT_TICKET, {
            "id": ticket_id, "saga_id": saga.id, "reference": _reference(), "flight_id": saga.flight_id,
            "user_id": saga.user_id, "status": TicketStatus.ACTIVE, "issued_at": now, "cancelled_at": None})
        db.session.execute(_INSERT_TICKET_SEAT, [
            {"ticket_id": ticket_id, "flight_id": saga.flight_id, "seat_number": n, "active": True}
            for n in saga.seats])
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        # The partial unique index on active (flight, seat): the final guard against a double sale.
        raise SeatUnavailable("a seat was sold to another booking") from exc
    holds.release_keys(*keys)


_INSERT_TICKET = Ticket.__table__.insert()
_INSERT_TICKET_SEAT = TicketSeat.__table__.insert()


def _release_keys(saga: Saga) -> None:
    hold = saga_hold(saga)
    if hold is not None:
        holds.release_keys(*holds.seat_keys(hold))


REFERENCE_ALPHABET = string.ascii_uppercase.replace("O", "").replace("I", "") + "23456789"


def _reference() -> str:
    return "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(6))


def cancel_booking(saga: Saga) -> None:
    """Cancel the ticket, if one was issued: its seats are free at once."""
    ticket = saga.ticket
    if ticket is None or ticket.status == TicketStatus.CANCELLED:
        return
    ticket.status = TicketStatus.CANCELLED
    ticket.cancelled_at = utcnow()
    for seat in ticket.seats:
        seat.active = False
    db.session.commit()


# The definitions, by version ---------------------------------------------------------------------
# A saga runs under the version it started with (docs/saga.md "Versions"). Keep a version here until
# `flask --app wsgi saga-versions` shows no saga in flight under it.

V1 = Definition(1, (
    Step("reserve_seat", reserve_seat, "cancel_seat", cancel_seat,
         label="Hold your seats", compensation_label="Release the seats"),
    Step("authorize_payment", authorize_payment, "cancel_payment", cancel_payment,
         label="Authorize the payment", compensation_label="Void or refund the payment"),
    Step("award_miles", award_miles, "reverse_miles", reverse_miles,
         label="Set aside your miles", compensation_label="Reverse the miles"),
    Step("confirm_booking", confirm_booking, "cancel_booking", cancel_booking, pivot=True,
         label="Issue the ticket, charge the card, add the miles", compensation_label="Cancel the ticket"),
))
# v2: after the pivot, e-mail the itinerary (app/itinerary.py); a cancellation e-mails that instead.
V2 = V1.then(2, Step("send_itinerary", itinerary.send_itinerary,
                     "send_cancellation", itinerary.send_cancellation,
                     label="E-mail your itinerary", compensation_label="E-mail the cancellation"))
DEFINITIONS = {definition.version: definition for definition in (V1, V2)}
LATEST = DEFINITIONS[max(DEFINITIONS)]
# The newest version's, by name (tests inject faults through these dicts).
STEPS = LATEST.steps
ACTIONS = LATEST.actions
COMPENSATIONS = LATEST.compensations
ACTION_NAMES = LATEST.action_names
step = LATEST.step
compensations_for = LATEST.compensations_for

check(DEFINITIONS)
