"""`next` after log-in and sign-up: only a path of this site, checked as the very string sent."""

from __future__ import annotations

import pytest

from app.web.session import safe_next
from tests.unit.web_browser import Browser

# Each is refused; Werkzeug would send some of them on as `//evil.example/...` (a tab, a CR, a LF
# or a space dropped or refused on the way out).
HOSTILE = [
    "/\t///evil.example/phish",
    "/\t/evil.example/phish",
    "/ //evil.example/",
    "/\r\n/evil.example/",
    "/\n//evil.example/",
    "/\x00//evil.example/",
    "/\x7f//evil.example/",
    "//evil.example/",
    "/\\evil.example",
    "/%09/evil.example",  # harmless as a path, but not worth allowing: no encoded controls
    "https://evil.example/",
    "javascript:alert(1)",
    "/bookings\u2028",
    "",
]


@pytest.fixture
def browser(app):
    return Browser(app)


@pytest.mark.parametrize("target", HOSTILE)
def test_safe_next_refuses_anything_but_a_plain_path(app, target):
    with app.test_request_context():
        assert safe_next(target, "/") == "/"


@pytest.mark.parametrize("target", ["/bookings", "/bookings?page=2", "/flights/3/seats", "/a-b_c.d~e?x=%20"])
def test_safe_next_keeps_a_path_of_this_site(app, target):
    with app.test_request_context():
        assert safe_next(target, "/") == target


@pytest.mark.parametrize("target", HOSTILE)
def test_logged_in_get_login_never_redirects_off_site(browser, make_user, target):
    browser.log_in(make_user())
    response = browser.get("/login", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", HOSTILE)
def test_post_login_never_redirects_off_site(browser, make_user, target):
    user = make_user()
    browser.get("/login")
    response = browser.post_form("/login", {"email": user.email, "password": "correct horse", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", HOSTILE)
def test_post_signup_never_redirects_off_site(browser, target):
    browser.get("/signup")
    response = browser.post_form("/signup", {"name": "Ada", "email": f"ada{abs(hash(target))}@example.com",
                                             "password": "analytical engine", "next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_the_location_sent_is_the_path_checked(browser, make_user):
    browser.log_in(make_user())
    response = browser.get("/login", query_string={"next": "/bookings?page=2"})
    assert response.headers["Location"] == "/bookings?page=2"
