"""Seat spinning (OWASP API6): how many seats one actor may hold at once, per flight and in total.

Accounts cost nothing to make, so a cap per account alone is a cap per minute of sign-ups: the caps
also count per client address (the address app/security.py settles, right only with
TRUSTED_PROXIES set to the proxies in front), and accounts younger than NEW_ACCOUNT_SECONDS hold
fewer seats. What counts is every seat an actor holds or is about to hold: active holds (the ones a
saga took for a direct booking included) and direct bookings whose saga has not taken its hold yet.
Each cap is a setting (app/config.py); 0 turns it off.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from flask import current_app
from sqlalchemy import bindparam, exists, or_, select

from app.errors import HoldLimitReached
from app.extensions import db, in_list
from app.models import Hold, Saga, SagaStatus, User
from app.models.types import utcnow

# A direct booking's saga takes its hold within moments: a refusal that counted one says to come
# back after that.
PENDING_BOOKING_RETRY_SECONDS = 5


@dataclass(frozen=True)
class Claim:
    """Seats an actor holds, or a direct booking is about to hold, on one flight."""

    user_id: int
    address: str | None
    flight_id: int
    seats: int
    expires_at: datetime | None  # None: a booking whose saga has not taken its hold yet


@dataclass(frozen=True)
class Cap:
    setting: str
    scope: str
    says: str  # completes "At most N seats held at once ..."

    def counts(self, claim: Claim, user: User, address: str | None, flight_id: int) -> bool:
        same_flight = claim.flight_id == flight_id
        if self.scope in ("account-flight", "account", "new-account"):
            mine = claim.user_id == user.id
            return mine and (same_flight or self.scope != "account-flight")
        ours = address is not None and claim.address == address
        return ours and (same_flight or self.scope != "address-flight")


CAPS: tuple[Cap, ...] = (
    Cap("MAX_HELD_SEATS_PER_FLIGHT", "account-flight", "on one flight per account"),
    Cap("MAX_HELD_SEATS_NEW_ACCOUNT", "new-account", "by a new account"),
    Cap("MAX_HELD_SEATS_PER_ACCOUNT", "account", "per account"),
    Cap("MAX_HELD_SEATS_PER_ADDRESS_PER_FLIGHT", "address-flight", "on one flight from one address"),
    Cap("MAX_HELD_SEATS_PER_ADDRESS", "address", "from one address"),
)


def check(user: User, address: str | None, flight_id: int, seats: int) -> None:
    """Raise HoldLimitReached if `seats` more on `flight_id` would take the caller past a cap.

    The caller holds the user's row lock (SELECT ... FOR UPDATE, on PostgreSQL), so one account's
    concurrent requests count one after another; requests of several accounts from one address
    may overshoot the address caps by what is in flight at the same instant.
    """
    config = current_app.config
    now = utcnow()
    young = user.created_at > now - timedelta(seconds=config["NEW_ACCOUNT_SECONDS"])
    claims = list(_claims(user.id, address, now))
    for cap in CAPS:
        limit = config[cap.setting]
        if not limit or (cap.scope == "new-account" and not young):
            continue
        counted = [claim for claim in claims if cap.counts(claim, user, address, flight_id)]
        if sum(claim.seats for claim in counted) + seats > limit:
            raise HoldLimitReached(
                limit, _retry_after(counted, now), scope=cap.scope,
                detail=f"At most {limit} seats held at once {cap.says}; book or release some, or "
                       f"wait for a hold to expire.")


# Built once per shape (with or without the caller's address): every booking and hold reads them.
@cache
def _claim_reads(by_address: bool):
    actor_holds = [Hold.user_id == bindparam("user_id")]
    actor_sagas = [Saga.user_id == bindparam("user_id")]
    if by_address:
        actor_holds.append(Hold.client_address == bindparam("address"))
        actor_sagas.append(Saga.client_address == bindparam("address"))
    holds = (select(Hold.user_id, Hold.client_address, Hold.flight_id, Hold.seats, Hold.expires_at)
             .where(Hold.active_clause(bindparam("now")), or_(*actor_holds)))
    # A direct booking counts from its POST until its saga's hold (counted by the first) exists.
    waiting = (select(Saga.user_id, Saga.client_address, Saga.flight_id, Saga.seats)
               .where(Saga.status.in_(in_list((SagaStatus.PENDING, SagaStatus.RUNNING))),
                      Saga.hold_id.is_(None), ~exists().where(Hold.saga_id == Saga.id), or_(*actor_sagas)))
    return holds, waiting


def _claims(user_id: int, address: str | None, now: datetime) -> Iterable[Claim]:
    holds, waiting = _claim_reads(address is not None)
    params = {"user_id": user_id, "address": address, "now": now}
    for row in db.session.execute(holds, params):
        yield Claim(row.user_id, row.client_address, row.flight_id, len(row.seats), row.expires_at)
    for row in db.session.execute(waiting, params):
        yield Claim(row.user_id, row.client_address, row.flight_id, len(row.seats), None)


def _retry_after(counted: list[Claim], now: datetime) -> int:
    expiries = [claim.expires_at for claim in counted if claim.expires_at is not None]
    if not expiries:
        return PENDING_BOOKING_RETRY_SECONDS
    return max(1, math.ceil((min(expiries) - now).total_seconds()))
