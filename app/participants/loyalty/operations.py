"""The loyalty ledger's verbs: award pending miles, post them, reverse them, sum a balance."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import case, func

from app.models.types import new_uuid, utcnow
from app.participants import transitions
from app.participants.loyalty.models import Award, AwardStatus, db
from app.participants.web import ServiceError

log = logging.getLogger(__name__)


def create_award(account_id: str, miles: int, reference: str) -> Award:
    """Pending miles: shown apart from the balance and not spendable until posted."""
    award = Award(id=new_uuid(), account_id=account_id, miles=miles, reference=reference,
                  status=AwardStatus.PENDING)
    db.session.add(award)
    db.session.flush()
    log.info("award %s pending: %d miles to account %s for %s", award.id, miles, account_id, reference)
    return award


def find(award_id: str) -> Award:
    award = db.session.get(Award, award_id)
    if award is None:
        raise ServiceError(404, "award_not_found", f"No award {award_id}.")
    return award


def post(award_id: str) -> Award:
    """Makes pending miles part of the balance; posting a posted award changes nothing."""
    def decide(award: Award) -> dict | None:
        if award.status == AwardStatus.POSTED:
            return None
        if award.status != AwardStatus.PENDING:
            raise ServiceError(409, "invalid_state", f"Cannot post an award that is {award.status}.",
                               award_status=award.status)
        return {"status": AwardStatus.POSTED, "posted_at": utcnow()}

    return _change(award_id, decide)


def reverse(award_id: str) -> Award:
    """Takes the miles back, pending or posted; reversing a reversed award changes nothing."""
    def decide(award: Award) -> dict | None:
        if award.status == AwardStatus.REVERSED:
            return None
        return {"status": AwardStatus.REVERSED, "reversed_at": utcnow()}

    return _change(award_id, decide)


def balance(account_id: str) -> tuple[int, int]:
    """(posted, pending) miles of an account; an account with no awards has (0, 0)."""
    def total(status: AwardStatus):
        return func.coalesce(func.sum(case((Award.status == status, Award.miles), else_=0)), 0)

    query = db.select(total(AwardStatus.POSTED), total(AwardStatus.PENDING)).filter_by(account_id=account_id)
    posted, pending = db.session.execute(query).one()
    return int(posted), int(pending)


def _change(award_id: str, decide: Callable[[Award], dict | None]) -> Award:
    award = find(award_id)
    before = transitions.change(db, award, decide)
    if before is not None:
        log.info("award %s %s -> %s (%d miles, account %s)", award.id, before, award.status, award.miles,
                 award.account_id)
    return award
