"""Beat janitors: idempotent, safe to run twice or to overlap. Each logs what it did."""

from __future__ import annotations

import logging

from celery import shared_task

from app import holds, recovery
from app.extensions import db
from app.models import IdempotencyKey
from app.models.types import utcnow
from app.tasks.chains import dispatch

log = logging.getLogger("maintenance")


@shared_task(name="maintenance.sweep_expired_holds")
def sweep_expired_holds() -> dict:
    """Mark lapsed holds expired, delete their keys, compensate sagas that lost their hold."""
    expired = holds.sweep_expired()
    lapsed = recovery.lapsed_holds()
    for redrive in lapsed:
        dispatch(redrive)
    result = {"holds_expired": len(expired), "sagas_compensated": len(lapsed)}
    if expired or lapsed:
        log.info("swept holds: %s", result, extra=result)
    return result


@shared_task(name="maintenance.reconcile_sagas")
def reconcile_sagas() -> dict:
    """Re-drive sagas that made no progress for too long (a worker died, the broker lost a task)."""
    redrives = recovery.stalled_sagas()
    for redrive in redrives:
        dispatch(redrive)
    return {"sagas_redriven": len(redrives)}


@shared_task(name="maintenance.retry_debts")
def retry_debts() -> dict:
    """Try owed compensations again, with backoff; settle sagas whose debts are all paid."""
    return {"sagas_settled": len(recovery.retry_debts())}


@shared_task(name="maintenance.prune_idempotency_keys")
def prune_idempotency_keys() -> dict:
    """Forget Idempotency-Keys past their retention."""
    deleted = db.session.execute(
        db.delete(IdempotencyKey).where(IdempotencyKey.expires_at < utcnow())
    ).rowcount
    db.session.commit()
    return {"keys_pruned": deleted}

