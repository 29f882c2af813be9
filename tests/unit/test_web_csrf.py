"""CSRF: the UI's forms and session-authenticated API calls need the token; bearer calls do not."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.models import Hold, User
from tests.unit.web_browser import Browser


@pytest.fixture
def browser(app):
    return Browser(app)


def test_a_form_without_the_token_is_refused(browser, make_user):
    user = make_user()
    response = browser.post_form("/login", {"email": user.email, "password": "correct horse"}, csrf=False)
    assert response.status_code == 400
    assert response.mimetype == "text/html"
    assert "was not sent" in response.get_data(as_text=True)


def test_a_form_with_a_forged_token_is_refused(browser):
    browser.get("/signup")
    response = browser.open("POST", "/signup", data={"name": "Mallory", "email": "m@example.com",
                                                     "password": "password1", "csrf_token": "forged"})
    assert response.status_code == 400
    assert db.session.execute(db.select(User).filter_by(email="m@example.com")).first() is None


def test_logout_is_a_form_with_the_token(browser, make_user):
    browser.log_in(make_user())
    assert browser.post_form("/logout", {}, csrf=False).status_code == 400
    assert browser.get("/api/v1/me").status_code == 200  # still logged in


def test_a_session_api_post_without_the_header_is_refused_and_changes_nothing(browser, make_user, flight):
    browser.log_in(make_user())
    response = browser.api("POST", f"/api/v1/flights/{flight.id}/holds", json={"seats": ["12A"]}, csrf=False)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["type"] == "/problems/csrf-failed"
    assert "X-CSRFToken" in body["detail"]
    assert db.session.execute(db.select(Hold)).first() is None


def test_a_session_api_post_with_a_wrong_token_is_refused(browser, make_user, flight):
    browser.log_in(make_user())
    response = browser.api("POST", f"/api/v1/flights/{flight.id}/holds", json={"seats": ["12A"]},
                           csrf=False, headers={"X-CSRFToken": "not-the-token"})
    assert response.status_code == 400
    assert response.get_json()["type"] == "/problems/csrf-failed"


def test_a_session_api_call_with_the_header_goes_through(browser, make_user, flight):
    browser.log_in(make_user())
    taken = browser.api("POST", f"/api/v1/flights/{flight.id}/holds", json={"seats": ["12A"]})
    assert taken.status_code == 201
    hold_id = taken.get_json()["id"]
    assert browser.api("DELETE", f"/api/v1/holds/{hold_id}", csrf=False).status_code == 400
    assert browser.api("DELETE", f"/api/v1/holds/{hold_id}").status_code == 204


def test_session_reads_need_no_token(browser, make_user, flight):
    user = make_user()
    browser.log_in(user)
    assert browser.api("GET", "/api/v1/me", csrf=False).get_json()["id"] == user.id
    assert browser.api("GET", f"/api/v1/flights/{flight.id}/seats", csrf=False).status_code == 200


def test_bearer_calls_need_no_csrf_token(client, make_user, auth_headers, flight):
    headers = auth_headers(make_user())
    taken = client.post(f"/api/v1/flights/{flight.id}/holds", json={"seats": ["12A"]}, headers=headers)
    assert taken.status_code == 201
    assert client.delete(f"/api/v1/holds/{taken.get_json()['id']}", headers=headers).status_code == 204


def test_a_bearer_call_from_a_browser_with_a_session_needs_no_token(browser, make_user, auth_headers, flight):
    user = make_user()
    browser.log_in(user)
    response = browser.api("POST", f"/api/v1/flights/{flight.id}/holds", json={"seats": ["12A"]}, csrf=False,
                           headers=auth_headers(user))
    assert response.status_code == 201


def test_anonymous_api_posts_are_not_asked_for_a_token(client, flight):
    # Without a logged-in session there is nothing for another site to ride on.
    response = client.post("/api/v1/auth/register",
                           json={"email": "ada@example.com", "password": "analytical", "name": "Ada"})
    assert response.status_code == 201
    assert client.post(f"/api/v1/flights/{flight.id}/holds", json={"seats": ["1A"]}).status_code == 401
