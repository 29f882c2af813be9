"""Rate limits on the real Redis: counters shared by every web process, and 429 once they are spent."""

from __future__ import annotations

import pytest
import redis

from tests.conftest import TEST_REDIS_URL

pytestmark = pytest.mark.integration

LIMITED = {"RATELIMIT_ENABLED": True, "RATELIMIT_LOGIN": "3/minute", "RATELIMIT_BOOKINGS": "2/minute"}


@pytest.fixture
def web_processes(app, make_app):
    """Two more booking apps on the same database and Redis, as two gunicorn workers would be."""
    return [make_app(**LIMITED) for _ in range(2)]


def login(web, email: str = "ada@example.com"):
    with web.app_context():
        return web.test_client().post("/api/v1/auth/token", json={"email": email, "password": "wrong horse"})


def test_login_attempts_count_across_processes_in_redis(web_processes):
    first, second = web_processes
    assert [login(web).status_code for web in (first, second, first)] == [401, 401, 401]
    limited = login(second)
    assert limited.status_code == 429
    assert limited.get_json()["type"] == "/problems/rate-limited"
    assert 45 < int(limited.headers["Retry-After"]) <= 60
    keys = [key.decode() for key in redis.Redis.from_url(TEST_REDIS_URL).keys("*ratelimit*")]
    assert keys, "the counters live in Redis"
    # The email is kept as a hash: the counter's key does not say who tried to log in.
    assert not any("ada@example.com" in key for key in keys)


def test_starting_bookings_is_limited_per_user_in_redis(web_processes, make_user, auth_headers):
    first, second = web_processes
    headers = auth_headers(make_user())

    def start(web):
        with web.app_context():
            return web.test_client().post("/api/v1/bookings", json={}, headers=headers)

    assert [start(first).status_code, start(second).status_code] == [422, 422]
    assert start(first).status_code == 429
