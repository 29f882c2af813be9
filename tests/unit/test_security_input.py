"""I7 on the holds and bookings endpoints: bad input is a 4xx problem, never a 500, and changes nothing.

The same standard test_problems.py holds the accounts and flights endpoints to: control characters,
huge integers, nested garbage, wrong types, unknown fields, ids that are not UUIDs.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db, get_redis
from app.models import Hold, IdempotencyKey, Saga
from tests.conftest import APPROVED, DECLINED, card
from tests.unit.web_browser import Browser

BOOKINGS = "/api/v1/bookings"


@pytest.fixture
def admin(make_user, auth_headers):
    return auth_headers(make_user("root@example.com", is_admin=True))


def booking(flight_id: int, changes: dict | None = None) -> dict:
    return {"flight_id": flight_id, "seats": ["12A"], "payment": card(), **(changes or {})}


def assert_refused(response, status: int = 422) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["type"].startswith("/problems/") and problem["status"] == status
    return problem


def assert_nothing_changed() -> None:
    assert db.session.query(Saga).count() == 0
    assert db.session.query(Hold).count() == 0
    assert db.session.query(IdempotencyKey).count() == 0
    assert get_redis().keys("hold:*") == []


NUL, NEWLINE, SURROGATE, BELL = "\x00", "\n", "\ud800", "\x07"


@pytest.mark.parametrize(("changes", "field"), [
    # Control characters and lone surrogates, which PostgreSQL cannot store or compare.
    ({"passengers": [{"name": f"Ada{NUL}"}]}, "passengers.0.name"),
    ({"passengers": [{"name": f"Ada{SURROGATE}"}]}, "passengers.0.name"),
    ({"passengers": [{"name": f"Ada{BELL}Lovelace"}]}, "passengers.0.name"),
    ({"seats": [f"12A{NEWLINE}"]}, "seats.0"),
    ({"seats": [f"12A{NUL}"]}, "seats.0"),
    ({"payment": {**card(), "card_number": f"{APPROVED}{NEWLINE}"}}, "payment.card_number"),
    ({"payment": {**card(), "cvc": f"123{NEWLINE}"}}, "payment.cvc"),
    # Integers too large for any column.
    ({"flight_id": 10**30}, "flight_id"),
    ({"flight_id": 2**31}, "flight_id"),
    ({"flight_id": -1}, "flight_id"),
    ({"payment": {**card(), "exp_month": 10**30}}, "payment.exp_month"),
    ({"payment": {**card(), "exp_year": -(10**30)}}, "payment.exp_year"),
    # Nested garbage and wrong types.
    ({"seats": [["12A"]]}, "seats.0"),
    ({"seats": {"12A": {"12B": {}}}}, "seats"),
    ({"seats": "12A"}, "seats"),
    ({"payment": [[[[card()]]]]}, "payment"),
    ({"payment": APPROVED}, "payment"),
    ({"passengers": [{"name": {"first": "Ada"}}]}, "passengers.0.name"),
    ({"passengers": None}, "passengers"),
    ({"flight_id": "1; DROP TABLE sagas"}, "flight_id"),
    ({"flight_id": True}, "flight_id"),
    ({"flight_id": 1.5e308}, "flight_id"),
    ({"hold_id": "not-a-uuid", "flight_id": None, "seats": None}, "hold_id"),
    # Strings past their bounds, lists past theirs.
    ({"passengers": [{"name": "A" * 101}]}, "passengers.0.name"),
    ({"seats": [f"{row}A" for row in range(6, 16)]}, "seats"),
    ({"payment": {**card(), "card_number": "4" * 1000}}, "payment.card_number"),
    # Unknown fields, at the top and nested.
    ({"price": "0.01"}, "price"),
    ({"payment": {**card(), "pin": "1234"}}, "payment.pin"),
    ({"passengers": [{"name": "Ada", "is_admin": True}]}, "passengers.0.is_admin"),
])
def test_bad_booking_bodies_are_422_naming_the_field(client, ada, flight, sent, changes, field):
    problem = assert_refused(client.post(BOOKINGS, json=booking(flight.id, changes), headers=ada))
    assert problem["type"] == "/problems/validation-error"
    assert any(name == field or name.startswith(field + ".") for name in problem["errors"]), problem
    assert_nothing_changed()
    assert sent == []


@pytest.mark.parametrize("body", [[], "text", 42, None, [[[[[]]]]]])
def test_a_booking_body_that_is_not_an_object_is_422(client, ada, body):
    assert_refused(client.post(BOOKINGS, json=body, headers=ada))
    assert_nothing_changed()


def test_an_anonymous_bad_body_is_401_not_a_validation_answer(client):
    """Nothing about the schema is told to someone who has not logged in."""
    problem = assert_refused(client.post(BOOKINGS, json={"price": 1}), 401)
    assert "errors" not in problem


@pytest.mark.parametrize("key", ["", "x" * 256, f"order{NUL}1", f"order{BELL}1", "tab\there"])
def test_an_unusable_idempotency_key_is_400(client, ada, flight, key):
    response = client.post(BOOKINGS, json=booking(flight.id), headers={**ada, "Idempotency-Key": key})
    assert assert_refused(response, 400)["type"] == "/problems/bad-idempotency-key"
    assert_nothing_changed()


def test_a_card_number_is_never_echoed_back(client, ada, flight, participants):
    for payment in ({**card(), "card_number": "4242424242424241"},  # fails the Luhn check
                    {**card(), "exp_year": 2001},  # expired
                    {**card(), "card_number": APPROVED + "0" * 8}):  # too long
        response = client.post(BOOKINGS, json=booking(flight.id, {"payment": payment}), headers=ada)
        assert response.status_code == 422
        text = response.get_data(as_text=True)
        assert payment["card_number"] not in text and APPROVED not in text and "123" not in text
    assert_nothing_changed()


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/api/v1/holds/{bad}"),
    ("DELETE", "/api/v1/holds/{bad}"),
    ("GET", "/api/v1/bookings/{bad}"),
    ("POST", "/api/v1/bookings/{bad}/cancel"),
    ("POST", "/api/v1/admin/sagas/{bad}/retry"),
])
@pytest.mark.parametrize("bad", ["1", "not-a-uuid", "%00", "x" * 2000, "00000000-0000-0000-0000-00000000000g",
                                 "00000000-0000-0000-0000-000000000000"])
def test_ids_in_paths_that_name_nothing_are_404(client, admin, method, path, bad):
    response = client.open(path.format(bad=bad), method=method, headers=admin)
    assert assert_refused(response, 404)["type"] == "/problems/not-found"


@pytest.mark.parametrize("flight_id", ["0", "99999", str(2**31), str(2**40), str(2**63), str(10**30), "-1",
                                       "1.5", "%00"])
def test_holds_on_flights_that_do_not_exist_are_404(client, ada, flight, flight_id):
    response = client.post(f"/api/v1/flights/{flight_id}/holds", json={"seats": ["12A"]}, headers=ada)
    assert_refused(response, 404)
    assert_nothing_changed()


@pytest.mark.parametrize("seats", [
    [f"12A{NUL}"], [f"1{SURROGATE}"], [f"12{NEWLINE}"], [[["12A"]]], [{"seat": "12A"}],
    [None], [True], [12.5],
])
def test_bad_seats_in_a_hold_are_422(client, ada, flight, seats):
    response = client.post(f"/api/v1/flights/{flight.id}/holds", json={"seats": seats}, headers=ada)
    problem = assert_refused(response)
    assert any(name.startswith("seats") for name in problem["errors"])
    assert_nothing_changed()


@pytest.mark.parametrize("query", ["page=0", "page=99999999999999999999", "page_size=101", "page_size=-1",
                                   "page=abc", "page=1e400", "page=NaN", "page_size=%00"])
def test_bad_list_queries_are_422(client, ada, admin, query):
    assert_refused(client.get(f"{BOOKINGS}?{query}", headers=ada))
    assert_refused(client.get(f"/api/v1/admin/sagas?{query}", headers=admin))


def test_an_unknown_saga_status_filter_is_422(client, admin):
    for status in ("unknown", f"confirmed{NUL}", "confirmed'--"):
        assert_refused(client.get(f"/api/v1/admin/sagas?status={status}", headers=admin))


@pytest.mark.parametrize("path", [
    "/bookings?page=99999999999999999999", "/bookings?page=-5", "/bookings?page=x", "/bookings/%00",
    "/bookings/not-a-uuid", "/flights/2147483648/seats", f"/flights/{10**30}/seats", "/?origin=%00",
    "/?date=99999-01-01", "/admin/sagas?status=%00", "/checkout/not-a-uuid", "/login?next=%00",
])
def test_pages_answer_odd_paths_and_queries_without_a_500(app, make_user, path):
    browser = Browser(app)
    browser.log_in(make_user(is_admin=True))
    assert browser.get(path).status_code in (200, 302, 404, 422), path


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5),
    max_leaves=10,
)
almost = st.fixed_dictionaries({}, optional={
    "flight_id": st.none() | st.integers() | st.text(max_size=5),
    "seats": json_values | st.lists(st.sampled_from(["1A", "12B", "27F", "28A", "", "1a"]), max_size=12),
    "hold_id": st.none() | st.uuids().map(str) | st.text(max_size=40),
    "passengers": json_values | st.lists(st.fixed_dictionaries({"name": st.text(max_size=120)}), max_size=10),
    "payment": json_values | st.fixed_dictionaries({}, optional={
        "card_number": st.sampled_from([APPROVED, DECLINED, "1234"]) | st.text(max_size=30),
        "exp_month": st.integers(), "exp_year": st.integers(), "cvc": st.text(max_size=5)}),
})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=json_values | almost, seats=json_values)
def test_no_booking_or_hold_body_makes_a_5xx(app, client, participants, sent, ada, flight, body, seats):
    for url, payload in ((BOOKINGS, body), (f"/api/v1/flights/{flight.id}/holds", {"seats": seats})):
        response = client.post(url, json=payload, headers=ada)
        assert response.status_code < 500, response.get_data(as_text=True)
        if response.status_code >= 400:
            assert response.mimetype == "application/problem+json"
