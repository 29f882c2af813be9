"""Fuzzing fixtures: the booking app on fakeredis, participants in-process, nothing sent to a broker.

Each operation of the OpenAPI document becomes its own test (`operation`), called with the bearer
token of an administrator, who may call every endpoint, so that every request body gets parsed;
the administrator owns a hold and a booking, so that ids in paths can name something real.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import fakeredis
import pytest
import schemathesis

from app import create_app
from app.auth import issue_token
from app.holds import take_hold
from tests.conftest import build_app, make_config, teardown_app
from tests.security_world import stub_enqueue

OPENAPI = "/api/v1/openapi.json"
METHODS = {"get", "put", "post", "delete", "patch"}


def operation_labels() -> list[str]:
    """"METHOD /path" of every operation the app documents (read from a throwaway app)."""
    with tempfile.TemporaryDirectory() as tmp:
        document = create_app(make_config(Path(tmp))).test_client().get(OPENAPI).get_json()
    return [f"{method.upper()} {path}" for path, item in document["paths"].items()
            for method in item if method in METHODS]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "operation" in metafunc.fixturenames:
        metafunc.parametrize("operation", operation_labels())


@pytest.fixture
def app(tmp_path):
    """The unit tests' app, with an in-memory broker in case anything slips past the stubs."""
    app = build_app(tmp_path, CELERY_BROKER_URL="memory://")
    app.extensions["redis"] = fakeredis.FakeRedis()
    with app.app_context():
        yield app
    teardown_app(app)


@pytest.fixture
def enqueued(monkeypatch) -> list:
    return stub_enqueue(monkeypatch)


@pytest.fixture
def fuzzer(app, make_user):
    return make_user("fuzz@example.com", is_admin=True)


@pytest.fixture
def bearer(fuzzer) -> dict:
    return {"Authorization": f"Bearer {issue_token(fuzzer)[0]}"}


@pytest.fixture
def known_ids(fuzzer, make_flight, insert_ticket) -> dict:
    """Path parameters that name real things: a flight, the fuzzer's hold and confirmed booking."""
    flight = make_flight()
    hold = take_hold(fuzzer.id, flight, ["1A"])
    ticket = insert_ticket(flight, fuzzer, ["2A"])
    return {"flight_id": flight.id, "hold_id": hold.id, "saga_id": ticket.saga_id, "number": "3A"}


@pytest.fixture
def api_schema(app, participants, enqueued, known_ids):
    return schemathesis.openapi.from_wsgi(OPENAPI, app)
