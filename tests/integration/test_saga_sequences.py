"""The interleavings that once broke the saga, each replayed by hand against the step engine.

A "delivery" here is one call of engine.run_step, as a worker would make it; a competing process is
a thread with its own session. Each test is one sequence a careful reading found (docs/saga.md).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from app import engine, recovery, saga_log
from app import saga as definition
from app.engine import Plan
from app.errors import CardDeclined
from app.extensions import db
from app.models import Hold, Saga, TicketSeat
from app.models.types import utcnow
from tests.integration.saga_helpers import WorkerKilled, assert_confirmed, assert_undone, award_of, payment_of

pytestmark = pytest.mark.integration


@pytest.fixture
def saga(live_app, make_saga) -> Saga:
    """A saga written by the API but not enqueued: the test makes every delivery itself."""
    return make_saga(seats=["7A", "7B"])


def deliver(saga_id: str, names: list[str] | tuple[str, ...], fence: int) -> engine.Outcome:
    """Deliver a chain's steps in order, each retried until it is done, as a worker would."""
    outcome: engine.Outcome = engine.Done()
    for name in names:
        attempt = 0
        while isinstance(outcome := engine.run_step(saga_id, name, fence, attempt), engine.Retry):
            attempt += 1
        if not isinstance(outcome, engine.Done):
            return outcome
    return outcome


def carry_out(plan: Plan | None) -> str | None:
    """Run what a plan enqueues, to its end: a compensation chain finishes the saga."""
    assert plan is not None
    if plan.actions:
        outcome = deliver(plan.saga_id, plan.actions, plan.fence)
        if isinstance(outcome, engine.Failed):
            carry_out(engine.step_failed(plan.saga_id, plan.fence, outcome_step(plan), outcome.error))
    else:
        deliver(plan.saga_id, plan.compensations, plan.fence)
        engine.finish(plan.saga_id, plan.fence)
    return saga_log.load(plan.saga_id).status


def outcome_step(plan: Plan) -> str:
    saga = saga_log.load(plan.saga_id)
    return next(step.name for step in saga.steps if step.status == "failed")


def elsewhere(live_app, work) -> None:
    """Run `work` as another process would: its own thread, app context and database session."""
    failures: list[BaseException] = []

    def run() -> None:
        with live_app.app_context():
            try:
                work()
            except BaseException as exc:  # handed back to the test's thread
                failures.append(exc)
            finally:
                db.session.remove()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=60)
    if failures:
        raise failures[0]


def lapse(saga_id: str) -> None:
    db.session.execute(db.update(Saga).where(Saga.id == saga_id)
                       .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


# 1. A late duplicate must not undo the work of a confirmed booking -------------------------------


# The write each step makes, by service and path.
STEP_WRITES = {"authorize_payment": ("payment", "^/payments$"), "award_miles": ("loyalty", "^/awards$")}


@pytest.mark.parametrize("step", ["authorize_payment", "award_miles"])
def test_a_late_duplicate_of_a_step_leaves_a_confirmed_booking_alone(step, saga, live_app, faults):
    assert deliver(saga.id, definition.ACTION_NAMES[:definition.ACTION_NAMES.index(step)], 1) == engine.Done()
    # The duplicate's request is done by the participant, and while its answer is on its way back,
    # the original chain runs to the end.
    service, path = STEP_WRITES[step]
    faults.answer_late(service, "POST", path, times=1,
                       then=lambda: elsewhere(live_app, lambda: deliver(saga.id, definition.ACTION_NAMES, 1)))
    assert engine.run_step(saga.id, step, 1) == engine.Fenced("fenced off before its success was recorded")
    confirmed = saga_log.load(saga.id)
    assert_confirmed(confirmed)  # not refunded, miles not reversed
    assert confirmed.debts == []
    assert confirmed.step(step).status == "succeeded"


def test_a_duplicate_never_downgrades_a_succeeded_step(saga):
    assert deliver(saga.id, ["reserve_seat"], 1) == engine.Done()
    for status in ("running", "failed"):
        assert saga_log.finish_step(saga.id, 1, "reserve_seat", status, RuntimeError("late")) == "succeeded"
    assert saga_log.load(saga.id).step("reserve_seat").status == "succeeded"


# 2. Starting compensation (or cancellation) is one transaction -----------------------------------


def test_a_crash_while_starting_compensation_leaves_the_saga_to_be_compensated(saga, monkeypatch):
    assert deliver(saga.id, definition.ACTION_NAMES[:3], 1) == engine.Done()
    saga_log.start_step(saga.id, 1, "confirm_booking", "action", "t")
    saga_log.finish_step(saga.id, 1, "confirm_booking", "failed", CardDeclined("declined"))

    def killed(*args: object) -> None:
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(saga_log, "_add_compensations", killed)
        with pytest.raises(WorkerKilled):
            engine.step_failed(saga.id, 1, "confirm_booking", CardDeclined("declined"))
    db.session.rollback()  # the dead process's transaction never committed
    assert saga_log.load(saga.id).status == "running"

    lapse(saga.id)
    [plan] = recovery.stalled_sagas()
    assert carry_out(plan) == "failed"
    failed = saga_log.load(saga.id)
    assert [s.name for s in failed.steps if s.kind == "compensation"] == \
        ["cancel_booking", "reverse_miles", "cancel_payment", "cancel_seat"]
    assert_undone(failed)


def test_a_crash_while_starting_a_cancellation_leaves_the_booking_as_it_was(saga, monkeypatch):
    assert deliver(saga.id, definition.ACTION_NAMES, 1) == engine.Done()

    def killed(*args: object) -> None:
        raise WorkerKilled

    with monkeypatch.context() as patch:
        patch.setattr(saga_log, "_add_compensations", killed)
        with pytest.raises(WorkerKilled):
            engine.cancel(saga.id)
    db.session.rollback()
    assert_confirmed(saga_log.load(saga.id))  # still confirmed: the owner may cancel again
    assert carry_out(engine.cancel(saga.id)) == "cancelled"
    cancelled = saga_log.load(saga.id)
    assert cancelled.ticket.status == "cancelled"
    assert payment_of(cancelled).status == "refunded" and award_of(cancelled).status == "reversed"


# 3. The pivot and a compensation exclude each other -----------------------------------------------


def test_a_compensation_that_starts_during_the_pivot_fences_the_pivot_off(saga, live_app, monkeypatch):
    assert deliver(saga.id, definition.ACTION_NAMES[:3], 1) == engine.Done()
    real = definition.keep_hold_for_next_step

    def hold_lapses_meanwhile(current: Saga) -> None:
        real(current)
        # The sweep finds the hold lapsed and compensates while the pivot is on its way.
        def sweep() -> None:
            db.session.execute(db.update(Hold).where(Hold.saga_id == saga.id).values(expires_at=utcnow()))
            db.session.commit()
            [plan] = recovery.lapsed_holds()
            assert carry_out(plan) == "failed"
        elsewhere(live_app, sweep)

    monkeypatch.setattr(definition, "keep_hold_for_next_step", hold_lapses_meanwhile)
    assert engine.run_step(saga.id, "confirm_booking", 1) == \
        engine.Fenced("another writer took the saga at the pivot")
    failed = saga_log.load(saga.id)
    assert failed.status == "failed" and failed.ticket is None and failed.pivoted_at is None
    assert db.session.execute(db.select(TicketSeat).filter_by(active=True)).first() is None
    assert_undone(failed)


def test_no_compensation_starts_once_the_pivot_issued_the_ticket(saga, monkeypatch):
    assert deliver(saga.id, definition.ACTION_NAMES[:3], 1) == engine.Done()
    monkeypatch.setattr(definition, "_release_keys", lambda current: None)
    real_capture = definition.payment_client

    def capture_times_out():
        raise WorkerKilled  # the worker died after the ticket, before capture

    monkeypatch.setattr(definition, "payment_client", capture_times_out)
    with pytest.raises(WorkerKilled):
        engine.run_step(saga.id, "confirm_booking", 1)
    monkeypatch.setattr(definition, "payment_client", real_capture)
    assert saga_log.load(saga.id).pivoted_at is not None
    # A duplicate of an earlier step failing, or the hold sweep: neither may undo a ticketed saga.
    assert saga_log.begin_compensation(saga.id, 1, "award_miles", CardDeclined("late")) is None
    db.session.execute(db.update(Hold).where(Hold.saga_id == saga.id).values(expires_at=utcnow()))
    db.session.commit()
    assert recovery.lapsed_holds() == []
    lapse(saga.id)
    [plan] = recovery.stalled_sagas()
    pivot = definition.ACTION_NAMES.index(definition.LATEST.pivot)
    assert plan.actions == tuple(definition.ACTION_NAMES[pivot:])  # forward only, past the pivot
    assert carry_out(plan) == "confirmed"
    assert_confirmed(saga_log.load(saga.id))


# 6. The admin retry only takes over a saga that stalled -------------------------------------------


def test_the_admin_retry_refuses_a_saga_that_is_running_fine(saga, client, make_user, auth_headers,
                                                            monkeypatch):
    admin = auth_headers(make_user(is_admin=True))
    saga_log.start_step(saga.id, 1, "reserve_seat", "action", "alive")
    response = client.post(f"/api/v1/admin/sagas/{saga.id}/retry", headers=admin)
    assert response.status_code == 409, response.json
    assert response.json["type"].endswith("not-stalled")
    assert saga_log.load(saga.id).fence == 1  # nothing taken over

    lapse(saga.id)
    sent: list[Plan] = []
    monkeypatch.setattr("app.api.admin.dispatch", sent.append)
    assert client.post(f"/api/v1/admin/sagas/{saga.id}/retry", headers=admin).status_code == 202
    assert [(plan.fence, plan.actions[0]) for plan in sent] == [(2, "reserve_seat")]
    assert engine.run_step(saga.id, "reserve_seat", 1) == engine.Fenced("fence 1 is stale: the saga is at 2")


# Leases -------------------------------------------------------------------------------------------


def test_a_step_slower_than_its_lease_keeps_it_by_heartbeat(saga, live_app, monkeypatch):
    monkeypatch.setitem(live_app.config, "SAGA_LEASE_SECONDS", 0.6)
    real = definition.ACTIONS["authorize_payment"]
    taken_over: list[list[Plan]] = []

    def slow(current: Saga) -> None:
        time.sleep(1.5)  # two and a half leases: only the heartbeat keeps the saga this step's
        elsewhere(live_app, lambda: taken_over.append(recovery.stalled_sagas()))
        real(current)

    monkeypatch.setitem(definition.ACTIONS, "authorize_payment", slow)
    assert deliver(saga.id, definition.ACTION_NAMES, 1) == engine.Done()
    assert taken_over == [[]]
    assert_confirmed(saga_log.load(saga.id))


def test_a_step_whose_worker_died_loses_its_lease_and_the_saga_goes_on(saga, live_app, monkeypatch):
    monkeypatch.setitem(live_app.config, "SAGA_LEASE_SECONDS", 0.3)
    saga_log.start_step(saga.id, 1, "reserve_seat", "action", "dead")  # and nothing beats for it
    assert recovery.stalled_sagas() == []
    time.sleep(0.5)
    [plan] = recovery.stalled_sagas()
    assert carry_out(plan) == "confirmed"
    stale = engine.run_step(saga.id, "authorize_payment", 1)
    assert stale == engine.Fenced("fence 1 is stale: the saga is at 2")
