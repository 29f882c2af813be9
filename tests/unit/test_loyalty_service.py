"""The loyalty service's HTTP contract (docs/participants.md), spoken to with Flask's test client."""

import uuid

import pytest

from app.participants.loyalty.models import Award, db


@pytest.fixture
def api(loyalty_app):
    return loyalty_app.test_client()


def post(api, path, body=None, *, key=None):
    return api.post(path, json=body, headers={"Idempotency-Key": key or f"test-{uuid.uuid4()}"})


def award(api, miles=300, account_id="42", *, key=None) -> dict:
    response = post(api, "/awards", {"account_id": account_id, "miles": miles, "reference": "booking-1"},
                    key=key)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def balance(api, account_id="42") -> tuple[int, int]:
    body = api.get(f"/accounts/{account_id}/balance").get_json()
    assert body["account_id"] == account_id
    return body["balance"], body["pending"]


def assert_problem(response, status, code):
    assert response.status_code == status
    assert response.content_type == "application/problem+json"
    body = response.get_json()
    assert (body["status"], body["code"]) == (status, code)
    assert body["type"] and body["title"] and body["detail"]
    return body


def test_an_award_starts_pending_and_outside_the_balance(api):
    created = award(api, 300)
    assert (created["status"], created["miles"], created["account_id"]) == ("pending", 300, "42")
    assert balance(api) == (0, 300)


def test_posted_miles_join_the_balance(api):
    created = award(api, 300)
    posted = post(api, f"/awards/{created['id']}/post").get_json()
    assert posted["status"] == "posted" and posted["posted_at"]
    assert balance(api) == (300, 0)


def test_reversing_a_pending_award_drops_it_from_pending(api):
    kept, dropped = award(api, 100), award(api, 300)
    post(api, f"/awards/{kept['id']}/post")
    reversed_ = post(api, f"/awards/{dropped['id']}/reverse").get_json()
    assert reversed_["status"] == "reversed"
    assert balance(api) == (100, 0)


def test_reversing_a_posted_award_takes_the_miles_back(api):
    kept, taken_back = award(api, 100), award(api, 300)
    for each in (kept, taken_back):
        post(api, f"/awards/{each['id']}/post")
    assert balance(api) == (400, 0)
    post(api, f"/awards/{taken_back['id']}/reverse")
    assert balance(api) == (100, 0)


def test_posting_twice_and_reversing_twice_change_nothing_the_second_time(api):
    created = award(api)
    first_post = post(api, f"/awards/{created['id']}/post")
    second_post = post(api, f"/awards/{created['id']}/post")
    assert (second_post.status_code, second_post.get_json()) == (200, first_post.get_json())
    first_reverse = post(api, f"/awards/{created['id']}/reverse")
    second_reverse = post(api, f"/awards/{created['id']}/reverse")
    assert (second_reverse.status_code, second_reverse.get_json()) == (200, first_reverse.get_json())
    assert first_reverse.get_json()["status"] == "reversed"
    assert balance(api) == (0, 0)


def test_a_reversed_award_cannot_be_posted(api):
    created = award(api)
    post(api, f"/awards/{created['id']}/reverse")
    body = assert_problem(post(api, f"/awards/{created['id']}/post"), 409, "invalid_state")
    assert body["award_status"] == "reversed"


def test_accounts_are_kept_apart(api):
    post(api, f"/awards/{award(api, 100, '42')['id']}/post")
    award(api, 70, "43")
    assert balance(api, "42") == (100, 0)
    assert balance(api, "43") == (0, 70)


def test_an_account_without_awards_has_nothing(api):
    assert balance(api, "nobody") == (0, 0)


def test_same_key_and_body_replays_the_first_award(api, loyalty_app):
    first = award(api, 300, key="booking-1-award")
    assert award(api, 300, key="booking-1-award") == first
    assert balance(api) == (0, 300)
    with loyalty_app.app_context():
        assert db.session.query(Award).count() == 1


def test_same_key_with_another_body_is_refused(api):
    award(api, 300, key="booking-2-award")
    response = post(api, "/awards", {"account_id": "42", "miles": 301, "reference": "booking-1"},
                    key="booking-2-award")
    assert_problem(response, 422, "idempotency_key_reused")
    assert balance(api) == (0, 300)


def test_a_post_replayed_under_its_key_answers_the_same(api):
    created = award(api)
    first = post(api, f"/awards/{created['id']}/post", key="post-1")
    again = post(api, f"/awards/{created['id']}/post", key="post-1")
    assert (again.status_code, again.data) == (first.status_code, first.data)
    assert again.headers["Idempotent-Replayed"] == "true"


def test_every_write_needs_a_key(api):
    response = api.post("/awards", json={"account_id": "42", "miles": 1, "reference": "r"})
    assert_problem(response, 400, "idempotency_key_missing")


def test_lookup_by_key_shows_the_award_as_it_is_now(api):
    created = award(api, key="booking-3-award")
    post(api, f"/awards/{created['id']}/post")
    body = api.get("/operations/booking-3-award").get_json()
    assert (body["award"]["id"], body["award"]["status"]) == (created["id"], "posted")
    assert_problem(api.get("/operations/never-used"), 404, "operation_not_found")


def test_unknown_awards_are_404(api):
    assert_problem(post(api, "/awards/nope/post"), 404, "award_not_found")
    assert_problem(api.get("/awards/nope"), 404, "award_not_found")


@pytest.mark.parametrize(("body", "field"), [
    ({"account_id": "42", "miles": 0, "reference": "r"}, "miles"),
    ({"account_id": "42", "miles": -5, "reference": "r"}, "miles"),
    ({"account_id": "42", "miles": "300", "reference": "r"}, "miles"),
    ({"account_id": "a/b", "miles": 300, "reference": "r"}, "account_id"),
    ({"account_id": "42", "miles": 300}, "reference"),
])
def test_invalid_awards_are_refused(api, body, field):
    assert field in assert_problem(post(api, "/awards", body), 422, "validation_error")["errors"]


def test_health(api):
    assert api.get("/healthz").get_json() == {"status": "ok", "database": "ok"}


# Cancel by key

def test_cancelling_a_key_never_used_closes_it_to_a_later_award(api, loyalty_app):
    closed = post(api, "/operations/booking-4:award/cancel", key="booking-4:reverse")
    assert (closed.status_code, closed.get_json()) == (200, {"idempotency_key": "booking-4:award",
                                                             "award": None})
    late = post(api, "/awards", {"account_id": "42", "miles": 300, "reference": "booking-4"},
                key="booking-4:award")
    assert_problem(late, 409, "operation_cancelled")
    assert balance(api) == (0, 0)
    with loyalty_app.app_context():
        assert db.session.query(Award).count() == 0
    assert api.get("/operations/booking-4:award").get_json()["cancelled"] is True


@pytest.mark.parametrize("posted", [False, True])
def test_cancelling_an_award_reverses_it_pending_or_posted(api, posted):
    created = award(api, 300, key="booking-5:award")
    if posted:
        post(api, f"/awards/{created['id']}/post")
    cancelled = post(api, "/operations/booking-5:award/cancel").get_json()["award"]
    assert (cancelled["id"], cancelled["status"]) == (created["id"], "reversed")
    assert post(api, "/operations/booking-5:award/cancel").get_json()["award"]["status"] == "reversed"
    assert balance(api) == (0, 0)


def test_only_an_award_is_cancelled_by_its_key(api):
    created = award(api)
    post(api, f"/awards/{created['id']}/post", key="a-post")
    assert_problem(post(api, "/operations/a-post/cancel"), 409, "invalid_state")
