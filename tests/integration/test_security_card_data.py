"""PCI DSS end to end: bookings with real card numbers through the real worker leave no card number
and no CVC in any database, log line, Celery message or Redis key or value.

The number and CVC exist only in the request that tokenizes them.
"""

from __future__ import annotations

import logging
import re

import pytest
import redis
from celery.signals import before_task_publish

from app.extensions import db
from app.models import Saga
from tests.conftest import APPROVED, DECLINED, NO_FUNDS, PROCESSOR_DOWN, TEST_BROKER_URL, TEST_REDIS_URL
from tests.integration.conftest import wait_terminal

pytestmark = pytest.mark.integration

# Each card with a CVC of its own, so a leak can be traced to the card it came from.
CARDS = {
    APPROVED: "7391",
    "5555555555554444": "8264",
    DECLINED: "6153",
    NO_FUNDS: "9482",
    PROCESSOR_DOWN: "5837",
}
REFUSED_AT_THE_DOOR = {"4242424242424241": "3719"}  # fails the Luhn check: 422, no saga
SECRETS = {**CARDS, **REFUSED_AT_THE_DOOR}


def leaks(text: str) -> list[str]:
    """Card numbers (with or without spaces) and CVCs standing alone, found in `text`."""
    found = []
    for number, cvc in SECRETS.items():
        spaced = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
        found += [form for form in (number, spaced) if form in text]
        found += re.findall(rf"(?<![\w.-]){cvc}(?![\w.-])", text)
    return found


def redis_dump(url: str) -> str:
    """Every key and value of one Redis database, as text."""
    client = redis.Redis.from_url(url)
    parts = []
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        value = {
            "string": lambda k: client.get(k),
            "hash": lambda k: client.hgetall(k),
            "list": lambda k: client.lrange(k, 0, -1),
            "set": lambda k: client.smembers(k),
            "zset": lambda k: client.zrange(k, 0, -1, withscores=True),
        }.get(kind, lambda k: b"")(key)
        parts.append(f"{key!r} {kind} {value!r}")
    return "\n".join(parts)


def sql_dump() -> str:
    """Every row of every table of the booking database, as text."""
    return "\n".join(repr(db.session.execute(table.select()).all()) for table in db.metadata.sorted_tables)


@pytest.fixture
def published():
    """The body and headers of every Celery message the app sends."""
    messages: list[str] = []

    def record(body=None, headers=None, **kwargs):
        messages.append(f"{body!r} {headers!r}")

    before_task_publish.connect(record, weak=False)
    yield messages
    before_task_publish.disconnect(record)


def card_json(number: str, cvc: str, spaced: bool) -> dict:
    if spaced:
        number = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    return {"card_number": number, "exp_month": 12, "exp_year": 2031, "cvc": cvc}


def test_no_card_number_or_cvc_is_kept_anywhere(live_app, worker, client, make_user, auth_headers,
                                               make_flight, tmp_path, caplog, published):
    caplog.set_level(logging.DEBUG)
    # One account with a dozen bookings in flight at once, one per test card: off the seat caps.
    live_app.config.update(MAX_HELD_SEATS_PER_FLIGHT=0, MAX_HELD_SEATS_NEW_ACCOUNT=0,
                           MAX_HELD_SEATS_PER_ACCOUNT=0)
    headers = auth_headers(make_user())
    flight = make_flight()
    rows = iter(range(6, 28))
    saga_ids = []
    for n, (number, cvc) in enumerate(CARDS.items()):
        for spaced in (False, True):
            body = {"flight_id": flight.id, "seats": [f"{next(rows)}A"],
                    "payment": card_json(number, cvc, spaced), "passengers": [{"name": "Ada Lovelace"}]}
            response = client.post("/api/v1/bookings", json=body,
                                   headers={**headers, "Idempotency-Key": f"order-{n}-{spaced}"})
            assert response.status_code == 202, response.get_json()
            assert leaks(response.get_data(as_text=True)) == []
            saga_ids.append(response.get_json()["id"])
    for number, cvc in REFUSED_AT_THE_DOOR.items():
        body = {"flight_id": flight.id, "seats": ["27F"], "payment": card_json(number, cvc, False)}
        refused = client.post("/api/v1/bookings", json=body, headers=headers)
        assert refused.status_code == 422 and leaks(refused.get_data(as_text=True)) == []

    # While the sagas run: queued and unacknowledged messages, hold keys, rate-limit counters.
    in_flight = [redis_dump(url) for url in (TEST_BROKER_URL, TEST_REDIS_URL)]
    sagas = [wait_terminal(saga_id, timeout=120) for saga_id in saga_ids]
    # Every outcome went through: approvals, declines, and the processing error retried to its end.
    assert {saga.status for saga in sagas} == {"confirmed", "failed"}
    assert {saga.failure_reason for saga in sagas} >= {"card_declined", "insufficient_funds",
                                                      "payment_unavailable"}
    for saga in sagas:
        body = client.get(f"/api/v1/bookings/{saga.id}", headers=headers).get_data(as_text=True)
        assert leaks(body) == [], saga.id

    # Every row of every booking table (SQLite or PostgreSQL), then every byte of the database files,
    # free pages and journals included (the booking database is one of them unless on PostgreSQL).
    assert leaks(sql_dump()) == []
    db.session.remove()
    databases = sorted(tmp_path.glob("*.db*"))
    assert {"payment.db", "loyalty.db"} <= {path.name for path in databases}
    for path in databases:
        assert leaks(path.read_bytes().decode("latin-1")) == [], path.name
    assert published, "the worker ran sagas, so messages were sent"
    assert leaks("\n".join(published)) == []
    for url in (TEST_BROKER_URL, TEST_REDIS_URL):
        assert leaks(redis_dump(url)) == [], url
    assert leaks("\n".join(in_flight)) == []
    # The logs did record the bookings and payments, by brand and last 4 only.
    assert "ending 4242" in caplog.text and "ending 0119" in caplog.text
    assert leaks(caplog.text) == []
    assert db.session.query(Saga).count() == len(saga_ids)
