"""A write whose body ended before its Content-Length (the caller died mid-request) does nothing.

gunicorn hands such a request over with the body it got (here: none) and `wsgi.input_terminated`,
so without a check an empty capture body reads as "capture all", is done and recorded under the
key, and the caller's retry with the whole body is refused as a different request for ever.
"""

from __future__ import annotations

import io
import uuid

import pytest

from tests.unit.test_payment_service import assert_problem, authorized, post


def cut_short(client, path: str, *, key: str, sent: bytes = b"", length: int = 20):
    """POST `path` as a server sees it when the caller died after its headers and `sent`."""
    return client.post(path, headers={"Idempotency-Key": key, "Content-Type": "application/json"},
                       environ_overrides={"wsgi.input": io.BytesIO(sent), "CONTENT_LENGTH": str(length),
                                          "wsgi.input_terminated": True})


@pytest.fixture
def api(payment_app):
    return payment_app.test_client()


@pytest.mark.parametrize("sent", [b"", b'{"amount": "5'], ids=["headers only", "half the body"])
def test_a_capture_cut_short_is_refused_and_the_whole_retry_does_it(api, sent):
    payment_id = authorized(api, amount="120.00")
    key = f"capture-{uuid.uuid4()}"

    assert_problem(cut_short(api, f"/payments/{payment_id}/capture", key=key, sent=sent), 400,
                   "incomplete_body")
    assert api.get(f"/payments/{payment_id}").get_json()["status"] == "authorized"

    retried = post(api, f"/payments/{payment_id}/capture", {"amount": "50.00"}, key=key)
    assert retried.status_code == 200, retried.get_json()
    assert retried.get_json()["captured_amount"] == "50.00"


def test_a_loyalty_write_cut_short_is_refused_and_claims_no_key(loyalty_app):
    api = loyalty_app.test_client()
    key = f"award-{uuid.uuid4()}"

    assert_problem(cut_short(api, "/awards", key=key), 400, "incomplete_body")

    created = api.post("/awards", json={"account_id": "7", "miles": 300, "reference": "r-1"},
                       headers={"Idempotency-Key": key})
    assert created.status_code == 201, created.get_json()


def test_a_body_as_long_as_its_content_length_is_read_as_always(api):
    payment_id = authorized(api, amount="120.00")
    whole = b'{"amount": "20.00"}'
    answer = cut_short(api, f"/payments/{payment_id}/capture", key=f"c-{uuid.uuid4()}", sent=whole,
                       length=len(whole))
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["captured_amount"] == "20.00"
