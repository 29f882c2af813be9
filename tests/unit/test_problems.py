"""Every error is RFC 9457 problem+json with the right status, never a 500 for client input (I7)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.errors import Refusal
from app.models import User

PROBLEM_MEMBERS = {"type", "title", "status", "detail", "instance"}
REGISTER = "/api/v1/auth/register"


def assert_problem(response, status: int, type_: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert set(body) >= PROBLEM_MEMBERS
    assert body["status"] == status
    assert body["type"] == f"/problems/{type_}"
    assert body["title"] and body["detail"]
    return body


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"email": }', b"{'email': 'a@b.c'}", b"[" * 20_000 + b"]" * 20_000, b"\xff\xfe{}", b"NaN-ish"],
    ids=["truncated", "no-value", "single-quotes", "deeply-nested", "not-utf8", "garbage"],
)
def test_malformed_json_is_400(client, body):
    response = client.post(REGISTER, data=body, content_type="application/json")
    problem = assert_problem(response, 400, "malformed-json")
    assert problem["instance"] == REGISTER
    assert User.query.count() == 0


@pytest.mark.parametrize(
    "content_type",
    ["application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x", None],
)
def test_a_body_that_is_not_json_is_415(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(REGISTER, data=b'{"email": "a@example.com"}', headers=headers)
    assert_problem(response, 415, "unsupported-media-type")


def test_json_with_a_charset_or_a_json_suffix_is_json(client):
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = client.post(REGISTER, data=b"{}", content_type=content_type)
        assert response.status_code == 422


def test_unknown_fields_are_422_and_named(client):
    response = client.post(REGISTER, json={"email": "a@example.com", "password": "long enough",
                                           "name": "A", "role": "admin", "extra": 1})
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"] == {"role": ["Unknown field."], "extra": ["Unknown field."]}


@pytest.mark.parametrize("body", [[], "text", 42, None, True])
def test_a_body_that_is_not_an_object_is_422(client, body):
    assert_problem(client.post(REGISTER, json=body), 422, "validation-error")


def test_an_empty_json_body_names_the_missing_fields(client):
    response = client.post(REGISTER, data=b"", content_type="application/json")
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"]["email"] == ["Missing data for required field."]


def test_a_body_over_max_content_length_is_413(client, app):
    body = b'{"name": "' + b"x" * app.config["MAX_CONTENT_LENGTH"] + b'"}'
    assert_problem(client.post(REGISTER, data=body, content_type="application/json"), 413,
                   "payload-too-large")


@pytest.mark.parametrize("path", ["/api/v1/nowhere", "/api/v1/flights/abc", "/nowhere"])
def test_unknown_routes_are_404(client, path):
    assert_problem(client.get(path), 404, "not-found")


def test_a_wrong_method_is_405_with_allow(client):
    response = client.delete("/api/v1/flights")
    assert_problem(response, 405, "method-not-allowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS", "POST"}


def test_a_wrong_method_with_a_form_body_is_still_405(client):
    response = client.patch("/api/v1/auth/register", data={"a": "b"})
    assert response.status_code == 405


def test_a_problem_carries_its_extension_members_and_headers(app, client):
    def refuse():
        raise Refusal(409, "Taken.", type="seat-unavailable", seats=["12A"], headers={"X-Why": "test"})

    app.add_url_rule("/api/v1/test-refusal", view_func=refuse)
    response = client.get("/api/v1/test-refusal")
    problem = assert_problem(response, 409, "seat-unavailable")
    assert problem["seats"] == ["12A"]
    assert response.headers["X-Why"] == "test"


def test_a_bug_is_a_500_problem_without_details(app, client):
    def broken():
        raise RuntimeError("secret internals")

    app.add_url_rule("/api/v1/test-bug", view_func=broken)
    response = client.get("/api/v1/test-bug")
    problem = assert_problem(response, 500, "internal-error")
    assert "secret" not in response.get_data(as_text=True)
    assert problem["detail"] == "The server failed to answer this request."


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
    max_leaves=12,
)
field_values = st.none() | st.booleans() | st.integers() | st.text() | st.lists(st.text(), max_size=2)


def bodies(fields: list[str]):
    """Any JSON at all, and objects with the right field names holding any values."""
    return json_values | st.fixed_dictionaries({}, optional=dict.fromkeys(fields, field_values))


@pytest.fixture
def admin_headers(make_user, make_flight, auth_headers):
    make_flight()  # flight 1, whose seats the admin endpoint is fed
    return auth_headers(make_user("admin@example.com", is_admin=True))


@pytest.mark.parametrize(
    ("method", "path", "fields"),
    [
        ("post", REGISTER, ["email", "password", "name"]),
        ("post", "/api/v1/auth/token", ["email", "password"]),
        ("post", "/api/v1/flights", ["number", "origin", "destination", "departs_at", "arrives_at",
                                     "fares", "currency"]),
        ("put", "/api/v1/admin/flights/1/seats/1A", ["blocked"]),
    ],
)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_no_body_makes_a_5xx(client, admin_headers, method, path, fields, data):
    body = data.draw(bodies(fields))
    response = getattr(client, method)(path, json=body, headers=admin_headers)
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.status_code >= 400:
        assert response.mimetype == "application/problem+json"


def test_a_database_that_is_locked_or_gone_is_503_with_retry_after(client, traveller, auth_headers, flight,
                                                                   monkeypatch):
    import sqlite3

    import sqlalchemy.exc

    from app import bookings
    from tests.conftest import book

    def locked(*args, **kwargs):
        raise sqlalchemy.exc.OperationalError("INSERT INTO sagas ...", {},
                                              sqlite3.OperationalError("database is locked"))

    monkeypatch.setattr(bookings, "start_booking", locked)
    response = book(client, auth_headers(traveller), flight.id, ["3A"])
    assert_problem(response, 503, "database-unavailable")
    assert response.headers["Retry-After"] == "1"
