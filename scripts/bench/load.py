"""The load: client threads driving sagas over HTTP, or the compared systems through the broker.

Both are closed loops: each client has one saga (or chain) in flight and starts the next when it
learns the last one ended, so throughput and latency are measured at the same concurrency.
"""

from __future__ import annotations

import queue
import random
import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from app.models import TERMINAL
from scripts.bench.work import CARD, done_key

SAGA_TIMEOUT = 120.0
# Asked of the status endpoint: answer as soon as the booking changes, or after this many seconds.
LONG_POLL_SECONDS = 20


def pct(values: list[float], p: float) -> float | None:
    """The p-th percentile (linear interpolation); None without data."""
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=1000, method="inclusive")[round(p * 10) - 1]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50": pct(values, 50), "p95": pct(values, 95), "p99": pct(values, 99),
            "mean": statistics.fmean(values) if values else None, "max": max(values) if values else None}


@dataclass
class Timings:
    """API latencies in ms, appended from many threads (list.append is atomic)."""

    post: list[float] = field(default_factory=list)
    status: list[float] = field(default_factory=list)
    status_not_modified: int = 0
    seatmap: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class Booked:
    saga_id: str
    sent_at: float  # epoch seconds, just before the POST
    location: str = ""  # the POST's Location and ETag: where the booking is, and as it was created
    etag: str | None = None
    seen_at: float | None = None  # when a poll first showed a terminal status
    status: str | None = None


def booking_body(flight_id: int, seats: list[str]) -> dict:
    return {"flight_id": flight_id, "seats": seats, "payment": CARD,
            "passengers": [{"name": f"Bench Traveller {seat}"} for seat in seats]}


def _timed(timings: list[float], call: Callable[[], httpx.Response]) -> httpx.Response:
    started = time.perf_counter()
    response = call()
    timings.append((time.perf_counter() - started) * 1000)
    return response


def post_booking(http: httpx.Client, flight_id: int, seats: list[str], t: Timings) -> Booked | None:
    sent_at = time.time()
    response = _timed(t.post, lambda: http.post("/api/v1/bookings", json=booking_body(flight_id, seats),
                                                headers={"Idempotency-Key": str(uuid.uuid4())}))
    if response.status_code != 202:
        t.errors.append(f"POST {response.status_code}: {response.text[:200]}")
        return None
    return Booked(response.json()["id"], sent_at, response.headers["Location"], response.headers.get("ETag"))


def follow(http: httpx.Client, booked: Booked, t: Timings) -> None:
    """Follow the booking as a well-behaved client does, until it is terminal.

    Every GET sends If-None-Match (from the POST's ETag on: an unchanged booking is a 304) and
    `Prefer: wait` (RFC 7240): a server that applies it answers when the booking changes, and the
    next GET goes out at once; one that does not is polled again after its Retry-After.
    """
    location, etag = booked.location, booked.etag
    deadline = time.monotonic() + SAGA_TIMEOUT
    while time.monotonic() < deadline:
        headers = {"Prefer": f"wait={LONG_POLL_SECONDS}"}
        if etag:
            headers["If-None-Match"] = etag
        response = _timed(t.status, lambda: http.get(location, headers=headers))  # noqa: B023
        if response.status_code == 304:
            t.status_not_modified += 1
        elif response.status_code != 200:
            t.errors.append(f"GET {response.status_code}: {response.text[:200]}")
        else:
            etag = response.headers.get("ETag")
            status = response.json()["status"]
            if status in TERMINAL:
                booked.seen_at, booked.status = time.time(), status
                return
        if "Preference-Applied" not in response.headers:
            time.sleep(float(response.headers.get("Retry-After", "1")))
    t.errors.append(f"saga {booked.saga_id} not terminal after {SAGA_TIMEOUT} s")


@dataclass
class SagaRound:
    booked: list[Booked]
    timings: Timings
    started: float
    ended: float


def saga_round(base_url: str, tokens: list[str], jobs: list[tuple[int, list[str]]], clients: int,
               seatmap_flights: list[int] | None = None, follow_each: bool = True) -> SagaRound:
    """`clients` threads book `jobs` one at a time each (following each booking to its end, unless
    told not to); one more thread reads seat maps, if asked."""
    pending: queue.SimpleQueue[tuple[int, list[str]]] = queue.SimpleQueue()
    for job in jobs:
        pending.put(job)
    t, booked, done = Timings(), [], threading.Event()

    def client(index: int) -> None:
        with httpx.Client(base_url=base_url, timeout=30,
                          headers={"Authorization": f"Bearer {tokens[index % len(tokens)]}"}) as http:
            while True:
                try:
                    flight_id, seats = pending.get_nowait()
                except queue.Empty:
                    return
                started = post_booking(http, flight_id, seats, t)
                if started is not None:
                    booked.append(started)
                    if follow_each:
                        follow(http, started, t)

    def seat_maps() -> None:
        # A light reader beside the bookings: latency under load, not load of its own.
        with httpx.Client(base_url=base_url, timeout=30) as http:
            while not done.is_set():
                flight_id = random.choice(seatmap_flights)
                response = _timed(t.seatmap, lambda: http.get(f"/api/v1/flights/{flight_id}/seats"))  # noqa: B023
                if response.status_code != 200:
                    t.errors.append(f"seat map {response.status_code}")
                time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    reader = threading.Thread(target=seat_maps) if seatmap_flights else None
    started = time.time()
    for thread in threads:
        thread.start()
    if reader:
        reader.start()
    for thread in threads:
        thread.join()
    done.set()
    if reader:
        reader.join()
    return SagaRound(booked, t, started, time.time())


def race(base_url: str, tokens: list[str], attempts: list[tuple[int, list[str]]], clients: int) -> SagaRound:
    """Fire every attempt as fast as `clients` threads can POST; the caller waits for the outcome."""
    return saga_round(base_url, tokens, attempts, clients, follow_each=False)


@dataclass
class Chain:
    sent_at: float
    done_at: float | None


def broker_round(start: Callable[[str, int, str], None], done_redis, jobs: list[tuple[int, list[str]]],
                 clients: int) -> tuple[list[Chain], float, float]:
    """`clients` threads each start one booking (`start(booking_id, flight, seat)`) straight on
    the broker and block until its last task reports its finish time."""
    pending: queue.SimpleQueue[tuple[int, list[str]]] = queue.SimpleQueue()
    for job in jobs:
        pending.put(job)
    chains: list[Chain] = []

    def client() -> None:
        while True:
            try:
                flight_id, [seat] = pending.get_nowait()
            except queue.Empty:
                return
            booking_id = uuid.uuid4().hex
            sent_at = time.time()
            start(booking_id, flight_id, seat)
            reported = done_redis.blpop([done_key(booking_id)], timeout=SAGA_TIMEOUT)
            chains.append(Chain(sent_at, float(reported[1]) if reported else None))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return chains, started, time.time()
