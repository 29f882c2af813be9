"""Waiting for a booking's status to change: the long poll of `GET /bookings/<id>` (`Prefer: wait`).

A long poll waits through IN_PROGRESS (pending, then running, within milliseconds of the POST:
no client needs to be woken for that) until the outcome, or the compensation, is known; later it
waits for the next status change. The saga log announces every status transition out of
IN_PROGRESS on the Redis channel `booking-status:<saga id>` (after its commit, so a woken reader
finds the new row). Each web process keeps one subscriber thread on `booking-status:*` and wakes
the requests waiting on that saga; the waiting requests hold no database connection. A lost
announcement (Redis away for a moment) costs only freshness: the wait ends at its timeout and the
client reads the booking as it is.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from flask import current_app

from app.models import SagaStatus

log = logging.getLogger(__name__)

CHANNEL = "booking-status:"
# The statuses a long poll waits through (app/api/bookings.py): nobody waits for `running`.
IN_PROGRESS = (SagaStatus.PENDING, SagaStatus.RUNNING)


def announce(r: redis.Redis, saga_id: str, status: str) -> None:
    """Tell the waiting readers of this saga that its status changed to `status` (best effort)."""
    if status in IN_PROGRESS:
        return
    try:
        r.publish(CHANNEL + saga_id, b"")
    except redis.RedisError as exc:  # freshness only: a waiting reader times out and reads anyway
        log.warning("saga %s: status change not announced: %s", saga_id, exc, extra={"saga_id": saga_id})


class Watcher:
    """One subscription per process; any number of requests waiting on any sagas."""

    def __init__(self, r: redis.Redis) -> None:
        self._redis = r
        self._lock = threading.Lock()
        self._waiting: dict[str, list[threading.Event]] = {}
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    @contextmanager
    def watching(self, saga_id: str) -> Iterator[threading.Event]:
        """An event set when the saga's status changes; register before reading the saga, so a
        change between the read and the wait is not missed."""
        self._start()
        event = threading.Event()
        with self._lock:
            self._waiting.setdefault(saga_id, []).append(event)
        try:
            yield event
        finally:
            with self._lock:
                events = self._waiting.get(saga_id, [])
                if event in events:
                    events.remove(event)
                if not events:
                    self._waiting.pop(saga_id, None)

    def _start(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._ready.clear()
                self._thread = threading.Thread(target=self._listen, name="status-watch", daemon=True)
                self._thread.start()
        # Announcements before the subscription is in place would be lost: wait for it (briefly).
        self._ready.wait(timeout=2)

    def _listen(self) -> None:
        try:
            pubsub = self._redis.pubsub()
            pubsub.psubscribe(CHANNEL + "*")
            while True:
                # A bounded wait, not listen(): the client's socket timeout stays what it is.
                message = pubsub.get_message(timeout=1.0)
                if message is None:
                    continue
                if message["type"] == "psubscribe":
                    self._ready.set()
                elif message["type"] == "pmessage":
                    channel = message["channel"]
                    self._wake((channel.decode() if isinstance(channel, bytes) else channel)[len(CHANNEL):])
        except redis.RedisError as exc:  # the next wait starts a new subscriber
            log.warning("status watch stopped: %s", exc)
        finally:
            self._ready.set()
            self._wake_all()

    def _wake(self, saga_id: str) -> None:
        with self._lock:
            events = list(self._waiting.get(saga_id, ()))
        for event in events:
            event.set()

    def _wake_all(self) -> None:
        with self._lock:
            events = [event for events in self._waiting.values() for event in events]
        for event in events:
            event.set()


def watcher() -> Watcher:
    """This process's watcher, on the app's Redis (made on first use: only web processes wait)."""
    extensions = current_app.extensions
    found = extensions.get("status_watch")
    if found is None:
        found = extensions.setdefault("status_watch", Watcher(extensions["redis"]))
    return found
