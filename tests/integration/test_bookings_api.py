"""The bookings API around the saga: idempotent starts, polling, owners only."""

from __future__ import annotations

import threading
import time

import pytest

from app import engine, saga_log, status_watch
from app.extensions import db
from app.models import Saga, StepKind, StepStatus
from tests.conftest import APPROVED, book, card
from tests.integration.conftest import wait_terminal

pytestmark = pytest.mark.integration


def test_same_idempotency_key_and_body_never_starts_a_second_saga(live_app, worker, client, make_user,
                                                                   auth_headers, make_flight):
    headers = {**auth_headers(make_user()), "Idempotency-Key": "order-1"}
    flight = make_flight()
    first = book(client, headers, flight.id, ["7A"])
    again = book(client, headers, flight.id, ["7A"])
    assert first.status_code == 202
    assert again.status_code == 200 and again.json["id"] == first.json["id"]
    wait_terminal(first.json["id"])
    assert db.session.execute(db.select(db.func.count(Saga.id))).scalar() == 1

    reused = book(client, headers, flight.id, ["7B"])
    assert reused.status_code == 422
    assert reused.headers["Content-Type"] == "application/problem+json"
    assert reused.json["type"].endswith("/idempotency-key-reused")
    assert db.session.execute(db.select(db.func.count(Saga.id))).scalar() == 1


def test_keys_are_scoped_per_user(live_app, worker, client, make_user, auth_headers, make_flight):
    flight = make_flight()
    a = book(client, {**auth_headers(make_user()), "Idempotency-Key": "k"}, flight.id, ["8A"])
    b = book(client, {**auth_headers(make_user()), "Idempotency-Key": "k"}, flight.id, ["8B"])
    assert a.status_code == b.status_code == 202 and a.json["id"] != b.json["id"]
    wait_terminal(a.json["id"])
    wait_terminal(b.json["id"])


def test_status_polling_etag_and_retry_after(live_app, worker, client, make_user, auth_headers,
                                             make_flight):
    headers = auth_headers(make_user())
    response = book(client, headers, make_flight().id, ["9A"])
    location = response.headers["Location"]
    early = client.get(location, headers=headers)
    if early.json["status"] not in ("confirmed", "failed"):
        assert early.headers["Retry-After"] == "1"
    wait_terminal(response.json["id"])
    done = client.get(location, headers=headers)
    assert "Retry-After" not in done.headers
    etag = done.headers["ETag"]
    same = client.get(location, headers={**headers, "If-None-Match": etag})
    assert same.status_code == 304 and same.data == b""
    assert client.get(location, headers={**headers, "If-None-Match": '"stale"'}).status_code == 200


def test_another_users_booking_is_not_found(live_app, worker, client, make_user, auth_headers,
                                            make_flight):
    owner, stranger, admin = make_user(), make_user(), make_user(is_admin=True)
    response = book(client, auth_headers(owner), make_flight().id, ["10A"])
    location = response.headers["Location"]
    wait_terminal(response.json["id"])
    assert client.get(location, headers=auth_headers(stranger)).status_code == 404
    assert client.post(location + "/cancel", headers=auth_headers(stranger)).status_code == 404
    assert client.get("/api/v1/bookings", headers=auth_headers(stranger)).json["total"] == 0
    assert client.get(location, headers=auth_headers(admin)).status_code == 200
    mine = client.get("/api/v1/bookings", headers=auth_headers(owner)).json
    assert mine["total"] == 1 and mine["items"][0]["id"] == response.json["id"]
    assert client.get(location).status_code == 401


@pytest.mark.parametrize("body, field", [
    ({"flight_id": 1, "seats": [], "payment": card()}, "seats"),
    ({"flight_id": 1, "seats": ["1A", "1A"], "payment": card()}, "seats"),
    ({"flight_id": 1, "seats": ["28A"], "payment": card()}, "seats"),
    ({"flight_id": 1, "seats": [f"{r}A" for r in range(1, 11)], "payment": card()}, "seats"),
    ({"flight_id": 1, "seats": ["1A"], "passengers": [{"name": "A"}, {"name": "B"}], "payment": card()},
     "passengers"),
    ({"flight_id": 1, "seats": ["1A"]}, "payment"),
    ({"seats": ["1A"], "payment": card()}, "flight_id"),
    ({"flight_id": 1, "seats": ["1A"], "payment": {**card(), "cvc": "12"}}, "payment"),
    ({"flight_id": 1, "seats": ["1A"], "payment": card(), "coupon": "FREE"}, "coupon"),
])
def test_invalid_bookings_are_422_and_change_nothing(body, field, live_app, client, make_user,
                                                     auth_headers, make_flight):
    make_flight()
    response = client.post("/api/v1/bookings", json=body, headers=auth_headers(make_user()))
    assert response.status_code == 422
    assert response.headers["Content-Type"] == "application/problem+json"
    assert any(name == field or name.startswith(field + ".") for name in response.json["errors"])
    assert db.session.execute(db.select(db.func.count(Saga.id))).scalar() == 0


@pytest.mark.parametrize("number, exp_year", [("4242424242424241", 2031), (APPROVED, 2020)])
def test_an_invalid_card_is_refused_before_any_saga(number, exp_year, live_app, client, make_user,
                                                    auth_headers, make_flight):
    flight = make_flight()
    body = {"flight_id": flight.id, "seats": ["1A"], "payment": {**card(number), "exp_year": exp_year}}
    response = client.post("/api/v1/bookings", json=body, headers=auth_headers(make_user()))
    assert response.status_code == 422
    assert response.json["type"].endswith("/invalid-card")
    assert number not in response.get_data(as_text=True)
    assert db.session.execute(db.select(db.func.count(Saga.id))).scalar() == 0


def test_unknown_flight_is_404(live_app, client, make_user, auth_headers):
    response = book(client, auth_headers(make_user()), 999, ["1A"])
    assert response.status_code == 404


def _watched(make_saga, make_user, auth_headers) -> tuple[str, str, dict]:
    """A booking whose chain is not enqueued (the test moves it), read by an administrator."""
    saga = make_saga()
    return saga.id, f"/api/v1/bookings/{saga.id}", auth_headers(make_user(is_admin=True))


def _long_poll_while(move, client, location: str, headers: dict, etag: str):
    """A `Prefer: wait=10` GET from `etag` while another thread runs `move`; the answer and how
    long it took."""
    mover = threading.Thread(target=move)
    started = time.monotonic()
    mover.start()
    answer = client.get(location, headers={**headers, "Prefer": "wait=10", "If-None-Match": etag})
    waited = time.monotonic() - started
    mover.join()
    return answer, waited


def _confirm(saga_id: str) -> None:
    for name in ("authorize_payment", "award_miles", "confirm_booking"):
        assert engine.run_step(saga_id, name, 1) == engine.Done()


def _fail_payment(saga_id: str) -> None:
    """authorize_payment fails for good, and the chain's errback starts the compensation."""
    error = RuntimeError("declined")
    saga_log.start_step(saga_id, 1, "authorize_payment", StepKind.ACTION, None)
    failed = saga_log.finish_step(saga_id, 1, "authorize_payment", StepStatus.FAILED, error)
    assert failed == StepStatus.FAILED
    assert engine.step_failed(saga_id, 1, "authorize_payment", error) is not None


@pytest.mark.parametrize("started_first", [False, True], ids=["pending", "already running"])
@pytest.mark.parametrize("then, outcome", [(_confirm, "confirmed"), (_fail_payment, "compensating")],
                         ids=["confirmed", "compensating"])
def test_a_long_poll_waits_through_running_and_answers_with_the_outcome(
        live_app, client, make_saga, make_user, auth_headers, started_first, then, outcome):
    saga_id, location, headers = _watched(make_saga, make_user, auth_headers)
    pending = client.get(location, headers=headers)  # the ETag a client has from its POST
    assert pending.json["status"] == "pending"

    def run(name: str) -> None:
        with live_app.app_context():
            assert engine.run_step(saga_id, name, 1) == engine.Done()

    if started_first:  # the first step started before the client's first GET (the usual case)
        run("reserve_seat")

    def steps_later() -> None:
        time.sleep(0.3)
        if not started_first:
            run("reserve_seat")
        time.sleep(0.5)
        with live_app.app_context():
            then(saga_id)

    answer, waited = _long_poll_while(steps_later, client, location, headers, pending.headers["ETag"])
    assert answer.status_code == 200 and answer.json["status"] == outcome
    assert answer.headers["Preference-Applied"] == "wait=10"
    assert 0.7 < waited < 5, waited  # through running, woken by the outcome, not the end of the wait


def test_a_long_poll_woken_with_nothing_new_reads_the_booking_afresh_at_the_next_wake(
        live_app, client, make_saga, make_user, auth_headers):
    """A wake that finds the booking still running (its subscriber restarted, say) waits on; the
    booking read at the next wake is the one in the database, not the one read at the first."""
    saga_id, location, headers = _watched(make_saga, make_user, auth_headers)
    assert engine.run_step(saga_id, "reserve_seat", 1) == engine.Done()
    running = client.get(location, headers=headers)

    def wake_then_confirm() -> None:
        time.sleep(0.3)
        with live_app.app_context():
            status_watch.watcher()._wake(saga_id)  # nothing changed
            time.sleep(0.3)
            _confirm(saga_id)

    answer, waited = _long_poll_while(wake_then_confirm, client, location, headers, running.headers["ETag"])
    assert answer.status_code == 200 and answer.json["status"] == "confirmed"
    assert 0.5 < waited < 5, waited


def test_a_long_poll_of_a_compensating_booking_answers_at_its_next_status(live_app, client, make_saga,
                                                                          make_user, auth_headers):
    saga_id, location, headers = _watched(make_saga, make_user, auth_headers)
    assert engine.run_step(saga_id, "reserve_seat", 1) == engine.Done()
    _fail_payment(saga_id)
    compensating = client.get(location, headers=headers)
    assert compensating.json["status"] == "compensating"

    def compensate_later() -> None:
        time.sleep(0.5)
        with live_app.app_context():
            for name in ("cancel_payment", "cancel_seat"):
                assert engine.run_step(saga_id, name, 2) == engine.Done()
            assert engine.finish(saga_id, 2) == "failed"

    answer, waited = _long_poll_while(compensate_later, client, location, headers,
                                      compensating.headers["ETag"])
    assert answer.status_code == 200 and answer.json["status"] == "failed"
    assert 0.4 < waited < 5, waited


def test_a_long_poll_with_nothing_new_ends_in_304_after_the_wait(live_app, client, make_saga, make_user,
                                                                 auth_headers):
    _, location, headers = _watched(make_saga, make_user, auth_headers)
    etag = client.get(location, headers=headers).headers["ETag"]
    started = time.monotonic()
    answer = client.get(location, headers={**headers, "Prefer": "wait=1", "If-None-Match": etag})
    assert answer.status_code == 304 and answer.headers["Preference-Applied"] == "wait=1"
    assert time.monotonic() - started >= 0.9
    # Without If-None-Match there is nothing to wait for: the booking, at once.
    started = time.monotonic()
    assert client.get(location, headers={**headers, "Prefer": "wait=10"}).status_code == 200
    assert time.monotonic() - started < 2


def test_a_long_poll_of_a_finished_booking_does_not_wait(live_app, worker, client, traveller, flight,
                                                         auth_headers):
    headers = auth_headers(traveller)
    response = book(client, headers, flight.id, ["10C"])
    wait_terminal(response.json["id"])
    done = client.get(response.headers["Location"], headers=headers)
    started = time.monotonic()
    again = client.get(response.headers["Location"],
                       headers={**headers, "Prefer": "wait=10", "If-None-Match": done.headers["ETag"]})
    assert again.status_code == 304 and time.monotonic() - started < 2
