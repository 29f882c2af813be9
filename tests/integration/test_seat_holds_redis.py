"""The seat-hold scripts on the real Redis server: the answers fakeredis gives, real TTLs, real races.

Runs on its own Redis DB (TEST_REDIS_URL, default DB 11), flushed before and after each test.
"""

from __future__ import annotations

import os
import random
import threading
import time
from itertools import combinations

import pytest
import redis

from app.errors import SeatUnavailable
from app.extensions import get_redis
from app.holds import release_hold, take_hold
from app.seat_holds import acquire, extend, fence, hold_key, release

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
FLIGHT = 42
TTL = 60_000
THREADS = 20


@pytest.fixture
def r():
    client = redis.Redis.from_url(REDIS_URL, socket_timeout=5)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def owners(r: redis.Redis, seats: list[str]) -> dict[str, bytes | None]:
    return {seat: r.get(hold_key(FLIGHT, seat)) for seat in seats}


def test_acquire_is_all_or_none_on_the_server(r):
    assert acquire(r, FLIGHT, ["12B", "12D"], "t1", TTL) == []
    assert acquire(r, FLIGHT, ["12A", "12B", "12C", "12D"], "t2", TTL) == ["12B", "12D"]
    assert owners(r, ["12A", "12B", "12C", "12D"]) == {"12A": None, "12B": b"t1", "12C": None,
                                                        "12D": b"t1"}
    assert 0 < r.pttl(hold_key(FLIGHT, "12B")) <= TTL


def test_own_token_refreshes_and_extends_on_the_server(r):
    acquire(r, FLIGHT, ["12A"], "t1", 1_000)
    assert acquire(r, FLIGHT, ["12A", "12B"], "t1", TTL) == []
    assert r.pttl(hold_key(FLIGHT, "12A")) > 1_000
    acquire(r, FLIGHT, ["12C"], "t2", 1_000)
    assert extend(r, FLIGHT, ["12A", "12B", "12C", "12D"], "t1", 2 * TTL) == ["12C", "12D"]
    assert r.pttl(hold_key(FLIGHT, "12B")) > TTL
    assert r.pttl(hold_key(FLIGHT, "12C")) <= 1_000


def test_release_and_fence_check_the_token_on_the_server(r):
    acquire(r, FLIGHT, ["12A", "12B"], "t1", TTL)
    acquire(r, FLIGHT, ["12C"], "t2", TTL)
    assert fence(r, FLIGHT, ["12A", "12B", "12C", "12D"], "t1") == ["12C"]
    assert release(r, FLIGHT, ["12A", "12B", "12C"], "t2") == 1
    assert owners(r, ["12A", "12B", "12C"]) == {"12A": b"t1", "12B": b"t1", "12C": None}
    assert release(r, FLIGHT, ["12A", "12B"], "t1") == 2
    assert r.keys("hold:*") == []


def test_a_50_ms_hold_expires_on_the_server(r):
    assert acquire(r, FLIGHT, ["12A"], "t1", 50) == []
    assert 0 < r.pttl(hold_key(FLIGHT, "12A")) <= 50
    assert acquire(r, FLIGHT, ["12A"], "t2", TTL) == ["12A"]
    time.sleep(0.15)
    assert r.get(hold_key(FLIGHT, "12A")) is None
    assert acquire(r, FLIGHT, ["12A"], "t2", TTL) == []
    assert fence(r, FLIGHT, ["12A"], "t1") == ["12A"]


def _race(r: redis.Redis, requests: list[list[str]]) -> list[list[str]]:
    """Every request acquires at the same moment on its own thread; returns each one's answer."""
    answers: list = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def run(i: int) -> None:
        start.wait()
        answers[i] = acquire(r, FLIGHT, requests[i], f"token-{i}", TTL)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    return answers


def test_twenty_threads_racing_for_overlapping_seats_never_share_one(r):
    seats = ["12A", "12B", "12C", "12D", "12E", "12F"]
    rng = random.Random(11)
    for _ in range(25):
        r.flushdb()
        requests = [rng.sample(seats, rng.randint(1, 3)) for _ in range(THREADS)]
        answers = _race(r, requests)
        granted = [i for i, taken in enumerate(answers) if taken == []]
        assert granted, "somebody always wins"
        for a, b in combinations(granted, 2):
            assert not set(requests[a]) & set(requests[b])
        held = owners(r, seats)
        for i, request in enumerate(requests):
            mine = {seat for seat, owner in held.items() if owner == f"token-{i}".encode()}
            # All or none: a winner holds all its seats, a loser none, and a loser was told why.
            assert mine == (set(request) if i in granted else set())
            if i not in granted:
                assert answers[i] and set(answers[i]) <= set(request)
                assert all(held[seat] is not None for seat in answers[i])


def test_twenty_threads_taking_and_giving_back_seats_never_share_one(r):
    seats = ["12A", "12B", "12C", "12D", "12E", "12F"]
    occupied: dict[str, int] = {}
    lock = threading.Lock()
    errors: list[str] = []
    outcomes = {"granted": 0, "refused": 0}

    def client(i: int) -> None:
        rng = random.Random(i)
        token = f"token-{i}"
        for _ in range(40):
            wanted = rng.sample(seats, rng.randint(1, 3))
            if acquire(r, FLIGHT, wanted, token, TTL):
                with lock:
                    outcomes["refused"] += 1
                continue
            with lock:
                outcomes["granted"] += 1
                doubles = [seat for seat in wanted if seat in occupied]
                if doubles:
                    errors.append(f"{token} was granted {doubles} held by {occupied}")
                occupied.update(dict.fromkeys(wanted, i))
            time.sleep(rng.random() / 1000)
            with lock:
                for seat in wanted:
                    occupied.pop(seat, None)
            # Give back only after leaving the ledger, so a later grant never looks like a double.
            if release(r, FLIGHT, wanted, token) != len(wanted):
                errors.append(f"{token} could not release all of {wanted}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert outcomes["granted"] > 0 and outcomes["refused"] > 0, outcomes
    assert r.keys("hold:*") == []


def test_take_and_release_hold_on_the_real_server(app, r, make_user, make_flight):
    app.extensions["redis"] = r
    first, second = make_user(), make_user()
    flight = make_flight()
    hold = take_hold(first.id, flight, ["12A", "12B"])
    assert get_redis().get(hold_key(flight.id, "12A")) == hold.token.encode()
    r.flushdb()  # Redis forgets; the hold row still guards the seats
    with pytest.raises(SeatUnavailable):
        take_hold(second.id, flight, ["12B"])
    assert release_hold(hold) is True
    assert take_hold(second.id, flight, ["12B"]).seats == ["12B"]
