"""The explorer's own parts, on sequences whose outcome is known: if these break, the explorer
would find nothing (or nonsense)."""

from __future__ import annotations

import pytest

from app import mail
from app.extensions import db
from app.models import SagaStatus, SentEmail
from tests.explore import faults
from tests.explore.session import explorer

pytestmark = pytest.mark.explore


def booked(machine, seats=("1A",), card="approved"):  # noqa: ANN001, ANN201
    state = machine()
    state.create_booking(user=0, seats=list(seats), card=card)
    return state


def statuses(state) -> list[str]:  # noqa: ANN001
    by_id = {saga.id: saga.status for saga in state.world.sagas()}
    return [by_id[saga_id] for saga_id in state.saga_ids]


def drain(state) -> None:  # noqa: ANN001
    while state.pending:
        state.deliver(pick=0)
        state.invariants_hold()


def test_a_booking_confirms_and_a_declined_card_fails(tmp_path, monkeypatch):
    with explorer(tmp_path, monkeypatch) as machine:
        state = booked(machine)
        state.create_booking(user=1, seats=["2A"], card="declined")
        drain(state)
        assert statuses(state) == [SagaStatus.CONFIRMED, SagaStatus.FAILED]
        state.teardown()


def test_two_sagas_on_one_seat_sell_it_once(tmp_path, monkeypatch):
    with explorer(tmp_path, monkeypatch) as machine:
        state = booked(machine, seats=("1A", "1B"))
        state.create_booking(user=1, seats=["1B"], card="approved")
        drain(state)
        assert sorted(statuses(state)) == [SagaStatus.CONFIRMED, SagaStatus.FAILED]
        state.teardown()


def test_a_kill_is_redelivered_and_a_late_request_lands(tmp_path, monkeypatch):
    with explorer(tmp_path, monkeypatch) as machine:
        state = booked(machine)
        state.deliver(pick=0)  # reserve_seat
        state.deliver_with_fault(pick=0, kind="kill_after_call", at=0, redeliver=True)
        assert state.pending and state.pending[0].task == "authorize_payment"
        state.deliver_with_fault(pick=0, kind="late", at=0, redeliver=True)
        assert state.world.late.held and state.pending[0].attempt == 1
        state.late_request_lands(pick=0)
        drain(state)
        assert statuses(state)[0] == SagaStatus.CONFIRMED
        state.teardown()


# The two known interleavings below break today's code (app/tasks/runner.py) and are expected to
# fail until the fenced engine replaces it; they then guard against the bugs coming back.


def test_a_late_duplicate_does_not_undo_a_confirmed_booking(tmp_path, monkeypatch):
    with explorer(tmp_path, monkeypatch) as machine:
        state = booked(machine)
        state.deliver(pick=0)
        state.duplicate(pick=0)  # two authorize_payment messages
        state.deliver_and_pause(pick=0, kind="pause_after_call", at=0)
        assert len(state.parked) == 1
        drain(state)
        state.resume(pick=0)
        assert not state.parked
        state.invariants_hold()
        state.teardown()


def test_an_authorization_landing_late_is_voided(tmp_path, monkeypatch):
    with explorer(tmp_path, monkeypatch) as machine:
        state = booked(machine)
        state.deliver(pick=0)
        state.deliver_with_fault(pick=0, kind="timeout_before", at=0, redeliver=True)
        state.deliver_with_fault(pick=0, kind="late", at=0, redeliver=True)  # out of retries: fails
        state.drain()
        state.late_request_lands(pick=0)
        state.teardown()


def test_commit_kills_count_commits(tmp_path, monkeypatch):
    with explorer(tmp_path, monkeypatch) as machine:
        state = booked(machine)
        state.deliver_with_fault(pick=0, kind="kill_before_commit", at=0, redeliver=False)
        assert not state.pending  # lost: the reconciler must find it
        plan = faults.Plan("kill_before_commit", 0)
        assert plan.take("commits", faults.COMMIT_KILLS) == "kill_before_commit"
        state.teardown()
        assert statuses(state)[0] == SagaStatus.CONFIRMED


def test_a_sender_killed_after_claiming_the_e_mail_holds_up_nothing_past_the_bound(tmp_path, monkeypatch):
    with explorer(tmp_path, monkeypatch) as machine:
        state = booked(machine)
        while state.pending[0].task != "send_itinerary":
            state.deliver(pick=0)
        state.deliver_with_fault(pick=0, kind="kill_before_call", at=0, redeliver=False)
        assert not state.pending and not mail.outbox()
        assert db.session.query(SentEmail).one().sent_at is None  # claimed, never sent
        state.teardown()  # I4_recovery_bound if the dead sender's claim outlives the takeover
        assert statuses(state)[0] == SagaStatus.CONFIRMED
        [saga] = state.world.sagas()
        assert [kind for kind, _ in state.world.mails_of(saga)] == ["itinerary"]


def test_a_redelivery_of_a_sender_killed_after_claiming_defers_to_the_lease(tmp_path, monkeypatch):
    """The same message again under the same fence (a pool process killed, its message requeued at
    once): nothing tells it whether the claimer still works, so it stops and the lease decides."""
    with explorer(tmp_path, monkeypatch) as machine:
        state = booked(machine)
        while state.pending[0].task != "send_itinerary":
            state.deliver(pick=0)
        state.deliver_with_fault(pick=0, kind="kill_before_call", at=0, redeliver=True)
        assert [delivery.task for delivery in state.pending] == ["send_itinerary"]
        state.teardown()
        [saga] = state.world.sagas()
        assert [kind for kind, _ in state.world.mails_of(saga)] == ["itinerary"]


def test_a_booking_cancelled_before_its_itinerary_went_gets_only_the_cancellation(tmp_path, monkeypatch):
    with explorer(tmp_path, monkeypatch) as machine:
        state = booked(machine)
        while state.pending[0].task != "send_itinerary":
            state.deliver(pick=0)
        state.cancel(pick=0)
        state.teardown()
        assert statuses(state)[0] == SagaStatus.CANCELLED
        [saga] = state.world.sagas()
        # send_itinerary had started (the pivot records its start), so its compensation ran.
        assert [kind for kind, _ in state.world.mails_of(saga)] == ["cancellation"]
