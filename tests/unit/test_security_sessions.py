"""The browser session: logging out ends it on the server, and it expires after SESSION_TTL_SECONDS."""

from __future__ import annotations

import time
from datetime import timedelta

from app import create_app
from tests.conftest import make_config
from tests.unit.web_browser import Browser

ME = "/api/v1/me"


def session_cookie(browser: Browser) -> str:
    cookie = browser.client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def replay(app, cookie: str):
    """The same cookie, sent from another client (a copy taken before logout)."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    with app.app_context():
        return other.get(ME)


def test_a_copied_cookie_works_until_logout(app, make_user):
    browser = Browser(app)
    browser.log_in(make_user())
    stolen = session_cookie(browser)
    assert replay(app, stolen).status_code == 200
    assert browser.post_form("/logout", {}).status_code == 302
    assert replay(app, stolen).status_code == 401


def test_logging_out_through_the_api_ends_the_session_too(app, make_user):
    browser = Browser(app)
    browser.log_in(make_user())
    stolen = session_cookie(browser)
    assert browser.api("POST", "/api/v1/auth/logout").status_code == 204
    assert replay(app, stolen).status_code == 401


def test_logging_in_again_after_logout_works(app, make_user):
    user = make_user()
    browser = Browser(app)
    browser.log_in(user)
    browser.post_form("/logout", {})
    browser.log_in(user)
    assert browser.get(ME).status_code == 200


def test_the_session_lifetime_is_a_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("SESSION_TTL_SECONDS", "3600")
    app = create_app(make_config(tmp_path))
    assert app.permanent_session_lifetime == timedelta(hours=1)


def test_a_session_older_than_its_lifetime_is_refused(app, make_user, monkeypatch):
    assert app.permanent_session_lifetime <= timedelta(days=1)
    browser = Browser(app)
    user = make_user()
    # Sign the cookie as if at a time just over the lifetime ago.
    import itsdangerous.timed

    past = time.time() - app.permanent_session_lifetime.total_seconds() - 5
    monkeypatch.setattr(itsdangerous.timed.time, "time", lambda: past)
    browser.log_in(user)
    old = session_cookie(browser)
    monkeypatch.undo()
    assert replay(app, old).status_code == 401


def test_a_session_cookie_is_marked_to_expire(app, make_user):
    browser = Browser(app)
    response = browser.log_in(make_user())
    assert "Expires=" in response.headers["Set-Cookie"]
