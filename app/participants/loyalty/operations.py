"""The loyalty ledger's verbs: award pending miles, post them, reverse them, sum a balance."""

from __future__ import annotations

import logging

from sqlalchemy import case, func

from app.models.types import new_uuid, utcnow
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


def find(award_id: str, *, for_update: bool = False) -> Award:
    query = db.select(Award).filter_by(id=award_id)
    award = db.session.execute(query.with_for_update() if for_update else query).scalar_one_or_none()
    if award is None:
        raise ServiceError(404, "award_not_found", f"No award {award_id}.")
    return award


def post(award: Award) -> Award:
    """Makes pending miles part of the balance; posting a posted award changes nothing."""
    if award.status == AwardStatus.POSTED:
        return award
    if award.status != AwardStatus.PENDING:
        raise ServiceError(409, "invalid_state", f"Cannot post an award that is {award.status}.",
                           award_status=award.status)
    award.posted_at = utcnow()
    _transition(award, AwardStatus.POSTED)
    return award


def reverse(award: Award) -> Award:
    """Takes the miles back, pending or posted; reversing a reversed award changes nothing."""
    if award.status == AwardStatus.REVERSED:
        return award
    award.reversed_at = utcnow()
    _transition(award, AwardStatus.REVERSED)
    return award


def balance(account_id: str) -> tuple[int, int]:
    """(posted, pending) miles of an account; an account with no awards has (0, 0)."""
    def total(status: AwardStatus):
        return func.coalesce(func.sum(case((Award.status == status, Award.miles), else_=0)), 0)

    query = db.select(total(AwardStatus.POSTED), total(AwardStatus.PENDING)).filter_by(account_id=account_id)
    posted, pending = db.session.execute(query).one()
    return int(posted), int(pending)


def _transition(award: Award, status: AwardStatus) -> None:
    log.info("award %s %s -> %s (%d miles, account %s)", award.id, award.status, status, award.miles,
             award.account_id)
    award.status = status
