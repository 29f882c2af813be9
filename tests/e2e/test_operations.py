"""What an operator sees of the real stack: Flower behind basic auth, JSON logs, merged /metrics."""

from __future__ import annotations

import json

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import saga as definition
from tests.conftest import APPROVED, DECLINED
from tests.e2e.conftest import Api, make_stack, shared_redis_urls
from tests.e2e.stack import FLOWER_AUTH, METRICS_TOKEN, wait_for
from tests.e2e.test_crash_recovery import first_flight, seed, wait_terminal

pytestmark = pytest.mark.e2e

STEP_TASKS = [f"saga.{name}" for name in definition.LATEST.action_names]  # what new bookings run


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    redis_url, broker_url = shared_redis_urls()
    stack = make_stack(tmp_path_factory.mktemp("operations"), redis_url, broker_url)
    seed(stack)
    try:
        for name in ("web", "payment", "loyalty", "flower", "worker"):
            stack.start(name)
        with flower_client(stack) as flower:
            # Flower learns of tasks from worker events: it must listen before the first booking.
            wait_for(lambda: any(flower.get("/api/workers", params={"status": "true"}).json().values()),
                     what="Flower to see the worker")
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def api(stack):
    api = Api(stack.base_url)
    yield api
    api.http.close()


def flower_client(stack, auth: tuple[str, str] | None = FLOWER_AUTH) -> httpx.Client:
    return httpx.Client(base_url=stack.url("flower"), auth=auth, timeout=10)


def book(api: Api, headers: dict, flight_id: int, seats: list[str], number: str) -> str:
    card = {"card_number": number, "exp_month": 12, "exp_year": 2031, "cvc": "123"}
    response = api.http.post("/api/v1/bookings", headers=headers,
                             json={"flight_id": flight_id, "seats": seats, "payment": card})
    assert response.status_code == 202, response.text
    return response.json()["id"]


def test_flower_lists_the_saga_tasks_and_refuses_without_credentials(stack, api):
    headers = api.signup("flower@example.com")
    saga_id = book(api, headers, first_flight(api), ["7A"], APPROVED)
    [body] = wait_terminal(api, headers, [saga_id])
    assert body["status"] == "confirmed"
    task_ids = {step["task_id"]: f"saga.{step['name']}" for step in body["steps"]}

    with flower_client(stack) as flower:

        def saga_tasks():
            tasks = flower.get("/api/tasks", params={"search": saga_id}).json()  # finds it in args
            found = {task_id: tasks[task_id]["name"] for task_id in task_ids if task_id in tasks}
            return found if len(found) == len(task_ids) else None

        found = wait_for(saga_tasks, timeout=20, what="Flower to list the saga's tasks")
        assert found == task_ids
        assert sorted(found.values(), key=STEP_TASKS.index) == STEP_TASKS
        for task_id in task_ids:
            assert saga_id in flower.get(f"/api/task/info/{task_id}").json()["args"]

    with flower_client(stack, auth=None) as anonymous, flower_client(stack, ("ops", "guess")) as wrong:
        assert anonymous.get("/api/tasks").status_code == 401
        assert wrong.get("/api/tasks").status_code == 401
        assert anonymous.get("/").status_code == 401  # the UI too, not only the API


def test_a_failed_booking_logs_json_lines_with_its_saga_id_and_no_card_number(stack, api):
    headers = api.signup("declined@example.com")
    saga_id = book(api, headers, first_flight(api), ["8C"], DECLINED)
    [body] = wait_terminal(api, headers, [saga_id])
    assert body["status"] == "failed" and body["failure"]["reason"] == "card_declined"

    def saga_finished_in_log():
        return f'"saga {saga_id} -> failed"' in stack.log_of("worker")

    wait_for(saga_finished_in_log, timeout=10, what="the worker to log the end of the saga")
    lines = stack.log_of("worker").splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    saga_lines = [r for r in records if r["logger"] == "saga" or r.get("task_name", "").startswith("saga.")]
    assert all(r.get("saga_id") for r in saga_lines)
    # This booking's lines: logged by its step tasks, or naming it.
    task_ids = {step["task_id"] for step in body["steps"] if step["task_id"]}
    ours = [r for r in records if r.get("task_id") in task_ids or saga_id in r["message"]]
    assert all(r.get("saga_id") == saga_id for r in ours)
    steps = {r.get("step") for r in ours}
    assert {"reserve_seat", "authorize_payment", "cancel_payment", "cancel_seat"} <= steps
    started = [r for r in ours if r["message"].endswith("attempt 1")]
    assert len(started) == 4 and all(r["task_id"] in task_ids and r["attempt"] == 1 for r in started)
    declined = [r for r in ours if r["level"] == "ERROR" and "CardDeclined" in r["message"]]
    assert declined and declined[0]["task_name"] == "saga.authorize_payment"

    for label in ("worker", "web", "payment"):
        text = stack.log_of(label)
        assert DECLINED not in text and "4000 0000 0000 0002" not in text, label
        assert "cvc" not in text.lower(), label


def test_metrics_of_web_merge_the_worker_processes(stack, api):
    headers = api.signup("metrics@example.com")
    saga_id = book(api, headers, first_flight(api), ["9D"], APPROVED)
    assert wait_terminal(api, headers, [saga_id])[0]["status"] == "confirmed"

    assert httpx.get(stack.base_url + "/metrics", timeout=10).status_code == 401
    response = httpx.get(stack.base_url + "/metrics", timeout=10,
                         headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(response.text) for s in family.samples}
    # Recorded in the worker's pool processes, served by a gunicorn worker.
    assert samples[("booking_sagas_started_total", ())] >= 1
    assert samples[("booking_sagas_ended_total", (("reason", "none"), ("status", "confirmed")))] >= 1
    key = ("booking_saga_step_duration_seconds_count", (("kind", "action"), ("step", "confirm_booking")))
    assert samples[key] >= 1
    assert samples[("booking_metrics_source_up", (("source", "database"),))] == 1
    assert samples[("booking_metrics_source_up", (("source", "broker"),))] == 1


def test_the_real_services_answer_only_their_callers_within_their_scopes(stack):
    """The participant processes from the Procfile: strangers 401, the web credential may not authorize."""
    from tests.e2e.stack import e2e_secret

    award = {"account_id": "42", "miles": 1_000_000, "reference": "free"}
    with httpx.Client(base_url=stack.url("loyalty"), timeout=10) as loyalty:
        assert loyalty.get("/healthz").status_code == 200
        stranger = loyalty.post("/awards", json=award, headers={"Idempotency-Key": "e2e-stranger"})
        assert stranger.status_code == 401
        assert stranger.headers["content-type"] == "application/problem+json"
        as_web = {"Authorization": f"Bearer {e2e_secret('loyalty', 'web')}", "Idempotency-Key": "e2e-web"}
        assert loyalty.post("/awards", json=award, headers=as_web).status_code == 403
    with httpx.Client(base_url=stack.url("payment"), timeout=10) as payment:
        as_web = {"Authorization": f"Bearer {e2e_secret('payment', 'web')}", "Idempotency-Key": "e2e-w"}
        body = {"token": "tok_x", "amount": "1.00", "currency": "USD"}
        assert payment.post("/payments", json=body, headers=as_web).status_code == 403
        assert payment.get("/openapi.json").json()["info"]["title"] == "Payment service"
