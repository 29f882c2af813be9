"""Seat holds: the operations that keep a hold's SQL row and its Redis keys together.

Redis (app/seat_holds.py) answers fast, and all or none, who holds a seat. The hold row is the
guarantee: a hold is active while ``status = 'held' AND expires_at > now``, whatever Redis still
remembers, and every status change is a conditional UPDATE, so concurrent callers cannot undo
each other. Operations commit the session; Redis connection errors and timeouts surface as
HoldStoreUnavailable (transient). Nothing else touches a hold's keys: the saga goes through here too.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import secrets
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import Row, bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from app import hold_limits, seat_holds
from app.catalog import check_sales_open, quote, seat_rows
from app.errors import HoldInUse, HoldLimitReached, HoldRejected, HoldStoreUnavailable, SeatUnavailable
from app.extensions import db, get_redis, lock_rows
from app.models import Flight, Hold, HoldStatus, TicketSeat, User
from app.models.types import utcnow

log = logging.getLogger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError)


@contextmanager
def hold_store_errors() -> Iterator[None]:
    """Turn Redis connection errors and timeouts into HoldStoreUnavailable."""
    try:
        yield
    except REDIS_DOWN as exc:
        raise HoldStoreUnavailable(f"the seat-hold store did not answer: {exc}") from exc


def take_hold(
    user_id: int,
    flight: Flight,
    seats: list[str],
    *,
    saga_id: str | None = None,
    ttl_seconds: int | None = None,
    enforce_limits: bool = True,
    client_address: str | None = None,
) -> Hold:
    """Hold `seats` of `flight` for the user: Redis all or none, then the SQL check, then the row.

    `enforce_limits` applies the traveller's rules: the sales cut-off, the active-hold limit and the
    seat caps of app/hold_limits.py. A saga taking the hold of a direct booking passes False: its
    POST was checked against the same rules (app/bookings.py), and a saga does not re-check them at
    each step (a booking accepted before the cut-off may confirm just after it).
    """
    config = current_app.config
    seats = list(seats)
    flight_id = flight.id
    ttl = timedelta(seconds=config["HOLD_TTL_SECONDS"] if ttl_seconds is None else ttl_seconds)
    if ttl <= timedelta(0):
        raise ValueError(f"a hold TTL must be positive, not {ttl_seconds} s")
    rows = _validate_seats(flight_id, seats, config["MAX_SEATS_PER_HOLD"])
    r = get_redis()
    token = hold_token(saga_id)
    acquired = False
    try:
        if enforce_limits:
            check_sales_open(flight)
            _check_limit(user_id, config["MAX_ACTIVE_HOLDS"])
            hold_limits.check(db.session.get(User, user_id), client_address, flight_id, len(seats))
        price = quote(flight, seats, rows)
        # Taken before the keys are set, so the row never outlives its keys.
        expires_at = utcnow() + ttl
        with hold_store_errors():
            taken = seat_holds.acquire(r, flight_id, seats, token, _ms(ttl))
        if taken:
            raise SeatUnavailable(f"Already held: {', '.join(taken)}.", seats=taken)
        acquired = True
        # Redis may have lost keys (restart, failover): the rows decide.
        taken = _taken_in_sql(flight_id, seats, saga_id)
        if taken:
            raise SeatUnavailable(f"Already held or booked: {', '.join(taken)}.", seats=taken)
        hold = Hold(
            flight_id=flight_id,
            user_id=user_id,
            saga_id=saga_id,
            token=token,
            seats=seats,
            client_address=client_address,
            amount=price.amount,
            currency=price.currency,
            status=HoldStatus.HELD,
            expires_at=expires_at,
        )
        db.session.add(hold)
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        twin = _hold_of_saga(saga_id)
        if twin is None:
            raise
        # A duplicate delivery of the same saga step inserted it first; the keys are both ours.
        return twin
    except BaseException:
        db.session.rollback()
        if acquired and _hold_of_saga(saga_id) is None:
            _release_quietly(flight_id, seats, token)
        raise
    return hold


def _hold_of_saga(saga_id: str | None) -> Hold | None:
    if saga_id is None:
        return None
    return db.session.scalars(select(Hold).where(Hold.saga_id == saga_id)).first()


def hold_token(saga_id: str | None = None) -> str:
    """The value of a new hold's keys: random, or for a saga derived from its id.

    A saga's worker may die between setting the keys and committing the row; its retry then
    finds keys with its own token, which count as its own, instead of seats taken by nobody.
    """
    if saga_id is None:
        return secrets.token_hex(16)
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"hold:{saga_id}".encode(), hashlib.sha256).hexdigest()[:32]


def reclaim_keys(hold: Hold) -> list[str]:
    """Set an adopted hold's keys again (Redis may have lost them); the seats another token holds."""
    with hold_store_errors():
        return seat_holds.acquire(get_redis(), hold.flight_id, hold.seats, hold.token,
                                  max(1, int((hold.expires_at - utcnow()).total_seconds() * 1000)))


def keys_held_by_others(hold: Hold) -> list[str]:
    """The fence, Redis side: the seats whose key holds another token now (a missing key passes:
    SQL is the guarantee)."""
    with hold_store_errors():
        return seat_holds.fence(get_redis(), hold.flight_id, hold.seats, hold.token)


def seat_keys(hold: Hold) -> tuple[int, list[str], str]:
    """What names a hold's Redis keys: its flight, seats and token (read before a commit expires
    the row, so that deleting the keys after it needs no reload)."""
    return hold.flight_id, list(hold.seats), hold.token


def release_keys(flight_id: int, seats: list[str], token: str) -> None:
    """Delete the keys of a hold whose seats are a ticket's now. Quietly: past the pivot the
    ticket is the record, and the keys expire with their TTL anyway. Takes seat_keys(hold), not
    the hold: the ticket's commit has just expired its row."""
    _release_quietly(flight_id, seats, token)


def release_hold(hold: Hold, *, status: str = HoldStatus.RELEASED) -> bool:
    """Move a `held` hold to `status` and delete its keys; True if this call changed the row."""
    if status == HoldStatus.HELD:
        raise ValueError("release_hold moves a hold out of `held`, not into it")
    flight_id, seats, token = seat_keys(hold)
    changed = _set_status(hold, status, Hold.status == HoldStatus.HELD)
    # Also when nothing changed: a retry after a Redis failure still deletes the keys.
    _delete_keys(flight_id, seats, token)
    return changed


def withdraw_hold(hold: Hold) -> None:
    """The owner gives a hold back; refused (HoldInUse) once a booking adopted or consumed it."""
    if _in_use(hold):
        raise HoldInUse(hold.id)
    flight_id, seats, token = seat_keys(hold)
    status = HoldStatus.EXPIRED if hold.public_status == HoldStatus.EXPIRED else HoldStatus.RELEASED
    # `saga_id IS NULL` in the UPDATE itself: a saga adopting the hold meanwhile wins.
    changed = _set_status(hold, status, Hold.status == HoldStatus.HELD, Hold.saga_id.is_(None))
    if not changed and _in_use(hold):
        raise HoldInUse(hold.id)
    _delete_keys(flight_id, seats, token)


def extend_hold(hold: Hold, until: datetime) -> bool:
    """Stretch an active hold to `until`, capped at created_at + HOLD_MAX_SECONDS and never shortened.

    Returns False, changing nothing, when the hold is no longer active.
    """
    now = utcnow()
    cap = hold.created_at + timedelta(seconds=current_app.config["HOLD_MAX_SECONDS"])
    target = min(until, cap)
    flight_id, seats, token = seat_keys(hold)
    db.session.execute(
        update(Hold)
        .where(Hold.id == hold.id, Hold.active_clause(now), Hold.expires_at < target)
        .values(expires_at=target, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if not hold.is_active(now):
        return False
    ttl_ms = _ms(hold.expires_at - now)
    with hold_store_errors():
        lost = seat_holds.extend(get_redis(), flight_id, seats, token, ttl_ms)
        if lost:
            # Put back keys Redis lost; a seat another token grabbed stays theirs in Redis, and
            # the SQL check turns them away.
            seat_holds.acquire(get_redis(), flight_id, lost, token, ttl_ms)
    return True


def active_holds_of(user_id: int) -> int:
    """How many active holds the user has."""
    return db.session.scalar(
        select(func.count()).select_from(Hold).where(Hold.user_id == user_id, Hold.active_clause())
    )


def sweep_expired(now: datetime | None = None, batch: int = 500) -> list[str]:
    """Mark lapsed `held` rows `expired` and delete their leftover keys; returns the ids expired."""
    now = now or utcnow()
    lapsed = (Hold.status == HoldStatus.HELD) & (Hold.expires_at <= now)
    expired: list[str] = []
    redis_up = True
    while True:
        ids = db.session.scalars(
            select(Hold.id).where(lapsed).order_by(Hold.expires_at).limit(batch)
        ).all()
        if not ids:
            return expired
        # The status condition again in the UPDATE: a concurrent sweep or release wins the row.
        rows = db.session.execute(
            update(Hold)
            .where(Hold.id.in_(ids), lapsed)
            .values(status=HoldStatus.EXPIRED, updated_at=utcnow())
            .returning(Hold.id, Hold.flight_id, Hold.seats, Hold.token)
            .execution_options(synchronize_session=False)
        ).all()
        db.session.commit()
        expired.extend(row.id for row in rows)
        if redis_up:
            redis_up = _delete_keys_of_rows(rows)


def _validate_seats(flight_id: int, seats: list[str], max_seats: int) -> dict[str, Row]:
    """The seats' rows (for their price), once they are known to be seats that can be held."""
    if not seats:
        raise HoldRejected("Choose at least one seat.", {"seats": ["Choose at least one seat."]})
    if len(seats) > max_seats:
        message = f"At most {max_seats} seats per hold."
        raise HoldRejected(message, {"seats": [message]})
    messages = []
    duplicates = [seat for seat, count in Counter(seats).items() if count > 1]
    if duplicates:
        messages.append(f"Listed more than once: {', '.join(duplicates)}.")
    rows = seat_rows(flight_id, seats)
    blocked_by_number = {number: row.blocked for number, row in rows.items()}
    unknown = [seat for seat in dict.fromkeys(seats) if seat not in blocked_by_number]
    if unknown:
        messages.append(f"Not on this flight's seat map: {', '.join(unknown)}.")
    blocked = [seat for seat in dict.fromkeys(seats) if blocked_by_number.get(seat)]
    if blocked:
        messages.append(f"Not for sale: {', '.join(blocked)}.")
    if messages:
        raise HoldRejected("These seats cannot be held.", {"seats": messages})
    return rows


def _check_limit(user_id: int, limit: int) -> None:
    now = utcnow()
    # The row lock makes one user's concurrent requests count one after another.
    lock_rows(select(User.id).where(User.id == user_id))
    expiries = db.session.scalars(
        select(Hold.expires_at)
        .where(Hold.user_id == user_id, Hold.active_clause(now))
        .order_by(Hold.expires_at)
    ).all()
    if len(expiries) >= limit:
        wait = math.ceil((expiries[0] - now).total_seconds())
        raise HoldLimitReached(limit, retry_after=max(1, wait))


@cache
def _taken_reads(for_saga: bool):
    """The reads of _taken_in_sql, built once per shape (every reserve_seat runs them)."""
    others = select(Hold.seats).where(Hold.flight_id == bindparam("flight_id"),
                                      Hold.active_clause(bindparam("now")))
    if for_saga:
        others = others.where((Hold.saga_id != bindparam("saga_id")) | Hold.saga_id.is_(None))
    sold = select(TicketSeat.seat_number).where(
        TicketSeat.flight_id == bindparam("flight_id"), TicketSeat.active_clause(),
        TicketSeat.seat_number.in_(bindparam("seats", expanding=True)))
    return others, sold


def _taken_in_sql(flight_id: int, seats: list[str], saga_id: str | None = None) -> list[str]:
    """The seats an active hold row (not this saga's own) or an active ticket already covers."""
    wanted = set(seats)
    covered: set[str] = set()
    others, sold = _taken_reads(saga_id is not None)
    params = {"flight_id": flight_id, "now": utcnow(), "saga_id": saga_id, "seats": list(seats)}
    for held in db.session.scalars(others, params):
        covered.update(wanted.intersection(held))
    covered.update(db.session.scalars(sold, params))
    return [seat for seat in seats if seat in covered]


def _in_use(hold: Hold) -> bool:
    return hold.status == HoldStatus.CONSUMED or (
        hold.status == HoldStatus.HELD and hold.saga_id is not None
    )


def _set_status(hold: Hold, status: str, *conditions) -> bool:
    """One conditional UPDATE of the hold's status, committed; True if it changed the row."""
    result = db.session.execute(
        update(Hold)
        .where(Hold.id == hold.id, *conditions)
        .values(status=status, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return result.rowcount == 1


def _delete_keys(flight_id: int, seats: list[str], token: str) -> None:
    with hold_store_errors():
        seat_holds.release(get_redis(), flight_id, seats, token)


def _release_quietly(flight_id: int, seats: list[str], token: str) -> None:
    # Cleanup after a failure: the keys expire with their TTL anyway, and the first error matters.
    with suppress(*REDIS_DOWN):
        seat_holds.release(get_redis(), flight_id, seats, token)


def _delete_keys_of_rows(rows) -> bool:
    """Delete the keys of swept rows; False when Redis is down (their TTL removes them anyway)."""
    try:
        for row in rows:
            seat_holds.release(get_redis(), row.flight_id, row.seats, row.token)
    except REDIS_DOWN as exc:
        # The rows are already expired in SQL, which is what counts; the caller still needs the
        # ids, so this sweep carries on without Redis.
        log.warning("hold sweep: leaving Redis keys to their TTL: %s", exc)
        return False
    return True


def _ms(ttl: timedelta) -> int:
    return max(1, math.ceil(ttl.total_seconds() * 1000))
