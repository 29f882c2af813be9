"""Gauges read at scrape time: sagas in flight, open debts, active holds (SQL), queue length (broker).

Each is one small aggregate query: sagas through the (status, progressed_at) index, debts through
the paid_at index; active holds are counted over the holds table, whose `held` rows the sweep
keeps few (an index on (status, expires_at) would make that count independent of its history).
A source that does not answer is reported by booking_metrics_source_up; the scrape goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from flask import current_app
from prometheus_client.core import GaugeMetricFamily, Metric
from sqlalchemy import func, select

from app import saga_log
from app.extensions import db
from app.models import Debt, Hold, Saga, SagaStatus
from app.models.types import utcnow

log = logging.getLogger(__name__)

# Statuses a saga leaves again (and needs_attention, which waits for an operator): few rows, so
# counting them is cheap, unlike confirmed or failed, which only grow.
OPEN_STATUSES = (SagaStatus.PENDING, SagaStatus.RUNNING, SagaStatus.COMPENSATING,
                 SagaStatus.CANCELLING, SagaStatus.NEEDS_ATTENTION)


def collect() -> Iterator[Metric]:
    """Every scrape-time gauge; needs an app context."""
    up = GaugeMetricFamily("booking_metrics_source_up",
                           "1 when the source of the scrape-time gauges answered, else 0.",
                           labels=["source"])
    for source, read in (("database", _database), ("broker", _broker)):
        try:
            families = list(read())
        except Exception as exc:  # a scrape reports a source that is down, and goes on
            log.warning("metrics: %s did not answer: %s", source, exc)
            if source == "database":
                db.session.rollback()
            up.add_metric([source], 0)
            continue
        up.add_metric([source], 1)
        yield from families
    yield up


def _database() -> Iterator[Metric]:
    sagas = GaugeMetricFamily("booking_sagas", "Sagas now in each status that is not final "
                              "(needs_attention waits for an operator).", labels=["status"])
    counts = dict(db.session.execute(
        select(Saga.status, func.count()).where(Saga.status.in_(OPEN_STATUSES)).group_by(Saga.status)
    ).all())
    for status in OPEN_STATUSES:
        sagas.add_metric([status.value], counts.get(status, 0))
    yield sagas

    versions = GaugeMetricFamily(
        "booking_sagas_in_flight_by_version", "Sagas with work left, by the definition version they run "
        "under (including confirmed ones whose follow-ups are not done): a version at 0 can be removed.",
        labels=["version"])
    for version, count in saga_log.in_flight_by_version().items():
        versions.add_metric([str(version)], count)
    yield versions

    # The oldest saga with work left: a step retrying forward past the pivot against a refusal
    # that will not pass moves nothing else (other sagas keep ending), and only this shows it.
    oldest = db.session.execute(select(func.min(Saga.created_at)).where(saga_log.in_flight())).scalar()
    yield GaugeMetricFamily(
        "booking_saga_oldest_in_flight_seconds", "Age of the oldest saga with work left (0 when none): "
        "sagas end in seconds, so minutes mean one is retrying against something that does not pass.",
        value=(utcnow() - oldest).total_seconds() if oldest else 0)

    debts = GaugeMetricFamily("booking_open_debts", "Compensations owed (debts not yet paid), by step.",
                              labels=["step"])
    for step, count in db.session.execute(
        select(Debt.step, func.count()).where(Debt.paid_at.is_(None)).group_by(Debt.step)
    ).all():
        debts.add_metric([step], count)
    yield debts

    active = db.session.execute(select(func.count()).select_from(Hold).where(Hold.active_clause(utcnow())))
    yield GaugeMetricFamily("booking_active_holds", "Seat holds active now (held and unexpired).",
                            value=active.scalar_one())
    db.session.rollback()  # end the read transaction; a scrape holds no locks


def broker_client() -> redis.Redis:
    """A client of the Celery broker's Redis DB, made once per app."""
    client = current_app.extensions.get("metrics_broker")
    if client is None:
        client = redis.Redis.from_url(current_app.config["CELERY_BROKER_URL"], socket_timeout=1,
                                      socket_connect_timeout=1)
        current_app.extensions["metrics_broker"] = client
    return client


def _broker() -> Iterator[Metric]:
    conf = current_app.extensions["celery"].conf
    names = dict.fromkeys([conf.task_default_queue, *(queue.name for queue in conf.task_queues or ())])
    length = GaugeMetricFamily("booking_celery_queue_length", "Tasks waiting in each Celery queue on the "
                               "broker (LLEN): the janitors' and one per saga definition version.",
                               labels=["queue"])
    for name in names:
        length.add_metric([name], broker_client().llen(name))
    yield length
