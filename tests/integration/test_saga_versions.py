"""Versioned definitions: a saga runs, is re-driven, compensated and shown under the version it
started with, whatever version new bookings start under; a process runs only the versions it knows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app import definitions, engine, recovery, saga_log
from app import saga as definition
from app.definitions import Definition, Step
from app.extensions import db
from app.models import Saga
from app.models.types import utcnow
from app.tasks import chains
from tests.conftest import book
from tests.integration.saga_helpers import assert_confirmed

pytestmark = pytest.mark.integration
V1, V2 = definition.V1.action_names, definition.V2.action_names


@pytest.fixture
def start_saga(live_app, client, make_user, auth_headers, make_flight, monkeypatch):
    """Book under `version` over the API, not enqueued: the test makes every delivery itself."""
    monkeypatch.setattr(chains, "start", lambda saga_id, fence, version=None: None)
    headers = auth_headers(make_user())
    flight = make_flight()
    seats = iter(f"{row}{letter}" for row in range(6, 27) for letter in "ABCDEF")

    def start(version: int) -> Saga:
        live_app.config["SAGA_DEFINITION_VERSION"] = version
        response = book(client, headers, flight.id, [next(seats)])
        live_app.config["SAGA_DEFINITION_VERSION"] = 0
        return db.session.get(Saga, response.json["id"])

    start.headers = headers
    return start


def deliver(saga_id: str, names, fence: int) -> None:
    for name in names:
        attempt = 0
        while isinstance(outcome := engine.run_step(saga_id, name, fence, attempt), engine.Retry):
            attempt += 1
        assert outcome == engine.Done(), (name, outcome)


def test_new_bookings_start_under_the_newest_version_and_the_api_shows_each_sagas_own_steps(
        start_saga, client):
    old, new = start_saga(1), start_saga(0)
    assert (old.definition_version, new.definition_version) == (1, 2)
    for saga, names in ((old, V1), (new, V2)):
        body = client.get(f"/api/v1/bookings/{saga.id}", headers=start_saga.headers).json
        assert body["definition_version"] == saga.definition_version
        assert [step["name"] for step in body["steps"]] == names
        assert [step["follow_up"] for step in body["steps"]] == [name == "send_itinerary" for name in names]


def test_a_v1_saga_in_flight_at_the_switch_finishes_under_v1(start_saga):
    saga = start_saga(1)
    deliver(saga.id, V1[:2], 1)  # the switch to v2 happens here: new bookings run v2 from now on
    deliver(saga.id, V1[2:], 1)
    done = saga_log.load(saga.id)
    assert_confirmed(done)
    assert done.completed_at is not None  # v1 has nothing after its pivot
    assert [step.name for step in done.steps] == V1
    assert engine.run_step(saga.id, "send_itinerary", 1) == engine.Fenced("the saga is confirmed")


def test_a_v2_saga_is_confirmed_at_its_pivot_and_complete_after_its_follow_up(start_saga):
    saga = start_saga(2)
    deliver(saga.id, V2[:-1], 1)
    confirmed = saga_log.load(saga.id)
    assert confirmed.status == "confirmed" and confirmed.completed_at is None
    assert saga_log.is_in_flight(confirmed)
    deliver(saga.id, V2[-1:], 1)
    assert saga_log.load(saga.id).completed_at is not None


def test_a_stalled_v1_saga_is_re_driven_under_v1_and_a_stalled_follow_up_forward(start_saga):
    old, new = start_saga(1), start_saga(2)
    deliver(old.id, V1[:1], 1)
    deliver(new.id, V2[:-1], 1)  # confirmed; its worker died before the itinerary went out
    later = utcnow() + timedelta(seconds=60)
    plans = {plan.saga_id: plan for plan in recovery.stalled_sagas(now=later)}
    assert plans[old.id].actions == tuple(V1[1:]) and plans[old.id].version == 1
    assert plans[new.id].actions == ("send_itinerary",) and plans[new.id].version == 2
    deliver(old.id, plans[old.id].actions, plans[old.id].fence)
    deliver(new.id, plans[new.id].actions, plans[new.id].fence)
    assert [step.name for step in saga_log.load(old.id).steps] == V1
    assert saga_log.load(new.id).completed_at is not None


def test_cancelling_runs_the_sagas_own_compensations(start_saga):
    old, new = start_saga(1), start_saga(2)
    deliver(old.id, V1, 1)
    deliver(new.id, V2, 1)
    assert engine.cancel(old.id).compensations == ("cancel_booking", "reverse_miles", "cancel_payment",
                                                   "cancel_seat")
    assert engine.cancel(new.id).compensations[0] == "send_cancellation"


def test_a_process_that_does_not_run_a_version_leaves_its_sagas_alone(start_saga, live_app):
    new = start_saga(2)
    live_app.config["SAGA_DEFINITIONS"] = (1,)  # an old worker during a rolling deploy
    try:
        outcome = engine.run_step(new.id, "reserve_seat", 1)
        assert isinstance(outcome, engine.Misrouted) and outcome.version == 2
        assert saga_log.load(new.id).step("reserve_seat").attempts == 0  # it changed nothing
        assert recovery.stalled_sagas(now=utcnow() + timedelta(seconds=60)) == []
    finally:
        live_app.config["SAGA_DEFINITIONS"] = ()


def test_in_flight_sagas_are_counted_per_version(start_saga, live_app):
    start_saga(1)
    start_saga(2)
    done = start_saga(2)
    deliver(done.id, V2, 1)
    assert saga_log.in_flight_by_version() == {1: 1, 2: 1}
    output = live_app.test_cli_runner().invoke(args=["saga-versions"]).output
    assert "v1: 1 in flight" in output and "v2: 1 in flight" in output and "new bookings start here" in output


def test_a_definition_has_one_pivot_and_a_name_means_one_thing_in_every_version():
    def noop(saga) -> None:
        return None

    with pytest.raises(ValueError, match="exactly one pivot"):
        Definition(9, [Step("a", noop, "undo_a", noop)])
    odd = Definition(9, [Step("confirm_booking", noop, "reserve_seat", noop, pivot=True)])
    with pytest.raises(ValueError, match="change meaning"):
        definitions.check({**definition.DEFINITIONS, 9: odd})
    assert definition.V2.pivot == "confirm_booking" and definition.V2.follow_ups == ["send_itinerary"]


@pytest.mark.parametrize("settings", [{"SAGA_DEFINITIONS": (1, 7)},
                                      {"SAGA_DEFINITIONS": (1,), "SAGA_DEFINITION_VERSION": 2}])
def test_a_process_refuses_to_start_with_versions_the_code_does_not_have(settings, make_app):
    from app.settings_check import UnworkableSettings

    with pytest.raises(UnworkableSettings, match="SAGA_DEFINITION"):
        make_app(**settings)


def test_a_confirmed_saga_with_every_step_done_but_no_completion_is_completed_not_re_driven(start_saga):
    saga = start_saga(2)
    deliver(saga.id, V2, 1)
    db.session.execute(db.update(Saga).where(Saga.id == saga.id).values(completed_at=None))
    db.session.commit()
    assert recovery.stalled_sagas(now=utcnow() + timedelta(seconds=60)) == []
    assert saga_log.load(saga.id).completed_at is not None
    assert recovery.stalled_sagas(now=utcnow() + timedelta(seconds=120)) == []
