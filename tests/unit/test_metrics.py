"""/metrics: the recorded counters, the gauges read at scrape time, and a source that is down."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from types import SimpleNamespace

import fakeredis
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import saga as definition
from app import saga_log
from app.errors import CardDeclined
from app.extensions import db
from app.models import Debt, Saga, SagaStatus, SagaStep
from app.models.types import utcnow
from app.observability import multiproc, task_signals
from tests.conftest import METRICS_TOKEN


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics", headers=SCRAPER)
    assert response.status_code == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def sample(name: str, **labels: str) -> tuple:
    return name, tuple(sorted(labels.items()))


@pytest.fixture
def broker(app):
    """The broker the queue-length gauge reads, faked."""
    fake = fakeredis.FakeRedis()
    app.extensions["metrics_broker"] = fake
    return fake


def test_scrape_time_gauges_count_what_the_database_holds_now(app, client, broker, insert_saga, make_user,
                                                             make_flight, insert_hold):
    for status in ("pending", "running", "running", "compensating", "needs_attention", "confirmed"):
        insert_saga(status)
    owing = insert_saga(SagaStatus.NEEDS_ATTENTION)
    db.session.add_all([Debt(saga_id=owing.id, step="cancel_payment", reason="payment_unavailable"),
                        Debt(saga_id=owing.id, step="reverse_miles", reason="loyalty_unavailable"),
                        Debt(saga_id=owing.id, step="cancel_seat", reason="internal_error",
                             paid_at=utcnow())])
    db.session.commit()
    flight, user = make_flight("SA901"), make_user()
    insert_hold(flight, user, ["10A"])
    insert_hold(flight, user, ["10B"], expires_in=-5)  # lapsed, not yet swept: not active
    broker.rpush("celery", "a", "b", "c")

    seen = scrape(client)
    assert {status: seen[sample("booking_sagas", status=status)]
            for status in ("pending", "running", "compensating", "cancelling", "needs_attention")} == \
        {"pending": 1, "running": 2, "compensating": 1, "cancelling": 0, "needs_attention": 2}
    assert sample("booking_sagas", status="confirmed") not in seen  # final statuses only grow
    assert seen[sample("booking_open_debts", step="cancel_payment")] == 1
    assert seen[sample("booking_open_debts", step="reverse_miles")] == 1
    assert sample("booking_open_debts", step="cancel_seat") not in seen
    assert seen[sample("booking_active_holds")] == 1
    assert seen[sample("booking_celery_queue_length", queue="celery")] == 3
    assert seen[sample("booking_metrics_source_up", source="database")] == 1
    assert seen[sample("booking_metrics_source_up", source="broker")] == 1


def test_the_oldest_saga_with_work_left_is_measured_from_its_creation(app, client, broker, insert_saga):
    assert scrape(client)[sample("booking_saga_oldest_in_flight_seconds")] == 0
    insert_saga(SagaStatus.CONFIRMED, completed_at=utcnow(), created_at=utcnow() - timedelta(hours=2))
    insert_saga(SagaStatus.FAILED, created_at=utcnow() - timedelta(hours=3))
    insert_saga(SagaStatus.RUNNING, created_at=utcnow() - timedelta(seconds=5))
    # Confirmed at its pivot, its follow-up still retrying: work left.
    insert_saga(SagaStatus.CONFIRMED, created_at=utcnow() - timedelta(minutes=20))

    age = scrape(client)[sample("booking_saga_oldest_in_flight_seconds")]
    assert 20 * 60 <= age < 21 * 60


def test_a_source_that_is_down_is_reported_and_the_scrape_still_answers(make_app, tmp_path):
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'no-such-dir' / 'booking.db'}",
                   CELERY_BROKER_URL="redis://127.0.0.1:9/0")
    with app.app_context():
        seen = scrape(app.test_client())
    assert seen[sample("booking_metrics_source_up", source="database")] == 0
    assert seen[sample("booking_metrics_source_up", source="broker")] == 0
    assert sample("booking_sagas_started_total") in seen  # the recorded counters are still served


def _with_steps(saga: Saga) -> Saga:
    saga.steps = [SagaStep(name=name, kind="action", position=n)
                  for n, name in enumerate(definition.V1.action_names, 1)]
    db.session.commit()
    return saga


def test_transitions_count_sagas_started_and_ended_with_their_reason(app, client, broker, insert_saga):
    before = scrape(client)
    declined = _with_steps(insert_saga(SagaStatus.PENDING))
    saga_log.start_step(declined.id, 1, "reserve_seat", "action", "t-1")  # pending -> running
    saga_log.finish_step(declined.id, 1, "reserve_seat", "succeeded")
    saga_log.start_step(declined.id, 1, "authorize_payment", "action", "t-2")
    saga_log.finish_step(declined.id, 1, "authorize_payment", "failed", CardDeclined("declined"))
    fence, names = saga_log.begin_compensation(declined.id, 1, "authorize_payment", CardDeclined("declined"))
    assert saga_log.begin_compensation(declined.id, 1, "authorize_payment", CardDeclined("x")) is None
    for name in names:
        saga_log.start_step(declined.id, fence, name, "compensation", "t-3")
        saga_log.finish_step(declined.id, fence, name, "succeeded")
    assert saga_log.finish(declined.id, fence) == "failed"
    assert saga_log.finish(declined.id, fence) is None  # lost the race: no count
    confirmed = _with_steps(insert_saga(SagaStatus.RUNNING))
    for name in definition.V1.action_names:  # insert_saga's sagas run v1
        saga_log.start_step(confirmed.id, 1, name, "action", "t-4")
        last = name == definition.V1.pivot
        saga_log.finish_step(confirmed.id, 1, name, "succeeded", saga_status="confirmed" if last else None)
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return after.get(sample(name, **labels), 0) - before.get(sample(name, **labels), 0)

    assert grew("booking_sagas_started_total") == 1
    assert grew("booking_sagas_ended_total", status="failed", reason="card_declined") == 1
    assert grew("booking_sagas_ended_total", status="confirmed", reason="none") == 1


def test_compensations_are_counted_when_they_succeed_or_leave_a_debt(app, client, broker, insert_saga):
    saga = insert_saga(SagaStatus.COMPENSATING)
    saga.steps = [SagaStep(name=name, kind="compensation", position=n)
                  for n, name in enumerate(["cancel_payment", "cancel_seat"], 1)]
    db.session.commit()
    before = scrape(client)
    saga_log.finish_step(saga.id, 1, "cancel_seat", "running", RuntimeError("will retry"))
    saga_log.finish_step(saga.id, 1, "cancel_seat", "succeeded")
    saga_log.record_debt(saga.id, 1, "cancel_payment", RuntimeError("payment service down"))
    after = scrape(client)

    def grew(**labels: str) -> float:
        key = sample("booking_saga_compensations_total", **labels)
        return after.get(key, 0) - before.get(key, 0)

    assert grew(step="cancel_seat", outcome="succeeded") == 1
    assert grew(step="cancel_payment", outcome="debt") == 1


def test_task_signals_time_steps_count_retries_and_sum_janitor_results(client, broker):
    before = scrape(client)
    step = SimpleNamespace(name="saga.cancel_payment")
    task_signals.on_prerun("t-1", step)
    task_signals.on_postrun("t-1", step, state="SUCCESS", retval=None)
    task_signals.on_retry(sender=SimpleNamespace(name="saga.authorize_payment"))
    task_signals.on_retry(sender=SimpleNamespace(name="saga.finish"))  # not a step: not counted
    janitor = SimpleNamespace(name="maintenance.sweep_expired_holds")
    runs = ({"holds_expired": 3, "sagas_compensated": 0}, {"holds_expired": 2, "sagas_compensated": 1})
    for result in runs:
        task_signals.on_prerun("t-2", janitor)
        task_signals.on_postrun("t-2", janitor, state="SUCCESS", retval=result)
    after = scrape(client)

    def grew(name: str, **labels: str) -> float:
        return after.get(sample(name, **labels), 0) - before.get(sample(name, **labels), 0)

    assert grew("booking_saga_step_duration_seconds_count", step="cancel_payment", kind="compensation") == 1
    assert grew("booking_saga_step_retries_total", step="authorize_payment") == 1
    assert sample("booking_saga_step_retries_total", step="finish") not in after
    sweep = "sweep_expired_holds"
    assert grew("booking_janitor_runs_total", janitor=sweep, state="SUCCESS") == 2
    assert grew("booking_janitor_results_total", janitor=sweep, outcome="holds_expired") == 5
    assert grew("booking_janitor_results_total", janitor=sweep, outcome="sagas_compensated") == 1


@pytest.mark.parametrize(("task_name", "expected"), [
    ("saga.reserve_seat", ("reserve_seat", "action")),
    ("saga.cancel_booking", ("cancel_booking", "compensation")),
    ("saga.finish", None),
    ("saga.on_step_failed", None),
    ("maintenance.retry_debts", None),
])
def test_step_tasks_are_told_from_the_others(task_name, expected):
    assert task_signals.step_kind(task_name) == expected


def test_the_metrics_directory_forgets_finished_processes_only(tmp_path, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    monkeypatch.setattr(multiproc, "DEFAULT_DIR", tmp_path / "prometheus")
    directory = multiproc.prepare()
    assert directory.is_dir() and str(directory) == str(tmp_path / "prometheus")
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead_pid = int(finished.stdout)
    for name in (f"counter_{dead_pid}.db", f"histogram_{dead_pid}.db", f"counter_{multiproc.os.getpid()}.db"):
        (directory / name).write_bytes(b"")
    removed = multiproc.prune_dead(directory)
    assert sorted(path.name for path in removed) == [f"counter_{dead_pid}.db", f"histogram_{dead_pid}.db"]
    assert [path.name for path in directory.iterdir()] == [f"counter_{multiproc.os.getpid()}.db"]


def test_a_worker_machine_can_serve_its_own_metrics():
    import httpx

    from tests.e2e.stack import free_port

    port = free_port()
    server = task_signals.start_metrics_server(port, "127.0.0.1")
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 200
    assert "booking_sagas_started_total" in response.text
    assert "booking_metrics_source_up" not in response.text  # the SQL gauges come from the web app


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"},
                                     {"Authorization": f"Bearer {METRICS_TOKEN}x"}])
def test_metrics_are_for_the_scraper_only(client, headers):
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 401
    assert "booking_" not in response.get_data(as_text=True)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_without_a_metrics_token_there_are_no_metrics(make_app):
    app = make_app(METRICS_TOKEN="")
    response = app.test_client().get("/metrics", headers={"Authorization": "Bearer "})
    assert response.status_code == 404
