"""Crash recovery with real processes: whatever dies, every saga ends and nothing leaks (I1-I4).

Every setting that decides how fast recovery is (the lease, the janitor interval, the pending
grace, the visibility timeout) keeps its default: the bound these tests hold the stack to is the one
the README promises a default deployment, RECOVERY_BOUND seconds after the dead part comes back.
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter

import httpx
import pytest
import redis

from tests.conftest import card
from tests.e2e.conftest import Api, make_stack, shared_redis_urls
from tests.e2e.stack import LOAD_WITHOUT_SEAT_CAPS, ROOT, VENV_BIN, e2e_secret, wait_for

pytestmark = pytest.mark.e2e

# Retries of a participant that is down come quicker than the defaults (nothing here is down).
QUICK_RETRIES = {"SAGA_RETRY_BASE_SECONDS": "0.2", "SAGA_RETRY_MAX_SECONDS": "1"}
# Slow enough that a test can catch each step in flight and kill it there.
SLOW_PARTIES = {"PAYMENT_LATENCY_MS": "700", "LOYALTY_LATENCY_MS": "700", "MAIL_LATENCY_MS": "700"}
RECOVERY_BOUND = 20
TERMINAL = {"confirmed", "failed", "cancelled", "needs_attention"}
CARD = card()


def seed(stack) -> None:
    subprocess.run([f"{VENV_BIN}/flask", "--app", "wsgi", "seed"], cwd=ROOT, env=stack.env, check=True,
                   capture_output=True)


def first_flight(api: Api) -> int:
    return api.http.get("/api/v1/flights").json()["items"][0]["id"]


def status_of(api: Api, headers: dict, saga_id: str) -> dict:
    return api.http.get(f"/api/v1/bookings/{saga_id}", headers=headers).json()


def ended(body: dict) -> bool:
    """Terminal, and a confirmed booking's follow-ups (after the pivot) done too."""
    follow_ups_left = body["status"] == "confirmed" and any(
        step["follow_up"] and step["status"] != "succeeded" for step in body["steps"])
    return body["status"] in TERMINAL and not follow_ups_left


def wait_terminal(api: Api, headers: dict, saga_ids: list[str], bound: float = RECOVERY_BOUND) -> list[dict]:
    def all_done():
        bodies = [status_of(api, headers, saga_id) for saga_id in saga_ids]
        return bodies if all(ended(body) for body in bodies) else None

    return wait_for(all_done, timeout=bound, interval=0.5, what="every saga terminal")


def assert_invariants(stack, api: Api, headers: dict, bodies: list[dict], flight_id: int) -> None:
    """I1-I4 over the real services: tickets, money, miles, holds."""
    from app.participants.loyalty.client import LoyaltyClient
    from app.participants.payment.client import PaymentClient

    # Reading the books as support does: the read-only credential.
    pay = PaymentClient(stack.env["PAYMENT_URL"], connect_timeout=2, read_timeout=10,
                        token=e2e_secret("payment", "support"))
    miles = LoyaltyClient(stack.env["LOYALTY_URL"], connect_timeout=2, read_timeout=10,
                          token=e2e_secret("loyalty", "support"))
    try:
        _assert_invariants(stack, api, bodies, flight_id, pay, miles)
    finally:  # an unclosed client's socket warns later, in whichever test then runs
        pay.close()
        miles.close()


def _assert_invariants(stack, api: Api, bodies: list[dict], flight_id: int, pay, miles) -> None:
    assert all(body["status"] in ("confirmed", "failed") for body in bodies), [b["status"] for b in bodies]
    seat_map = api.http.get(f"/api/v1/flights/{flight_id}/seats").json()["seats"]
    seats = {seat["number"]: seat["status"] for seat in seat_map}
    sold = Counter(seat for body in bodies if body["status"] == "confirmed" for seat in body["seats"])
    assert all(count == 1 for count in sold.values())  # I1
    for body in bodies:
        charge = pay.lookup(f"{body['id']}:authorize_payment")
        award = miles.lookup_award(f"{body['id']}:award_miles")
        if body["status"] == "confirmed":  # I2
            assert charge.status == "captured" and charge.captured_amount == charge.amount
            assert award.status == "posted" and award.miles == body["miles"]
            assert all(seats[seat] == "booked" for seat in body["seats"])
        else:
            assert charge is None or charge.status in ("voided", "declined")
            assert award is None or award.status == "reversed"
    assert "held" not in seats.values()  # I3: nothing is left held once every saga ended
    with redis.Redis.from_url(stack.env["REDIS_URL"]) as holds:
        assert holds.keys(f"hold:{{{flight_id}}}:*") == []


@pytest.fixture
def stack(tmp_path):
    redis_url, broker_url = shared_redis_urls()
    stack = make_stack(tmp_path, redis_url, broker_url, **QUICK_RETRIES, **SLOW_PARTIES)
    seed(stack)
    try:
        for name in ("web", "payment", "loyalty", "beat"):
            stack.start(name)
        yield stack
    finally:
        stack.stop()


@pytest.mark.parametrize("step", ["reserve_seat", "authorize_payment", "award_miles", "confirm_booking",
                                  "send_itinerary"])
def test_worker_killed_mid_step_the_saga_still_ends(step, stack):
    stack.start("worker", label="worker-1")
    api = Api(stack.base_url)
    headers = api.signup(f"crash-{step}@example.com")
    flight_id = first_flight(api)
    saga_id = api.book(headers, flight_id, ["14A", "14B"])

    def step_in_flight():
        body = status_of(api, headers, saga_id)
        return any(s["name"] == step and s["status"] == "running" for s in body["steps"]) or \
            body["status"] in TERMINAL
    wait_for(step_in_flight, timeout=30, interval=0.02, what=f"{step} in flight")
    stack.kill("worker-1")  # SIGKILL to the whole worker: main process and pool children
    stack.start("worker", label="worker-2")
    back_at = time.monotonic()

    bodies = wait_terminal(api, headers, [saga_id])
    assert time.monotonic() - back_at < RECOVERY_BOUND
    assert bodies[0]["status"] == "confirmed", bodies[0]
    assert_invariants(stack, api, headers, bodies, flight_id)
    # One itinerary: sent again only if the worker died after the server took it, as the same mail.
    assert len({mail["Message-ID"] for mail in stack.mail()}) == 1


def test_a_pool_process_killed_mid_send_is_redelivered_and_the_saga_still_ends(stack):
    """Only the pool processes die (the OOM killer's pick, say): the worker's main process requeues
    the message at once (reject_on_worker_lost), and that redelivery, under the same fence, finds
    the dead sender's claim on the e-mail. It stops; the takeover after the lease sends."""
    worker = stack.start("worker", label="worker-1")
    api = Api(stack.base_url)
    headers = api.signup("pool-kill@example.com")
    flight_id = first_flight(api)
    saga_id = api.book(headers, flight_id, ["15A"])

    def sending():
        return any(step["name"] == "send_itinerary" and step["status"] == "running"
                   for step in status_of(api, headers, saga_id)["steps"])
    wait_for(sending, timeout=30, interval=0.02, what="send_itinerary in flight")
    pool = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True).stdout.split()
    assert pool, "the worker has no pool processes"
    for pid in pool:
        subprocess.run(["kill", "-9", pid], check=False)
    killed_at = time.monotonic()

    bodies = wait_terminal(api, headers, [saga_id])
    assert time.monotonic() - killed_at < RECOVERY_BOUND
    assert bodies[0]["status"] == "confirmed", bodies[0]
    assert_invariants(stack, api, headers, bodies, flight_id)
    assert len({mail["Message-ID"] for mail in stack.mail()}) == 1


def test_booking_made_while_the_broker_is_down_runs_when_it_returns(tmp_path, private_redis):
    stack = make_stack(tmp_path, private_redis.url(0), private_redis.url(1), **QUICK_RETRIES)
    seed(stack)
    try:
        for name in ("web", "payment", "loyalty", "worker", "beat"):
            stack.start(name)
        api = Api(stack.base_url)
        headers = api.signup("broker-down@example.com")
        flight_id = first_flight(api)
        private_redis.kill()
        saga_id = api.book(headers, flight_id, ["20C"])
        assert status_of(api, headers, saga_id)["status"] == "pending"
        private_redis.start()
        back_at = time.monotonic()
        bodies = wait_terminal(api, headers, [saga_id])
        assert time.monotonic() - back_at < RECOVERY_BOUND
        assert bodies[0]["status"] == "confirmed"
        assert_invariants(stack, api, headers, bodies, flight_id)
    finally:
        stack.stop()


def test_redis_restarted_under_load_every_saga_still_ends(tmp_path, private_redis):
    stack = make_stack(tmp_path, private_redis.url(0), private_redis.url(1), **QUICK_RETRIES,
                       **LOAD_WITHOUT_SEAT_CAPS, PAYMENT_LATENCY_MS="300")
    seed(stack)
    try:
        for name in ("web", "payment", "loyalty", "worker", "beat"):
            stack.start(name)
        api = Api(stack.base_url)
        headers = api.signup("redis-restart@example.com")
        flight_id = first_flight(api)
        rows = range(6, 16)
        saga_ids = [api.book(headers, flight_id, [f"{row}A", f"{row}B"]) for row in rows]
        time.sleep(0.5)
        private_redis.kill()  # every queued task and every hold key is lost
        time.sleep(1)
        private_redis.start()
        back_at = time.monotonic()
        bodies = wait_terminal(api, headers, saga_ids)
        assert time.monotonic() - back_at < RECOVERY_BOUND
        assert_invariants(stack, api, headers, bodies, flight_id)
        assert_seats_follow_bookings(api, bodies, flight_id)

        # New bookings confirm with nothing restarted by hand: the worker reconnected, beat took its
        # lock again and wrote its schedule back into the empty Redis (app/beat_scheduler.py).
        assert all(proc.poll() is None for proc in stack.procs.values())
        after = [api.book(headers, flight_id, [f"{row}E"]) for row in rows]
        later = wait_terminal(api, headers, after)
        assert [body["status"] for body in later] == ["confirmed"] * len(after)
        assert_invariants(stack, api, headers, bodies + later, flight_id)
        assert_seats_follow_bookings(api, bodies + later, flight_id)
        beat_log = stack.log_of("beat")
        assert "lost the scheduler lock" in beat_log
        assert "Acquired lock" in beat_log.split("lost the scheduler lock", 1)[1]
    finally:
        stack.stop()


def assert_seats_follow_bookings(api: Api, bodies: list[dict], flight_id: int) -> None:
    """A seat is booked exactly when a confirmed booking has it (the others asked for are free)."""
    seats = {seat["number"]: seat["status"]
             for seat in api.http.get(f"/api/v1/flights/{flight_id}/seats").json()["seats"]}
    confirmed = {seat for body in bodies if body["status"] == "confirmed" for seat in body["seats"]}
    asked = {seat for body in bodies for seat in body["seats"]}
    assert {seat for seat in asked if seats[seat] == "booked"} == confirmed
    assert all(seats[seat] == "available" for seat in asked - confirmed)


def test_healthz_names_the_part_that_is_down(tmp_path, private_redis):
    stack = make_stack(tmp_path, private_redis.url(0), private_redis.url(1))
    try:
        stack.start("web")
        private_redis.kill()
        response = httpx.get(stack.base_url + "/healthz", timeout=10)
        assert response.status_code == 503 and response.json()["redis"] != "ok"
        assert response.json()["database"] == "ok"
    finally:
        stack.stop()
