"""Booking operations behind the API: start a saga once per request, find, list and cancel."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app import definitions, hold_limits
from app.catalog import check_sales_open, quote, sales_closed
from app.errors import HoldLimitReached, Refusal
from app.extensions import column_values, db, keeping_loaded, lock_rows
from app.models import (
    Flight,
    Hold,
    IdempotencyKey,
    Saga,
    SagaStatus,
    SagaStep,
    StepKind,
    StepStatus,
    Ticket,
    User,
)
from app.models.types import new_uuid, utcnow
from app.participants import payment_client

log = logging.getLogger("saga")


@dataclass(frozen=True)
class Started:
    saga: Saga
    replayed: bool


def request_fingerprint(body: dict) -> str:
    """A keyed hash of the request body, in which the card is only its last 4 digits and expiry.

    Not even a keyed hash of the number or the CVC is kept: with the last 4 known (the saga row
    has them) and an issuer's 6-digit prefix guessed, a 16-digit number has 10^5 Luhn-valid
    candidates and a CVC 10^3, so anyone holding SECRET_KEY and this table could try them all.
    A retry that changes only the card's middle digits or CVC counts as the same request and
    replays its booking; no second card is charged.
    """
    card = body["payment"]
    digits = "".join(char for char in card["card_number"] if char.isdigit())
    comparable = {**body, "payment": {"last4": digits[-4:], "exp_month": card["exp_month"],
                                      "exp_year": card["exp_year"]}}
    canonical = json.dumps(comparable, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(current_app.config["SECRET_KEY"].encode(), canonical.encode(), hashlib.sha256).hexdigest()


# The reads of every POST and status GET, built once: building a statement cost about as much CPU
# as running it (0.1 ms each).
@cache
def _claim_read():
    return select(IdempotencyKey).where(IdempotencyKey.user_id == bindparam("user_id"),
                                        IdempotencyKey.key == bindparam("key"))


@cache
def _booking_read():
    # populate_existing: a long poll reads the booking again after each wake, as it is now (the
    # session keeps what it loaded across the wait: app/api/bookings.py _state_after).
    return (select(Saga).where(Saga.id == bindparam("saga_id")).options(*_BOOKING_SHOWN)
            .execution_options(populate_existing=True))


@cache
def _state_read():
    return (select(Saga.id, Saga.version, Saga.status, Saga.completed_at, Saga.user_id)
            .where(Saga.id == bindparam("saga_id")))


def _claim_of(user: User, idempotency_key: str) -> IdempotencyKey | None:
    params = {"user_id": user.id, "key": idempotency_key}
    return db.session.execute(_claim_read(), params).scalar_one_or_none()


def _replay(claimed: IdempotencyKey | None, fingerprint: str) -> Saga | None:
    """The booking an unexpired claim of the key made, if this request is the same as its."""
    if claimed is None or claimed.expires_at <= utcnow():
        return None
    if claimed.request_hash != fingerprint:
        raise Refusal(422, "This Idempotency-Key was used with a different request body.",
                      type="idempotency-key-reused")
    return db.session.get(Saga, claimed.saga_id)


def _drop_expired_claim(user: User, idempotency_key: str) -> None:
    """Delete the key's expired claim (not pruned yet), in the transaction that claims it anew.

    Only while it is still expired: a concurrent request that renewed the claim in the meantime keeps
    it, and this request's insert then fails on the unique (user, key) and replays that booking.
    """
    db.session.execute(
        delete(IdempotencyKey).where(IdempotencyKey.user_id == user.id,
                                     IdempotencyKey.key == idempotency_key,
                                     IdempotencyKey.expires_at <= utcnow())
    )


def start_booking(user: User, body: dict, idempotency_key: str | None,
                  client_address: str | None = None) -> Started:
    """Validate, tokenize the card, commit the saga and its key together; the caller enqueues.

    Refuses (app/errors.py) with what the API answers: Refusal, SalesClosed, HoldLimitReached, and
    from the card's tokenization InvalidCard or PaymentUnavailable.
    """
    fingerprint = request_fingerprint(body) if idempotency_key else ""
    claimed = _claim_of(user, idempotency_key) if idempotency_key else None
    existing = _replay(claimed, fingerprint)
    if existing is not None:
        return Started(existing, replayed=True)

    flight, seats, hold = _resolve_seats(user, body)
    _admit(user, flight, seats, hold, client_address)
    try:
        priced = quote(flight, seats)
    except KeyError as exc:
        raise Refusal(422, "Unknown seat numbers.", type="validation-error",
                      errors={"seats": [f"unknown seat {n}" for n in exc.args[0]]}) from exc
    card = body["payment"]
    token = payment_client().tokenize(card["card_number"], card["exp_month"], card["exp_year"], card["cvc"])

    now = utcnow()
    grace = timedelta(seconds=current_app.config["SAGA_PENDING_GRACE_SECONDS"])
    definition = definitions.current()
    # Every column given here, defaults too: the rows go in as table-level INSERTs (the session's
    # unit of work cost 1.3 ms of CPU for five rows known in full, these 0.5), and the answer is
    # this object as written: never added to the session, it is not reloaded or flushed.
    saga = Saga(
        id=new_uuid(), user_id=user.id, flight_id=flight.id, hold_id=hold.id if hold else None,
        seats=seats, passengers=body.get("passengers") or [], amount=priced.amount,
        currency=priced.currency, miles=priced.miles, card_token=token.token, card_brand=token.brand,
        card_last4=token.last4, client_address=client_address, status=SagaStatus.PENDING,
        failure_step=None, failure_reason=None, failure_detail=None, payment_authorization_id=None,
        miles_award_id=None, version=1, created_at=now, updated_at=now, progressed_at=now,
        # Not enqueued within the grace (the broker was down), the reconciler starts it.
        fence=1, lease_expires_at=now + grace, pivoted_at=None, completed_at=None,
        definition_version=definition.version, ticket=None,
        steps=[SagaStep(name=name, kind=StepKind.ACTION, position=position, status=StepStatus.PENDING,
                        attempts=0, started_at=None, finished_at=None, error_code=None,
                        error_message=None, task_id=None)
               for position, name in enumerate(definition.action_names, 1)],
    )
    try:
        db.session.execute(insert(Saga.__table__), [column_values(saga)])
        db.session.execute(insert(SagaStep.__table__),
                           [{**column_values(step), "saga_id": saga.id} for step in saga.steps])
        if hold is not None:
            _adopt(hold, saga)
        if idempotency_key:
            if claimed is not None:  # expired (else it was replayed above), and not pruned yet
                _drop_expired_claim(user, idempotency_key)
            ttl = timedelta(seconds=current_app.config["IDEMPOTENCY_TTL_SECONDS"])
            db.session.execute(insert(IdempotencyKey.__table__), [{
                "user_id": user.id, "key": idempotency_key, "request_hash": fingerprint,
                "saga_id": saga.id, "created_at": now, "expires_at": now + ttl}])
        with keeping_loaded():  # what the request read stays as it was (nothing reads it again)
            db.session.commit()
    except IntegrityError:
        # A concurrent retry with the same key won the claim: answer with its booking.
        db.session.rollback()
        existing = _replay(_claim_of(user, idempotency_key), fingerprint) if idempotency_key else None
        if existing is None:
            raise
        return Started(existing, replayed=True)
    log.info("saga %s created", saga.id, extra={"saga_id": saga.id})
    return Started(saga, replayed=False)


def _admit(user: User, flight: Flight, seats: list[str], hold: Hold | None, address: str | None) -> None:
    """The traveller's rules, checked here once for the whole saga: sales still open, and for a
    booking by seats (whose saga takes its own hold) the seat caps a hold from the API would meet."""
    check_sales_open(flight)
    if hold is not None:
        return  # its seats were counted when it was taken, and count until it is consumed
    # The row lock of take_hold's limit check: one account's bookings and holds count in turn.
    lock_rows(select(User.id).where(User.id == user.id))
    try:
        hold_limits.check(user, address, flight.id, len(seats))
    except HoldLimitReached:
        db.session.rollback()
        raise


def lapse_lease(saga_id: str) -> None:
    """A saga whose chain could not be enqueued has no writer: the reconciler may start it at once."""
    db.session.execute(update(Saga).where(Saga.id == saga_id, Saga.fence == 1, Saga.status == "pending")
                       .values(lease_expires_at=utcnow()))
    db.session.commit()


def _resolve_seats(user: User, body: dict) -> tuple[Flight, list[str], Hold | None]:
    if body.get("hold_id"):
        hold = db.session.get(Hold, str(body["hold_id"]))
        if hold is None or hold.user_id != user.id:
            raise Refusal(404, "No such hold.", type="not-found")
        if not hold.is_active() or hold.saga_id is not None:
            raise Refusal(409, f"The hold is {hold.public_status} or already being booked.",
                          type="hold-not-usable")
        return db.session.get(Flight, hold.flight_id), list(hold.seats), hold
    flight = db.session.get(Flight, body["flight_id"])
    if flight is None:
        raise Refusal(404, "No such flight.", type="not-found")
    return flight, list(body["seats"]), None


def _adopt(hold: Hold, saga: Saga) -> None:
    """Give the hold to this saga, unless another request adopted it first."""
    adopted = db.session.execute(
        update(Hold)
        .where(Hold.id == hold.id, Hold.saga_id.is_(None), Hold.active_clause())
        .values(saga_id=saga.id)
    ).rowcount
    if adopted != 1:
        db.session.rollback()
        raise Refusal(409, "The hold is already being booked.", type="hold-not-usable")


def check_cancellable(saga: Saga) -> None:
    """Refunds stop with sales: a booking cannot be cancelled (and refunded) once it flew."""
    reason = sales_closed(db.session.get(Flight, saga.flight_id))
    if reason is not None:
        raise Refusal(409, f"This booking can no longer be cancelled: {reason}", type="cancellation-closed")


# What a Booking shows, read with the saga in one query (lazy loads made four, `selectinload`s
# three): its steps (4 to 10) times its ticket's seats (1 to a few) are a few dozen rows at most,
# and each query the ORM runs costs more than those rows (half the CPU of the read, measured).
_BOOKING_SHOWN = (joinedload(Saga.steps), joinedload(Saga.ticket).joinedload(Ticket.seats))


def _may_see(user: User, owner_id: int) -> bool:
    """A booking is seen by its owner and by administrators."""
    return owner_id == user.id or user.is_admin


def find_booking(user: User, saga_id: str) -> Saga | None:
    """The booking if the caller may see it, with all that it shows."""
    saga = db.session.execute(_booking_read(), {"saga_id": saga_id}).unique().scalar_one_or_none()
    return saga if saga is not None and _may_see(user, saga.user_id) else None


@dataclass(frozen=True)
class BookingState:
    """The few columns behind a Booking's ETag and Retry-After: enough to answer 304."""

    id: str
    version: int
    status: str
    completed_at: datetime | None

    @classmethod
    def of(cls, saga: Saga) -> BookingState:
        return cls(saga.id, saga.version, saga.status, saga.completed_at)


def booking_state(user: User, saga_id: str) -> BookingState | None:
    """find_booking's answer to "has it changed?": one row of four columns, nothing loaded."""
    row = db.session.execute(_state_read(), {"saga_id": saga_id}).one_or_none()
    if row is None or not _may_see(user, row.user_id):
        return None
    return BookingState(row.id, row.version, row.status, row.completed_at)


def list_bookings(user: User, page: int, page_size: int, status: str | None = None,
                  everyone: bool = False) -> tuple[list[Saga], int]:
    query = db.select(Saga)
    if not everyone:
        query = query.where(Saga.user_id == user.id)
    if status:
        query = query.where(Saga.status == status)
    total = db.session.execute(query.with_only_columns(db.func.count(Saga.id))).scalar_one()
    items = db.session.execute(
        query.order_by(Saga.created_at.desc(), Saga.id).limit(page_size).offset((page - 1) * page_size)
    ).scalars().all()
    return list(items), total

