"""Two conflicting changes of one payment (or award) at once: one wins, the other is 409 invalid_state.

The late request reads the row, then the other request runs to its end, then the late one writes.
A plain read locks nothing on SQLite (FOR UPDATE is ignored there), so only a conditional UPDATE
can see that the row moved on in between.
"""

from __future__ import annotations

import threading
import uuid
from types import ModuleType

import pytest
from flask import Flask

from app.participants.loyalty import operations as loyalty_operations
from app.participants.payment import operations as payment_operations
from tests.conftest import APPROVED
from tests.unit.test_payment_service import authorized

LATE = "late-request"


def post(service_app: Flask, path: str, body: dict | None = None):
    return service_app.test_client().post(path, json=body, headers={"Idempotency-Key": f"k-{uuid.uuid4()}"})


def interleave(monkeypatch, service_app: Flask, operations: ModuleType, late_path: str, early_path: str,
               *, late_body: dict | None = None, early_body: dict | None = None):
    """(early answer, late answer): ``late_path`` has read the row when ``early_path`` runs."""
    has_read, early_done = threading.Event(), threading.Event()
    real_find = operations.find

    def find_then_wait(*args, **kwargs):
        found = real_find(*args, **kwargs)
        if threading.current_thread().name == LATE:
            has_read.set()
            early_done.wait(timeout=5)
        return found

    monkeypatch.setattr(operations, "find", find_then_wait)
    answers = []
    late = threading.Thread(name=LATE, target=lambda: answers.append(post(service_app, late_path, late_body)))
    late.start()
    assert has_read.wait(timeout=5)
    early = post(service_app, early_path, early_body)
    early_done.set()
    late.join(timeout=10)
    return early, answers[0]


@pytest.mark.parametrize(("late_verb", "early_verb", "final"), [
    ("capture", "void", "voided"),
    ("void", "capture", "captured"),
])
def test_capture_and_void_of_one_payment_never_both_succeed(monkeypatch, payment_app, late_verb,
                                                            early_verb, final):
    payment_id = authorized(payment_app.test_client())
    early, late = interleave(monkeypatch, payment_app, payment_operations,
                             f"/payments/{payment_id}/{late_verb}", f"/payments/{payment_id}/{early_verb}")

    assert early.status_code == 200
    assert late.status_code == 409, late.get_json()
    assert late.get_json()["code"] == "invalid_state"
    now = payment_app.test_client().get(f"/payments/{payment_id}").get_json()
    assert now["status"] == final
    assert now["captured_amount"] == ("0.00" if final == "voided" else "120.00")


def test_two_voids_at_once_both_answer_the_voided_payment(monkeypatch, payment_app):
    payment_id = authorized(payment_app.test_client())
    early, late = interleave(monkeypatch, payment_app, payment_operations,
                             f"/payments/{payment_id}/void", f"/payments/{payment_id}/void")
    assert (early.status_code, late.status_code) == (200, 200)
    assert late.get_json()["status"] == "voided"


def test_posting_an_award_reversed_meanwhile_is_refused(monkeypatch, loyalty_app):
    api = loyalty_app.test_client()
    award = api.post("/awards", json={"account_id": "42", "miles": 300, "reference": "b-1"},
                     headers={"Idempotency-Key": "award-1"}).get_json()
    early, late = interleave(monkeypatch, loyalty_app, loyalty_operations,
                             f"/awards/{award['id']}/post", f"/awards/{award['id']}/reverse")

    assert early.status_code == 200
    assert late.status_code == 409, late.get_json()
    assert late.get_json()["code"] == "invalid_state"
    assert api.get(f"/awards/{award['id']}").get_json()["status"] == "reversed"
    assert api.get("/accounts/42/balance").get_json() == {"account_id": "42", "balance": 0, "pending": 0}


@pytest.mark.parametrize(("late_amount", "early_amount", "late_status", "refunded"), [
    ("40.00", "50.00", 200, "90.00"),   # both fit: neither is lost
    ("80.00", "50.00", 422, "50.00"),   # the late one no longer fits once it looks again
    (None, None, 409, "120.00"),        # two "all that is left": the late one finds nothing left
])
def test_two_refunds_at_once_are_decided_one_after_the_other(monkeypatch, payment_app, late_amount,
                                                             early_amount, late_status, refunded):
    api = payment_app.test_client()
    payment_id = authorized(api)
    api.post(f"/payments/{payment_id}/capture", headers={"Idempotency-Key": "capture-1"})
    path = f"/payments/{payment_id}/refund"
    early, late = interleave(monkeypatch, payment_app, payment_operations, path, path,
                             late_body={"amount": late_amount} if late_amount else None,
                             early_body={"amount": early_amount} if early_amount else None)
    assert early.status_code == 200
    assert late.status_code == late_status, late.get_json()
    assert api.get(f"/payments/{payment_id}").get_json()["refunded_amount"] == refunded


def test_a_cancel_by_key_racing_a_capture_refunds_it(monkeypatch, payment_app):
    api = payment_app.test_client()
    token = api.post("/tokens", json={"card_number": APPROVED, "exp_month": 12,
                                      "exp_year": 2099, "cvc": "123"},
                     headers={"Idempotency-Key": "t-1"}).get_json()["token"]
    payment_id = api.post("/payments", json={"token": token, "amount": "80.00", "currency": "USD"},
                          headers={"Idempotency-Key": "b-1:authorize"}).get_json()["id"]
    early, late = interleave(monkeypatch, payment_app, payment_operations,
                             "/operations/b-1:authorize/cancel", f"/payments/{payment_id}/capture")
    assert early.get_json()["status"] == "captured"
    assert late.status_code == 200, late.get_json()
    assert (late.get_json()["payment"]["status"], late.get_json()["payment"]["refunded_amount"]) == (
        "refunded", "80.00")
