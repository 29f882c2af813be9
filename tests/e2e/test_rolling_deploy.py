"""A rolling deploy from saga v1 to v2 loses nothing: two real workers on one broker, one that runs only
v1 (the old deploy) and one that runs v1 and v2 (the new one).

Each saga's messages go to its version's queue (saga.v1, saga.v2) and a worker consumes only the
queues of the versions it runs, so: v2 sagas started while only the old worker runs wait in their
queue; a v2 message that reaches the old worker anyway is forwarded to its queue, not run; v1 sagas
whose old worker dies are re-driven by the new deploy under v1. Every saga ends under its own
definition, with every step of it and no step it does not have.
"""

from __future__ import annotations

import subprocess
import time

import pytest
from celery import Celery

from app import saga as definition
from tests.e2e.conftest import Api, make_stack, shared_redis_urls
from tests.e2e.stack import ROOT, VENV_BIN, wait_for

pytestmark = pytest.mark.e2e

QUICK = {"SAGA_RETRY_BASE_SECONDS": "0.2", "SAGA_RETRY_MAX_SECONDS": "1", "SAGA_LEASE_SECONDS": "4"}
SLOW_PAYMENT = {"PAYMENT_LATENCY_MS": "1000"}  # so the old worker dies with v1 sagas in flight
OLD = {"SAGA_DEFINITIONS": "1"}  # the old deploy's processes: they have only v1


def status(api: Api, headers: dict, saga_id: str) -> dict:
    return api.http.get(f"/api/v1/bookings/{saga_id}", headers=headers).json()


def finished(body: dict) -> bool:
    return body["status"] == "confirmed" and all(step["status"] == "succeeded" for step in body["steps"])


def test_a_rolling_deploy_from_v1_to_v2_loses_nothing(tmp_path):
    stack = make_stack(tmp_path, *shared_redis_urls(), **QUICK, **SLOW_PAYMENT)
    subprocess.run([f"{VENV_BIN}/flask", "--app", "wsgi", "seed"], cwd=ROOT, env=stack.env, check=True,
                   capture_output=True)
    try:
        for name in ("payment", "loyalty"):
            stack.start(name)
        stack.start("web", label="web-old", **OLD)
        api = Api(stack.base_url)
        headers = api.signup("rolling@example.com")
        flight_id = api.http.get("/api/v1/flights").json()["items"][0]["id"]

        # The old deploy takes bookings (v1) before any worker is up: they wait in saga.v1.
        v1 = [api.book(headers, flight_id, [seat]) for seat in ("20A", "20B", "20C")]
        # The web is deployed first: new bookings run v2, while only the old worker runs.
        stack.kill("web-old")
        stack.start("web", label="web-new")
        v2 = [api.book(headers, flight_id, [seat]) for seat in ("21A", "21B")]
        assert {status(api, headers, saga_id)["definition_version"] for saga_id in v1} == {1}
        assert {status(api, headers, saga_id)["definition_version"] for saga_id in v2} == {2}
        stack.start("worker", label="worker-old", args=("-n", "old@%h"), **OLD)
        # A v2 message that reaches the old worker (say, published before the queues split).
        Celery(broker=stack.env["CELERY_BROKER_URL"]).send_task(
            "saga.reserve_seat", args=(v2[0], 1), queue="saga.v1")

        # The old worker gets going on v1, and dies (SIGKILL) with v1 sagas in flight.
        wait_for(lambda: any(status(api, headers, saga_id)["status"] == "running" for saga_id in v1),
                 timeout=30, interval=0.05, what="a v1 saga in flight on the old worker")
        wait_for(lambda: "is not run by this process" in stack.log_of("worker-old"), timeout=30,
                 what="the old worker forwarding the v2 message")
        assert all(status(api, headers, saga_id)["status"] == "pending" for saga_id in v2)
        stack.kill("worker-old")

        # The new deploy: a worker that runs v1 and v2, and beat, which re-drives what the old one left.
        stack.start("worker", label="worker-new", args=("-n", "new@%h"))
        stack.start("beat")
        started = time.monotonic()
        bodies = wait_for(lambda: (found := [status(api, headers, saga_id) for saga_id in v1 + v2])
                          and all(finished(body) for body in found) and found,
                          timeout=60, interval=0.5, what="every saga finished under its own definition")
        assert time.monotonic() - started < 60

        for body in bodies:
            own = definition.DEFINITIONS[body["definition_version"]].action_names
            assert [step["name"] for step in body["steps"]] == own, body  # no step missing, none extra
            assert body["ticket"] is not None
        assert "stalled while running" in stack.log_of("worker-new")  # the new deploy re-drove a v1 saga
        log_old = stack.log_of("worker-old")
        assert "send_itinerary" not in log_old.replace("saga.send_itinerary", "")  # never ran a v2 step

        mails = wait_for(lambda: len(stack.mail()) >= 2 and stack.mail(), timeout=10, what="two itineraries")
        references = {body["ticket"]["reference"] for body in bodies[3:]}
        assert len(mails) == 2 and {m["Subject"].rsplit(" ", 1)[-1] for m in mails} == references
    finally:
        stack.stop()
