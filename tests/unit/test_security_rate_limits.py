"""Rate limits: 429 problem+json with Retry-After, per address+email, address or user; Redis down is no 500.

Counters are kept in memory here (RATELIMIT_STORAGE_URI=memory://) and the rates are lowered so a
test needs a handful of requests; tests/integration/test_security_rate_limits.py runs them on Redis.
"""

from __future__ import annotations

import fakeredis
import pytest

from tests.conftest import build_app, teardown_app
from tests.unit.web_browser import Browser

TOKEN = "/api/v1/auth/token"
REGISTER = "/api/v1/auth/register"
LIMITED = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_LOGIN": "3/minute",
    "RATELIMIT_LOGIN_PER_ADDRESS": "5/minute",
    "RATELIMIT_REGISTER": "2/minute",
    "RATELIMIT_HOLDS": "2/minute",
    "RATELIMIT_BOOKINGS": "2/minute",
}


@pytest.fixture
def app(tmp_path):
    """The shared fixtures' app, with its rate limits switched on."""
    app = build_app(tmp_path, **LIMITED)
    app.extensions["redis"] = fakeredis.FakeRedis()
    with app.app_context():
        yield app
    teardown_app(app)


def from_address(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def attempt(client, email: str = "ada@example.com", address: str = "10.0.0.1"):
    return client.post(TOKEN, json={"email": email, "password": "wrong horse"}, **from_address(address))


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"] == "/problems/rate-limited"
    assert problem["status"] == 429 and "Try again in" in problem["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_login_attempts_are_limited_per_address_and_email(client):
    assert [attempt(client).status_code for _ in range(3)] == [401, 401, 401]
    limited = attempt(client)
    assert_rate_limited(limited)
    # A moving window: the first of the three attempts, moments ago, frees a place in a minute.
    assert int(limited.headers["Retry-After"]) > 45
    # The same email typed differently is the same account, and the same counter.
    assert_rate_limited(attempt(client, email="  ADA@example.com"))
    # Another account from this address, or this account from elsewhere, still gets through.
    assert attempt(client, email="bob@example.com").status_code == 401
    assert attempt(client, address="10.0.0.2").status_code == 401


def test_a_correct_password_is_limited_too(client, make_user):
    make_user("ada@example.com")
    for _ in range(3):
        attempt(client)
    right = client.post(TOKEN, json={"email": "ada@example.com", "password": "correct horse"},
                        **from_address("10.0.0.1"))
    assert_rate_limited(right)


def test_login_attempts_across_many_accounts_are_limited_per_address(client):
    answers = [attempt(client, email=f"user{n}@example.com").status_code for n in range(5)]
    assert answers == [401] * 5
    assert_rate_limited(attempt(client, email="user99@example.com"))
    assert attempt(client, email="user99@example.com", address="10.0.0.2").status_code == 401


def test_registrations_are_limited_per_address(client):
    def register(n: int, address: str = "10.0.0.1"):
        body = {"email": f"new{n}@example.com", "password": "long enough", "name": "New"}
        return client.post(REGISTER, json=body, **from_address(address))

    assert [register(n).status_code for n in range(2)] == [201, 201]
    assert_rate_limited(register(2))
    assert register(3, address="10.0.0.2").status_code == 201


def test_taking_holds_is_limited_per_user(client, make_user, auth_headers, make_flight):
    flight = make_flight()
    ada, bob = auth_headers(make_user()), auth_headers(make_user())
    url = f"/api/v1/flights/{flight.id}/holds"
    taken = [client.post(url, json={"seats": [seat]}, headers=ada).status_code for seat in ("1A", "1B")]
    assert taken == [201, 201]
    assert_rate_limited(client.post(url, json={"seats": ["1C"]}, headers=ada))
    # Per user, not per address: Bob, on the same address, is not held back by Ada.
    assert client.post(url, json={"seats": ["1C"]}, headers=bob).status_code == 201


def test_starting_bookings_is_limited_per_user_and_reading_them_is_not(client, make_user, auth_headers):
    ada = auth_headers(make_user())
    # Invalid bodies count as well: the limit is checked before the body is read.
    assert [client.post("/api/v1/bookings", json={}, headers=ada).status_code for _ in range(2)] == [422] * 2
    assert_rate_limited(client.post("/api/v1/bookings", json={}, headers=ada))
    assert all(client.get("/api/v1/bookings", headers=ada).status_code == 200 for _ in range(5))


def test_the_login_page_and_the_api_share_one_counter(app, client):
    browser = Browser(app)
    browser.get("/login")
    form = {"email": "ada@example.com", "password": "wrong horse"}
    assert browser.post_form("/login", form).status_code == 401
    assert [attempt(client, address="127.0.0.1").status_code for _ in range(2)] == [401, 401]
    limited = browser.post_form("/login", form)
    # A page gets a page, not problem+json; Retry-After all the same.
    assert limited.status_code == 429 and limited.mimetype == "text/html"
    assert 45 < int(limited.headers["Retry-After"]) <= 60
    assert_rate_limited(attempt(client, address="127.0.0.1"))
    # Showing the form is not an attempt.
    assert all(browser.get("/login").status_code == 200 for _ in range(5))


def test_the_signup_page_and_the_api_share_one_counter(app, client):
    browser = Browser(app)
    browser.get("/signup")
    form = {"name": "Ada", "email": "ada@example.com", "password": "analytical"}
    assert browser.post_form("/signup", form).status_code == 302
    body = {"email": "bob@example.com", "password": "long enough", "name": "Bob"}
    assert client.post(REGISTER, json=body).status_code == 201
    browser.get("/signup")  # signing up started a new session, with a new CSRF token
    assert browser.post_form("/signup", {**form, "email": "eve@example.com"}).status_code == 429


def test_limits_are_off_when_disabled(tmp_path):
    app = build_app(tmp_path, **{**LIMITED, "RATELIMIT_ENABLED": False})
    try:
        with app.app_context():
            client = app.test_client()
            assert {attempt(client).status_code for _ in range(10)} == {401}
    finally:
        teardown_app(app)


def test_with_redis_down_limits_fall_back_to_memory_and_nothing_is_500(tmp_path):
    # Nothing listens on port 1: every connection to the limiter's Redis is refused.
    app = build_app(tmp_path, **{**LIMITED, "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0"})
    try:
        with app.app_context():
            client = app.test_client()
            assert [attempt(client).status_code for _ in range(3)] == [401, 401, 401]
            # Still limited: the counters moved to memory; they were not dropped.
            assert_rate_limited(attempt(client))
            assert client.get("/api/v1/flights").status_code == 200
    finally:
        teardown_app(app)
