"""Schemathesis over the payment and loyalty services' own /openapi.json: no 5xx, answers as documented.

Every case carries the booking credential (all scopes), so every body is parsed; the credential
tests themselves are tests/unit/test_participant_trust.py. Half the cases name a real payment, award
or idempotency key in their path. PARTICIPANT_FUZZ_EXAMPLES bounds the cases per operation.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
import schemathesis

from tests.fuzz.cases import fuzz_operation
from tests.participant_endpoints import CARD
from tests.participants import bearer, build_loyalty_app, build_payment_app, dispose_service, secret_of

EXAMPLES = int(os.environ.get("PARTICIPANT_FUZZ_EXAMPLES", 15))
BUILDERS = {"payment": build_payment_app, "loyalty": build_loyalty_app}
METHODS = {"get", "post"}


def operation_labels() -> list[str]:
    """"service METHOD /path" of every operation both services document."""
    labels = []
    with tempfile.TemporaryDirectory() as tmp:
        for service, build in BUILDERS.items():
            service_app = build(Path(tmp))
            document = service_app.test_client().get("/openapi.json").get_json()
            labels += [f"{service} {method.upper()} {path}" for path, item in document["paths"].items()
                       for method in item if method in METHODS]
            dispose_service(service_app)
    return labels


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "participant_operation" in metafunc.fixturenames:
        metafunc.parametrize("participant_operation", operation_labels())


def real_ids(payment_app, loyalty_app) -> dict[str, str]:
    pay, miles = payment_app.test_client(), loyalty_app.test_client()
    token = pay.post("/tokens", json=CARD, headers={"Idempotency-Key": "fuzz-t"}).get_json()["token"]
    payment = pay.post("/payments", json={"token": token, "amount": "10.00", "currency": "USD"},
                       headers={"Idempotency-Key": "fuzz-authorize"}).get_json()
    award = miles.post("/awards", json={"account_id": "42", "miles": 300, "reference": "b"},
                       headers={"Idempotency-Key": "fuzz-award"}).get_json()
    return {"payment_id": payment["id"], "award_id": award["id"], "account_id": "42",
            "key": "fuzz-authorize"}


def test_participant_operation_survives_generated_input(payment_app, loyalty_app, participant_operation):
    service, method, path = participant_operation.split(" ", 2)
    service_app = {"payment": payment_app, "loyalty": loyalty_app}[service]
    known = real_ids(payment_app, loyalty_app)
    if service == "loyalty":
        known["key"] = "fuzz-award"
    target = schemathesis.openapi.from_wsgi("/openapi.json", service_app)[path][method]
    fuzz_operation(target, path, bearer(secret_of(service, "booking")), known, EXAMPLES)
