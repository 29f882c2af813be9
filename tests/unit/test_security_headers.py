"""Security headers on every response, no-store on private answers, cookie flags, production settings."""

from __future__ import annotations

import pytest
from flask import request
from flask_login import login_user

from app import config, create_app
from app.models import User
from app.security import CONTENT_SECURITY_POLICY
from tests.conftest import TEST_REDIS_URL, make_config
from tests.security_world import ENDPOINTS, build_world, stub_enqueue

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def test_the_policy_allows_no_inline_script_or_framing():
    assert CONTENT_SECURITY_POLICY == (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
    )
    assert "unsafe" not in CONTENT_SECURITY_POLICY


def assert_secured(response, what: str) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, f"{what}: {name}"


def test_every_endpoint_answers_with_the_headers(app, participants, make_user, make_flight, insert_ticket,
                                                 monkeypatch):
    stub_enqueue(monkeypatch)
    world = build_world(app, make_user, make_flight, insert_ticket)
    for endpoint in ENDPOINTS:
        for caller in (None, world.alice, world.admin):
            assert_secured(world.call(endpoint, caller), f"{endpoint} as {caller}")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/healthz"),
    ("GET", "/"),  # the web UI's pages
    ("GET", "/login"),
    ("GET", "/nowhere"),
    ("GET", "/api/v1/nowhere"),
    ("DELETE", "/api/v1/flights"),  # 405
    ("POST", "/api/v1/auth/register"),  # 415: no body type
])
def test_errors_and_pages_carry_them_too(client, method, path):
    assert_secured(client.open(path, method=method, data=b"x"), f"{method} {path}")


def test_a_500_carries_them(app, client):
    def broken():
        raise RuntimeError("bug")

    app.add_url_rule("/api/v1/test-bug", view_func=broken)
    response = client.get("/api/v1/test-bug")
    assert response.status_code == 500
    assert_secured(response, "500")


def test_authenticated_api_answers_are_no_store(client, make_user, auth_headers, make_flight):
    headers = auth_headers(make_user())
    flight = make_flight()
    for path in ("/api/v1/me", "/api/v1/bookings", f"/api/v1/flights/{flight.id}/seats", "/api/v1/nowhere"):
        assert client.get(path, headers=headers).headers.get("Cache-Control") == "no-store", path
    # A bad token is credentials too: its 401 is not for caches either.
    bad = client.get("/api/v1/me", headers={"Authorization": "Bearer x"})
    assert bad.status_code == 401 and bad.headers["Cache-Control"] == "no-store"


def test_a_token_answer_is_no_store(client, make_user):
    make_user("ada@example.com")
    credentials = {"email": "ada@example.com", "password": "correct horse"}
    response = client.post("/api/v1/auth/token", json=credentials)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_anonymous_public_reads_stay_cacheable(client, make_flight):
    flight = make_flight()
    for path in ("/api/v1/flights", f"/api/v1/flights/{flight.id}", f"/api/v1/flights/{flight.id}/seats",
                 "/api/v1/openapi.json"):
        response = client.get(path)
        assert response.status_code == 200 and "Cache-Control" not in response.headers, path


def _session_cookie(app) -> str:
    """The Set-Cookie headers of a real Flask-Login login."""

    def log_in():
        # A user that is not in any session: logging in needs only its id, and no database.
        login_user(User(id=7, email="ada@example.com", name="Ada", password_hash="-"), remember=True)
        return "in"

    app.add_url_rule("/test-login", view_func=log_in)
    response = app.test_client().get("/test-login")
    return "\n".join(response.headers.getlist("Set-Cookie"))


def test_session_cookies_are_httponly_and_samesite_lax_not_secure_in_development(app):
    cookies = _session_cookie(app)
    assert "session=" in cookies and "remember_token=" in cookies
    for cookie in cookies.splitlines():
        assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
        # Development runs on http://127.0.0.1, where a Secure cookie would never come back.
        assert "Secure" not in cookie


def test_session_cookies_are_secure_when_asked(monkeypatch, make_app):
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "true")
    cookies = _session_cookie(make_app())
    assert cookies and all("Secure" in cookie for cookie in cookies.splitlines())


def test_production_makes_cookies_secure_by_default(make_app):
    production = make_app(ENV="production", SECRET_KEY="x" * 40, SESSION_COOKIE_SECURE=None,
                          REMEMBER_COOKIE_SECURE=None)
    assert production.config["SESSION_COOKIE_SECURE"] is True
    assert production.config["REMEMBER_COOKIE_SECURE"] is True
    assert production.config["SESSION_COOKIE_HTTPONLY"] is True
    assert production.config["SESSION_COOKIE_SAMESITE"] == "Lax"


def test_production_refuses_the_default_secret_key(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(make_config(tmp_path, ENV="production", SECRET_KEY=config.DEFAULT_SECRET_KEY))


def test_production_from_the_environment_refuses_a_missing_secret_key(tmp_path, monkeypatch):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'production.db'}")
    monkeypatch.setenv("REDIS_URL", TEST_REDIS_URL)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()
    monkeypatch.setenv("SECRET_KEY", "a-long-random-value-from-the-operator")
    monkeypatch.setenv("PAYMENT_TOKEN", "the-web-process-payment-credential")
    monkeypatch.setenv("LOYALTY_TOKEN", "the-web-process-loyalty-credential")
    assert create_app().config["ENV"] == "production"


@pytest.mark.parametrize(("proxies", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_the_client_address_comes_from_x_forwarded_for_only_behind_trusted_proxies(make_app, proxies,
                                                                                   expected):
    behind = make_app(TRUSTED_PROXIES=proxies)
    behind.add_url_rule("/test-address", view_func=lambda: request.remote_addr or "")
    response = behind.test_client().get("/test-address", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.get_data(as_text=True) == expected
