"""Sign up, log in and log out through the UI's forms; the session cookie they set."""

from __future__ import annotations

import pytest

from app.auth import verify_password
from app.extensions import db
from app.models import User
from tests.unit.web_browser import Browser


@pytest.fixture
def browser(app):
    return Browser(app)


def signed_in_as(browser) -> str | None:
    me = browser.get("/api/v1/me")
    return me.get_json()["email"] if me.status_code == 200 else None


def test_sign_up_creates_the_account_and_logs_in(app, browser):
    browser.get("/signup")
    response = browser.post_form("/signup", {"name": "Ada Lovelace", "email": "Ada@Example.com",
                                             "password": "analytical", "next": "/bookings"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/bookings"
    user = db.session.execute(db.select(User).filter_by(email="ada@example.com")).scalar_one()
    assert user.name == "Ada Lovelace" and verify_password(user, "analytical")
    assert signed_in_as(browser) == "ada@example.com"


def test_sign_up_shows_each_error_next_to_its_field(browser):
    browser.get("/signup")
    response = browser.post_form("/signup", {"name": "", "email": "not-an-email", "password": "short"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="field-email" name="email" type="email" value="not-an-email"' in page
    assert 'id="field-email-error">Not a valid email address.' in page
    assert 'id="field-password-error">Length must be between 8 and 256.' in page
    assert 'id="field-name-error">Required.' in page and 'aria-invalid="true"' in page
    assert "short" not in page.split('id="field-password"')[1].split(">")[0]  # the password is not echoed
    assert signed_in_as(browser) is None


def test_sign_up_with_a_taken_email_says_so(browser, make_user):
    make_user("ada@example.com")
    browser.get("/signup")
    response = browser.post_form("/signup", {"name": "Ada", "email": "ada@example.com",
                                             "password": "analytical"})
    assert response.status_code == 422
    assert "An account with this email exists already" in response.get_data(as_text=True)


def test_log_in_and_out(browser, make_user):
    user = make_user("grace@example.com")
    browser.get("/login")
    response = browser.post_form("/login", {"email": "GRACE@example.com", "password": "correct horse"})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert signed_in_as(browser) == user.email
    assert "Log out" in browser.get("/").get_data(as_text=True)

    response = browser.post_form("/logout", {})
    assert response.status_code == 302
    assert signed_in_as(browser) is None
    assert "Log in" in browser.get("/").get_data(as_text=True)


@pytest.mark.parametrize("email, password", [("grace@example.com", "wrong password"),
                                             ("nobody@example.com", "correct horse"), ("", "")])
def test_wrong_credentials_are_refused_without_saying_which(browser, make_user, email, password):
    make_user("grace@example.com")
    browser.get("/login")
    response = browser.post_form("/login", {"email": email, "password": password})
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert signed_in_as(browser) is None


@pytest.mark.parametrize("target, expected", [
    ("/bookings?page=2", "/bookings?page=2"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
    ("javascript:alert(1)", "/"),
])
def test_login_returns_only_to_pages_of_this_site(browser, make_user, target, expected):
    user = make_user()
    browser.get("/login")
    response = browser.post_form("/login", {"email": user.email, "password": "correct horse", "next": target})
    assert response.headers["Location"] == expected


def test_a_page_for_travellers_sends_others_to_log_in_and_back(browser, make_user):
    response = browser.get("/bookings?page=1")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/bookings?page%3D1"
    user = make_user()
    login = browser.post_form("/login", {"email": user.email, "password": "correct horse",
                                         "next": "/bookings?page=1"})
    assert login.headers["Location"] == "/bookings?page=1"


def test_the_session_cookie_is_httponly_and_samesite_lax(browser, make_user):
    user = make_user()
    browser.get("/login")
    response = browser.post_form("/login", {"email": user.email, "password": "correct horse"})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_logging_in_gives_the_session_a_new_csrf_token(browser, make_user):
    user = make_user()
    browser.get("/login")
    before = browser.csrf
    browser.log_in(user)
    # The token of the anonymous page no longer passes: the session was renewed at login.
    stale = browser.open("POST", "/api/v1/auth/logout", headers={"X-CSRFToken": before})
    assert stale.status_code == 400
    assert browser.csrf != before
