"""/metrics after real sagas on a real worker: what started, how each ended, steps, retries, janitors."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.tasks import maintenance
from tests.conftest import APPROVED, DECLINED, METRICS_TOKEN, PROCESSOR_DOWN, book
from tests.e2e.stack import wait_for
from tests.integration.conftest import wait_terminal

pytestmark = pytest.mark.integration


def scrape(client) -> dict[tuple, float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def sample(name: str, **labels: str) -> tuple:
    return name, tuple(sorted(labels.items()))


def test_metrics_count_a_success_a_declined_card_and_a_processor_outage(live_app, worker, client,
                                                                        make_user, auth_headers, make_flight):
    # The counters live for the whole test process: compare before and after.
    before = scrape(client)
    headers = auth_headers(make_user())
    flight_id = make_flight().id
    ids = [book(client, headers, flight_id, seats, number).json["id"]
           for seats, number in ((["6A"], APPROVED), (["6B"], DECLINED), (["6C"], PROCESSOR_DOWN))]
    assert [wait_terminal(saga_id).status for saga_id in ids] == ["confirmed", "failed", "failed"]
    maintenance.sweep_expired_holds.delay()

    def janitor_counted():
        after = scrape(client)
        key = sample("booking_janitor_runs_total", janitor="sweep_expired_holds", state="SUCCESS")
        # A step's last sample is recorded as its task ends, which may be just after the saga did.
        attempts = sample("booking_saga_step_duration_seconds_count", step="authorize_payment", kind="action")
        settled = after.get(attempts, 0) - before.get(attempts, 0) >= 3 + 4
        return after if settled and after.get(key, 0) > before.get(key, 0) else None

    after = wait_for(janitor_counted, timeout=10, what="the janitor run to be counted")

    def grew(name: str, **labels: str) -> float:
        key = sample(name, **labels)
        return after.get(key, 0) - before.get(key, 0)

    assert grew("booking_sagas_started_total") == 3
    assert grew("booking_sagas_ended_total", status="confirmed", reason="none") == 1
    assert grew("booking_sagas_ended_total", status="failed", reason="card_declined") == 1
    assert grew("booking_sagas_ended_total", status="failed", reason="payment_unavailable") == 1
    # Every saga ran reserve_seat once; the outage retried authorize_payment SAGA_STEP_MAX_RETRIES times.
    assert grew("booking_saga_step_duration_seconds_count", step="reserve_seat", kind="action") == 3
    assert grew("booking_saga_step_duration_seconds_count", step="confirm_booking", kind="action") == 1
    assert grew("booking_saga_step_duration_seconds_count", step="authorize_payment", kind="action") == 3 + 4
    assert grew("booking_saga_step_retries_total", step="authorize_payment") == 4
    assert grew("booking_saga_step_duration_seconds_count", step="cancel_seat", kind="compensation") == 2
    assert grew("booking_saga_compensations_total", step="cancel_seat", outcome="succeeded") == 2
    assert grew("booking_saga_compensations_total", step="cancel_payment", outcome="succeeded") == 2
    assert grew("booking_saga_compensations_total", step="reverse_miles", outcome="succeeded") == 0

    # Scrape-time gauges read the database as it is now: nothing in flight, nothing owed or held.
    for status in ("pending", "running", "compensating", "cancelling", "needs_attention"):
        assert after[sample("booking_sagas", status=status)] == 0
    assert after[sample("booking_active_holds")] == 0
    assert after[sample("booking_metrics_source_up", source="database")] == 1
    assert after[sample("booking_metrics_source_up", source="broker")] == 1
    assert sample("booking_celery_queue_length", queue="celery") in after
