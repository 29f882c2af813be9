"""The holds endpoints (API.md "Holds"): statuses, problem bodies, owners and limits."""

from __future__ import annotations

from datetime import datetime, timedelta

import fakeredis
import pytest

from app.extensions import db, get_redis
from app.models import Hold, HoldStatus, Seat
from app.models.types import utcnow
from app.seat_holds import hold_key

HOLD_FIELDS = {"id", "flight_id", "seats", "status", "expires_at", "amount", "currency"}


@pytest.fixture
def tokens() -> dict[int, dict]:
    """Authorization headers by user id."""
    return {}


@pytest.fixture
def call(app, client, tokens):
    """One request in its own app context, as in production: nothing (g.user) leaks between them."""

    def request(method: str, url: str, user=None, **kwargs):
        if user is not None:
            kwargs["headers"] = {**tokens[user.id], **kwargs.get("headers", {})}
        with app.app_context():
            return client.open(url, method=method, **kwargs)

    return request


@pytest.fixture
def users(make_user, auth_headers, tokens):
    """Two travellers and an administrator, each with a bearer token."""
    people = [make_user(), make_user(), make_user(is_admin=True)]
    for person in people:
        tokens[person.id] = auth_headers(person)
    return people


def hold_url(flight_id: int) -> str:
    return f"/api/v1/flights/{flight_id}/holds"


def fresh(hold_id: str) -> Hold:
    """The row as the database has it now (requests ran in their own sessions)."""
    return db.session.get(Hold, hold_id, populate_existing=True)


def test_post_holds_the_seats(call, users, flight):
    response = call("POST", hold_url(flight.id), users[0], json={"seats": ["1A", "12B"]})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == HOLD_FIELDS
    assert body["flight_id"] == flight.id
    assert body["seats"] == ["1A", "12B"]
    assert body["status"] == "held"
    assert (body["amount"], body["currency"]) == ("1350.00", "USD")
    expires_at = datetime.fromisoformat(body["expires_at"])
    assert expires_at.utcoffset() == timedelta(0)
    assert timedelta(seconds=595) < expires_at - utcnow() <= timedelta(seconds=600)
    row = fresh(body["id"])
    assert row.user_id == users[0].id
    assert get_redis().get(hold_key(flight.id, "1A")) == row.token.encode()


def test_post_a_taken_seat_is_409_naming_only_the_seats(call, users, flight):
    call("POST", hold_url(flight.id), users[0], json={"seats": ["12B", "12C"]})
    response = call("POST", hold_url(flight.id), users[1], json={"seats": ["12A", "12B", "12C"]})
    assert response.status_code == 409
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == "/problems/seat-unavailable"
    assert body["seats"] == ["12B", "12C"]
    assert str(users[0].id) not in body["detail"]
    assert get_redis().get(hold_key(flight.id, "12A")) is None


def test_post_to_an_unknown_flight_is_404(call, users, flight):
    for flight_id in (flight.id + 1, 2**63, 10**30):
        response = call("POST", hold_url(flight_id), users[0], json={"seats": ["12A"]})
        assert response.status_code == 404, flight_id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"seats": []}, "seats"),
        ({"seats": ["12A", "12A"]}, "seats"),
        ({"seats": [f"{row}A" for row in range(6, 16)]}, "seats"),
        ({"seats": ["28A"]}, "seats"),
        ({"seats": ["12G"]}, "seats"),
        ({"seats": ["12A" * 100]}, "seats"),
        ({"seats": [12]}, "seats"),
        ({"seats": "12A"}, "seats"),
        ({"seats": None}, "seats"),
        ({"seats": ["1A"] * 1000}, "seats"),
        ({}, "seats"),
        ({"seats": ["12A"], "hold_for": "ever"}, "hold_for"),
    ],
)
def test_post_bad_seat_lists_are_422_and_hold_nothing(call, users, flight, body, field):
    response = call("POST", hold_url(flight.id), users[0], json=body)
    assert response.status_code == 422
    problem = response.get_json()
    assert problem["type"] == "/problems/validation-error"
    assert any(name == field or name.startswith(field + ".") for name in problem["errors"])
    assert db.session.query(Hold).count() == 0
    assert get_redis().keys("hold:*") == []


def test_post_a_blocked_seat_is_422(call, users, flight):
    db.session.query(Seat).filter_by(flight_id=flight.id, number="12C").update({"blocked": True})
    db.session.commit()
    response = call("POST", hold_url(flight.id), users[0], json={"seats": ["12C"]})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {"seats": ["Not for sale: 12C."]}


def test_post_malformed_json_is_400(call, users, flight):
    response = call("POST", hold_url(flight.id), users[0], data="{seats",
                    headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_a_fourth_active_hold_is_429_with_retry_after(call, users, flight):
    for seat in ("12A", "12B", "12C"):
        assert call("POST", hold_url(flight.id), users[0], json={"seats": [seat]}).status_code == 201
    response = call("POST", hold_url(flight.id), users[0], json={"seats": ["12D"]})
    assert response.status_code == 429
    assert response.get_json()["type"] == "/problems/hold-limit"
    assert 0 < int(response.headers["Retry-After"]) <= 600
    # Another user is not limited by the first one's holds.
    assert call("POST", hold_url(flight.id), users[1], json={"seats": ["12D"]}).status_code == 201


def test_a_released_hold_makes_room_under_the_limit(call, users, flight):
    ids = [call("POST", hold_url(flight.id), users[0], json={"seats": [seat]}).get_json()["id"]
           for seat in ("12A", "12B", "12C")]
    assert call("DELETE", f"/api/v1/holds/{ids[0]}", users[0]).status_code == 204
    assert call("POST", hold_url(flight.id), users[0], json={"seats": ["12D"]}).status_code == 201


@pytest.mark.parametrize(("method", "path"), [("POST", "/api/v1/flights/{flight}/holds"),
                                              ("GET", "/api/v1/holds/{id}"),
                                              ("DELETE", "/api/v1/holds/{id}")])
def test_anonymous_callers_get_401(call, users, flight, method, path):
    hold_id = call("POST", hold_url(flight.id), users[0], json={"seats": ["12A"]}).get_json()["id"]
    url = path.format(flight=flight.id, id=hold_id)
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        # Even with a bad body: an anonymous caller learns nothing from validation.
        response = call(method, url, json={"seats": []}, headers=headers)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert fresh(hold_id).status == HoldStatus.HELD


def test_get_shows_the_owner_their_hold(call, users, flight):
    created = call("POST", hold_url(flight.id), users[0], json={"seats": ["12A"]}).get_json()
    response = call("GET", f"/api/v1/holds/{created['id']}", users[0])
    assert response.status_code == 200
    assert response.get_json() == created


def test_get_hides_another_users_hold_but_not_from_admins(call, users, flight):
    owner, other, admin = users
    hold_id = call("POST", hold_url(flight.id), owner, json={"seats": ["12A"]}).get_json()["id"]
    missing = call("GET", "/api/v1/holds/6d0f8d5e-1111-4000-8000-000000000000", owner)
    assert call("GET", f"/api/v1/holds/{hold_id}", other).status_code == 404
    assert call("GET", f"/api/v1/holds/{hold_id}", other).get_json()["detail"] == missing.get_json()["detail"]
    assert call("GET", f"/api/v1/holds/{hold_id}", admin).status_code == 200


@pytest.mark.parametrize("hold_id", ["not-a-uuid", "x" * 300])
def test_get_with_a_malformed_id_is_404(call, users, hold_id):
    assert call("GET", f"/api/v1/holds/{hold_id}", users[0]).status_code == 404


def test_get_reports_expired_at_once_before_any_sweep(call, users, flight):
    hold_id = call("POST", hold_url(flight.id), users[0], json={"seats": ["12A"]}).get_json()["id"]
    db.session.execute(db.update(Hold).where(Hold.id == hold_id)
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert call("GET", f"/api/v1/holds/{hold_id}", users[0]).get_json()["status"] == "expired"
    assert fresh(hold_id).status == HoldStatus.HELD


def test_delete_frees_the_seats_at_once(call, users, flight):
    owner, other, _ = users
    hold_id = call("POST", hold_url(flight.id), owner, json={"seats": ["12A", "12B"]}).get_json()["id"]
    response = call("DELETE", f"/api/v1/holds/{hold_id}", owner)
    assert response.status_code == 204
    assert response.data == b""
    assert get_redis().keys("hold:*") == []
    assert call("GET", f"/api/v1/holds/{hold_id}", owner).get_json()["status"] == "released"
    assert call("POST", hold_url(flight.id), other, json={"seats": ["12A", "12B"]}).status_code == 201
    # Again: already released, nothing to do.
    assert call("DELETE", f"/api/v1/holds/{hold_id}", owner).status_code == 204


def test_only_the_owner_may_delete(call, users, flight):
    owner, other, admin = users
    hold_id = call("POST", hold_url(flight.id), owner, json={"seats": ["12A"]}).get_json()["id"]
    assert call("DELETE", f"/api/v1/holds/{hold_id}", other).status_code == 404
    assert call("DELETE", f"/api/v1/holds/{hold_id}", admin).status_code == 404
    assert fresh(hold_id).status == HoldStatus.HELD
    assert get_redis().get(hold_key(flight.id, "12A")) is not None


@pytest.mark.parametrize("change", [{"saga_id": "6d0f8d5e-2222-4000-8000-000000000000"},
                                    {"status": HoldStatus.CONSUMED}])
def test_delete_of_a_hold_a_booking_uses_is_409(call, users, flight, change):
    hold_id = call("POST", hold_url(flight.id), users[0], json={"seats": ["12A"]}).get_json()["id"]
    db.session.execute(db.update(Hold).where(Hold.id == hold_id).values(**change))
    db.session.commit()
    response = call("DELETE", f"/api/v1/holds/{hold_id}", users[0])
    assert response.status_code == 409
    assert response.get_json()["type"] == "/problems/hold-in-use"
    assert fresh(hold_id).status == change.get("status", HoldStatus.HELD)


def test_redis_down_is_503_not_500(app, call, users, flight):
    server = fakeredis.FakeServer()
    server.connected = False
    app.extensions["redis"] = fakeredis.FakeRedis(server=server)
    response = call("POST", hold_url(flight.id), users[0], json={"seats": ["12A"]})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"
    assert db.session.query(Hold).count() == 0


def test_the_openapi_document_describes_the_holds(call):
    paths = call("GET", "/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/v1/flights/{flight_id}/holds"]) >= {"post"}
    assert set(paths["/api/v1/holds/{hold_id}"]) >= {"get", "delete"}
