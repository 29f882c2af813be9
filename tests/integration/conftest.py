"""Integration fixtures: the real Redis (a dedicated, flushed DB), a real Celery worker thread
on the booking app, and the real payment and loyalty apps in-process over WSGI."""

from __future__ import annotations

import time

import pytest
import redis
from celery.contrib.testing.worker import start_worker

from app import saga_log
from app.extensions import db
from app.models import TERMINAL, Saga
from tests.conftest import TEST_BROKER_URL, TEST_REDIS_URL, build_app, teardown_app
from tests.participants import wire_participants


def flush_redis() -> None:
    for url in {TEST_REDIS_URL, TEST_BROKER_URL}:
        redis.Redis.from_url(url).flushdb()


@pytest.fixture
def app(tmp_path):
    """The booking app on the real Redis with in-process participants (no worker yet); it replaces
    the unit tests' fakeredis app, so every shared fixture (users, flights, client) uses it."""
    flush_redis()
    app = build_app(tmp_path)
    wired = wire_participants(app, tmp_path)
    with app.app_context():
        yield app
    wired.close()
    teardown_app(app)
    flush_redis()


@pytest.fixture
def live_app(app):
    return app


@pytest.fixture
def worker(live_app):
    """A real Celery worker consuming the real broker, running tasks in live_app's context."""
    celery_app = live_app.extensions["celery"]
    with start_worker(celery_app, pool="threads", concurrency=4, perform_ping_check=False,
                      shutdown_timeout=30):
        yield celery_app


def wait_terminal(saga_id: str, timeout: float = 30.0) -> Saga:
    """Poll the saga log (as a client polls the status endpoint) until the saga ends: its follow-ups
    after the pivot done too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.expire_all()
        saga = db.session.get(Saga, saga_id)
        if saga.status in TERMINAL and not saga_log.is_in_flight(saga):
            return saga
        time.sleep(0.05)
    raise AssertionError(f"saga {saga_id} still {saga.status} after {timeout}s")
