"""I6 and API1: every endpoint, called by nobody, by the wrong user, by the owner and by an admin.

Anonymous or bad credentials → 401; someone else's hold or booking → 404 and nothing changes;
admin endpoints → 403 for travellers. The table is tests/security_world.py's ENDPOINTS.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.auth import issue_token, revoke_token
from app.extensions import db
from app.models import ApiToken, Hold, HoldStatus, Saga, SagaStatus
from app.models.types import utcnow
from tests.security_world import (
    ADMIN,
    ENDPOINTS,
    OWNER,
    OWNER_READ,
    PUBLIC,
    Endpoint,
    World,
    build_world,
    stub_enqueue,
)

SKIPPED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture
def world(app, participants, make_user, make_flight, insert_ticket, monkeypatch) -> World:
    stub_enqueue(monkeypatch)
    return build_world(app, make_user, make_flight, insert_ticket)


def by_access(*accesses: str) -> list[Endpoint]:
    return [endpoint for endpoint in ENDPOINTS if endpoint.access in accesses]


def assert_problem(response, status: int, endpoint: Endpoint) -> None:
    answer = response.get_data(as_text=True)
    assert response.status_code == status, f"{endpoint}: {response.status_code} {answer}"
    assert response.mimetype == "application/problem+json", endpoint
    assert response.get_json()["status"] == status


def test_the_table_names_every_api_endpoint(world):
    """A new endpoint fails here until it has a row saying who may call it."""
    adapter = world.app.url_map.bind("localhost")
    tabled = {(endpoint.method, adapter.match(world.path(endpoint), method=endpoint.method)[0])
              for endpoint in ENDPOINTS}
    routed = {(method, rule.endpoint) for rule in world.app.url_map.iter_rules()
              if rule.rule.startswith("/api/") for method in rule.methods - SKIPPED_METHODS}
    assert routed - tabled == set(), "endpoints without a row in tests/security_world.py"
    assert tabled - routed == set()


def _expired_token(world: World) -> str:
    raw, _ = issue_token(world.alice)
    db.session.execute(db.update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    return raw


def _revoked_token(world: World) -> str:
    raw, _ = issue_token(world.alice)
    revoke_token(raw)
    return raw


CREDENTIALS = {
    "none": lambda world: None,
    "garbage": lambda world: "Bearer not-a-token",
    "empty bearer": lambda world: "Bearer ",
    "basic": lambda world: "Basic YWxpY2VAZXhhbXBsZS5jb206Y29ycmVjdCBob3JzZQ==",
    "expired": lambda world: f"Bearer {_expired_token(world)}",
    "revoked": lambda world: f"Bearer {_revoked_token(world)}",
}


@pytest.mark.parametrize("credentials", list(CREDENTIALS))
def test_without_valid_credentials_everything_but_public_is_401(world, credentials):
    header = CREDENTIALS[credentials](world)
    headers = {"Authorization": header} if header else {}
    for endpoint in by_access(*{e.access for e in ENDPOINTS} - {PUBLIC}):
        response = world.call(endpoint, headers=headers)
        assert_problem(response, 401, endpoint)
        assert response.get_json()["type"] == "/problems/unauthorized"
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_untouched(world)


def test_public_endpoints_answer_anonymous_callers(world):
    for endpoint in by_access(PUBLIC):
        assert world.call(endpoint).status_code < 300, endpoint


@pytest.mark.parametrize("who", ["bob", "admin"])
def test_someone_elses_hold_or_booking_is_404_and_stays_unchanged(world, who):
    caller = getattr(world, who)
    for endpoint in by_access(OWNER, OWNER_READ):
        response = world.call(endpoint, caller)
        if who == "admin" and endpoint.access == OWNER_READ:
            assert response.status_code == 200, endpoint  # administrators see every hold and booking
        else:
            assert_problem(response, 404, endpoint)
            # "Not yours" reads exactly like "no such thing": ids cannot be probed.
            assert response.get_json()["type"] == "/problems/not-found"
    assert_untouched(world)


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_admin_endpoints_are_403_for_travellers(world, who):
    for endpoint in by_access(ADMIN):
        response = world.call(endpoint, getattr(world, who))
        assert_problem(response, 403, endpoint)
        assert response.get_json()["type"] == "/problems/forbidden"
    assert db.session.execute(db.select(db.func.count()).select_from(Saga)).scalar() == 1
    assert_untouched(world)


def test_admin_endpoints_answer_the_admin(world):
    for endpoint in by_access(ADMIN):
        assert world.call(endpoint, world.admin).status_code not in (401, 403, 404), endpoint


def test_the_owner_reaches_her_own_hold_and_booking(world):
    endpoints = {str(endpoint): endpoint for endpoint in ENDPOINTS}
    assert world.call(endpoints["GET /api/v1/holds/{hold}"], world.alice).status_code == 200
    assert world.call(endpoints["GET /api/v1/bookings/{booking}"], world.alice).status_code == 200
    booked = world.call(endpoints["POST /api/v1/bookings"], world.alice)
    assert booked.status_code == 202, booked.get_json()
    # The booking adopted the hold, so only the booking may let it go now.
    assert world.call(endpoints["DELETE /api/v1/holds/{hold}"], world.alice).status_code == 409
    cancelled = world.call(endpoints["POST /api/v1/bookings/{booking}/cancel"], world.alice)
    assert cancelled.status_code == 202 and cancelled.get_json()["status"] == SagaStatus.CANCELLING


def test_lists_and_seat_maps_show_only_the_callers_own(world):
    endpoints = {str(endpoint): endpoint for endpoint in ENDPOINTS}
    mine = world.call(endpoints["GET /api/v1/bookings"], world.alice).get_json()
    theirs = world.call(endpoints["GET /api/v1/bookings"], world.bob).get_json()
    assert [item["id"] for item in mine["items"]] == [world.booking_id]
    assert theirs["items"] == [] and theirs["total"] == 0
    every = world.call(endpoints["GET /api/v1/admin/sagas"], world.admin).get_json()
    assert world.booking_id in [item["id"] for item in every["items"]]

    def held_by_you(user) -> list[str]:
        seats = world.call(endpoints["GET /api/v1/flights/{flight}/seats"], user).get_json()["seats"]
        return [seat["number"] for seat in seats if seat.get("held_by_you")]

    assert held_by_you(world.alice) == ["1A"]
    assert held_by_you(world.bob) == []
    assert held_by_you(world.admin) == []


def assert_untouched(world: World) -> None:
    """Alice's hold is still held by her, her booking still confirmed, and nobody booked her hold."""
    db.session.expire_all()
    hold = db.session.get(Hold, world.hold_id)
    assert hold.status == HoldStatus.HELD and hold.user_id == world.alice.id and hold.saga_id is None
    assert db.session.get(Saga, world.booking_id).status == SagaStatus.CONFIRMED
    assert db.session.execute(db.select(Saga.id).where(Saga.user_id != world.alice.id)).first() is None
