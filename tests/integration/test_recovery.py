"""Beat janitors and the admin retry on a real worker: stalled sagas, lapsed holds, debts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import engine, recovery, saga_log
from app import saga as definition
from app.errors import TransientError
from app.extensions import db
from app.models import Debt, Hold, Saga
from app.models.types import utcnow
from app.tasks import chains as saga_tasks
from app.tasks import maintenance
from tests.conftest import DECLINED, NO_FUNDS, book
from tests.integration.conftest import wait_terminal
from tests.integration.saga_helpers import assert_confirmed, assert_undone, seat_status

pytestmark = pytest.mark.integration


def lapse(saga_id: str) -> None:
    """Let the lease of the saga's writer run out (as when its worker died)."""
    db.session.execute(db.update(Saga).where(Saga.id == saga_id)
                       .values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()


def test_a_saga_never_enqueued_is_started_by_the_reconciler(live_app, make_saga, worker):
    saga_id = make_saga(seats=["11A"]).id
    assert maintenance.reconcile_sagas.run() == {"sagas_redriven": 0}  # still within its grace
    lapse(saga_id)

    assert maintenance.reconcile_sagas.run() == {"sagas_redriven": 1}
    assert maintenance.reconcile_sagas.run() == {"sagas_redriven": 0}  # a second run changes nothing
    assert_confirmed(wait_terminal(saga_id))


def test_a_stalled_running_saga_is_driven_on_from_its_log(live_app, make_saga, worker):
    saga_id = make_saga(seats=["11B"]).id
    saga = saga_log.start_step(saga_id, 1, "reserve_seat", "action", "dead-task")
    definition.reserve_seat(saga)  # its worker died right after the first step's effect
    assert recovery.stalled_sagas() == []  # its lease still runs
    lapse(saga_id)

    planned = recovery.stalled_sagas()
    assert [(plan.saga_id, plan.fence, plan.actions) for plan in planned] == \
        [(saga_id, 2, tuple(definition.ACTION_NAMES))]
    assert recovery.stalled_sagas() == []  # taken over: another janitor run does not take it again
    saga_tasks.dispatch(planned[0])
    saga = wait_terminal(saga_id)
    assert_confirmed(saga)
    assert saga.step("reserve_seat").attempts == 2


def test_a_failed_step_whose_errback_was_lost_is_compensated(live_app, make_saga, worker):
    saga_id = make_saga(seats=["11C"]).id
    definition.reserve_seat(saga_log.start_step(saga_id, 1, "reserve_seat", "action", "t"))
    saga_log.finish_step(saga_id, 1, "reserve_seat", "failed", TransientError("redis went away"))
    lapse(saga_id)

    assert maintenance.reconcile_sagas.run() == {"sagas_redriven": 1}
    saga = wait_terminal(saga_id)
    assert saga.status == "failed" and saga.failure_step == "reserve_seat"
    assert_undone(saga)


def test_the_sweep_compensates_a_saga_whose_hold_lapsed_while_payment_was_slow(
        live_app, client, make_flight, make_saga, worker):
    flight = make_flight()
    saga_id = make_saga(seats=["11D"], flight_id=flight.id).id
    assert engine.run_step(saga_id, "reserve_seat", fence=1) == engine.Done()
    slow = saga_log.start_step(saga_id, 1, "authorize_payment", "action", "slow")  # in flight
    definition.authorize_payment(slow)  # authorized, but not yet recorded
    hold_id = saga_log.load(saga_id).hold_id
    db.session.execute(db.update(Hold).where(Hold.id == hold_id).values(expires_at=utcnow()))
    db.session.commit()

    assert maintenance.sweep_expired_holds.run() == {"holds_expired": 1, "sagas_compensated": 1}
    assert maintenance.sweep_expired_holds.run() == {"holds_expired": 0, "sagas_compensated": 0}
    # The slow step comes back after compensation began: fenced off, it records nothing, and the
    # compensation of the step it started voids its authorization.
    assert saga_log.finish_step(saga_id, 1, "authorize_payment", "succeeded") is None
    saga = wait_terminal(saga_id)
    assert saga.status == "failed" and saga.failure_reason == "hold_expired"
    assert_undone(saga)
    assert seat_status(client, flight.id)["11D"] == "available"


def test_a_debt_is_paid_by_the_janitor_and_the_saga_settles(live_app, client, make_user, auth_headers,
                                                            make_flight, faults, worker):
    faults.fail_before("payment", "POST", "^/operations/.+/cancel$")  # cancel_payment cannot reach it
    saga_id = book(client, auth_headers(make_user()), make_flight().id, ["11E"],
                   number=NO_FUNDS).json["id"]
    saga = wait_terminal(saga_id)
    assert saga.status == "needs_attention"
    assert maintenance.retry_debts.run() == {"sagas_settled": 0}  # not due yet

    faults.clear()
    db.session.execute(db.update(Debt).values(next_attempt_at=utcnow()))
    db.session.commit()
    assert maintenance.retry_debts.run() == {"sagas_settled": 1}
    assert maintenance.retry_debts.run() == {"sagas_settled": 0}
    saga = saga_log.load(saga_id)
    assert saga.status == "failed"
    assert saga.step("cancel_payment").status == "succeeded"
    assert db.session.execute(db.select(Debt)).scalar_one().paid_at is not None
    assert_undone(saga)


def test_an_admin_retries_a_saga_that_needs_attention(live_app, client, make_user, auth_headers,
                                                     make_flight, monkeypatch, worker):
    admin = auth_headers(make_user(is_admin=True))
    traveller = auth_headers(make_user())
    real = definition.COMPENSATIONS["cancel_seat"]
    monkeypatch.setitem(definition.COMPENSATIONS, "cancel_seat",
                        lambda saga: (_ for _ in ()).throw(TransientError("redis away")))
    saga_id = book(client, traveller, make_flight().id, ["11F"], number=DECLINED).json["id"]
    assert wait_terminal(saga_id).status == "needs_attention"

    listed = client.get("/api/v1/admin/sagas?status=needs_attention", headers=admin).json
    assert [item["id"] for item in listed["items"]] == [saga_id]
    assert client.get("/api/v1/admin/sagas", headers=traveller).status_code == 403
    assert client.post(f"/api/v1/admin/sagas/{saga_id}/retry", headers=traveller).status_code == 403

    monkeypatch.setitem(definition.COMPENSATIONS, "cancel_seat", real)
    response = client.post(f"/api/v1/admin/sagas/{saga_id}/retry", headers=admin)
    assert response.status_code == 202

    def settled():
        db.session.expire_all()
        return db.session.get(Saga, saga_id).status == "failed"

    from tests.e2e.stack import wait_for

    wait_for(settled, timeout=20, what="the debt paid")
    assert_undone(saga_log.load(saga_id))
    again = client.post(f"/api/v1/admin/sagas/{saga_id}/retry", headers=admin)
    assert again.status_code == 409
    assert client.post("/api/v1/admin/sagas/00000000-0000-0000-0000-000000000000/retry",
                       headers=admin).status_code == 404


def test_janitors_running_at_once_redrive_a_saga_once(live_app, make_flight, make_saga):
    from concurrent.futures import ThreadPoolExecutor

    saga_ids = [make_saga(seats=["13A"], flight_id=make_flight(number=f"SA9{i}").id).id
                for i in range(3)]
    for saga_id in saga_ids:
        lapse(saga_id)

    def janitor(_):
        with live_app.app_context():
            return [redrive.saga_id for redrive in recovery.stalled_sagas()]

    with ThreadPoolExecutor(max_workers=4) as pool:
        planned = [saga_id for result in pool.map(janitor, range(4)) for saga_id in result]
    assert sorted(planned) == sorted(saga_ids)
