"""Input that only PostgreSQL chokes on (a NUL, a lone surrogate) is a 4xx there too, never a 500.

SQLite stores such text without complaint, so the rest of the suite cannot see these; production
runs on PostgreSQL (TEST_POSTGRES_URL, as the migration tests; skipped when it does not answer).
"""

from __future__ import annotations

from datetime import timedelta

import fakeredis
import pytest

from app.auth import hash_password, issue_token
from app.catalog import create_flight
from app.extensions import db
from app.models import Saga, User
from tests.conftest import card
from tests.security_world import TOMORROW, stub_enqueue
from tests.unit.test_migrations import postgres_url
from tests.unit.web_browser import Browser

NUL, SURROGATE = "\x00", "\ud800"


@pytest.fixture
def pg_app(make_app):
    app = make_app(SQLALCHEMY_DATABASE_URI=postgres_url())
    app.extensions["redis"] = fakeredis.FakeRedis()
    with app.app_context():
        db.drop_all()
        db.create_all()
        yield app
        db.session.rollback()
        db.drop_all()


def test_text_postgresql_cannot_hold_is_refused_before_it_gets_there(pg_app, monkeypatch):
    stub_enqueue(monkeypatch)
    users = [User(email=f"{name}@example.com", name=name, password_hash=hash_password("correct horse"),
                  is_admin=name == "admin") for name in ("ada", "admin")]
    db.session.add_all(users)
    flight = create_flight(number="SA1", origin="LHR", destination="JFK", departs_at=TOMORROW,
                           arrives_at=TOMORROW + timedelta(hours=7))
    db.session.commit()
    ada, admin = ({"Authorization": f"Bearer {issue_token(user)[0]}"} for user in users)
    client = pg_app.test_client()
    holds = f"/api/v1/flights/{flight.id}/holds"
    booking = {"flight_id": flight.id, "seats": ["12A"], "payment": card()}
    cases = [
        ("POST", "/api/v1/bookings", ada, {**booking, "passengers": [{"name": f"A{NUL}"}]}, {}, 422),
        ("POST", "/api/v1/bookings", ada, booking, {"Idempotency-Key": f"k{NUL}"}, 400),
        ("GET", f"/api/v1/bookings/{NUL}", ada, None, {}, 404),
        ("POST", f"/api/v1/bookings/{NUL}/cancel", ada, None, {}, 404),
        ("POST", f"/api/v1/admin/sagas/{NUL}/retry", admin, None, {}, 404),
        ("GET", f"/api/v1/holds/{NUL}", ada, None, {}, 404),
        ("POST", holds, ada, {"seats": [f"12A{NUL}"]}, {}, 422),
        ("POST", holds, ada, {"seats": [f"1{SURROGATE}"]}, {}, 422),
        # flights.id is a 32-bit column there: a larger id names no flight, and must not reach SQL.
        ("POST", f"/api/v1/flights/{2**31}/holds", ada, {"seats": ["12A"]}, {}, 404),
        ("POST", "/api/v1/bookings", ada, {**booking, "flight_id": 2**31}, {}, 422),
        ("GET", f"/api/v1/flights/{2**40}/seats", None, None, {}, 404),
        ("PUT", f"/api/v1/admin/flights/{flight.id}/seats/1A{NUL}", admin, {"blocked": True}, {}, 404),
        ("GET", f"/api/v1/flights?origin=LH{NUL}", None, None, {}, 422),
        ("GET", f"/api/v1/admin/sagas?status=failed{NUL}", admin, None, {}, 422),
        ("POST", "/api/v1/auth/token", None, {"email": f"ada@example.com{NUL}", "password": "x"}, {}, 422),
        ("POST", "/api/v1/auth/register", None,
         {"email": "new@example.com", "password": "long enough", "name": f"N{NUL}"}, {}, 422),
        ("GET", "/api/v1/me", None, None, {"Authorization": f"Bearer {NUL}"}, 401),
    ]
    for method, path, auth, body, headers, status in cases:
        response = client.open(path, method=method, json=body, headers={**(auth or {}), **headers})
        assert response.status_code == status, (method, path, response.get_data(as_text=True))
        assert response.mimetype == "application/problem+json"
    assert db.session.query(Saga).count() == 0
    browser = Browser(pg_app)
    browser.log_in(users[0])
    assert browser.get(f"/bookings/{NUL}").status_code == 404
