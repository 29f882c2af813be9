"""Beat's SIGTERM and SIGINT: the handler only stops the loop; the loop's own end closes the scheduler.

Celery's handler closed the scheduler (Redis and broker I/O, RedBeat's lock released) inside the
handler, on top of whatever call the signal had interrupted, and did not tell the loop to stop: a
beat was seen releasing its lock on SIGTERM and scheduling on until it was SIGKILLed.
"""

from __future__ import annotations

import signal

import pytest
import redis
from celery import beat
from celery.apps.beat import Beat
from celery.signals import beat_init

from tests.conftest import TEST_BROKER_URL


@pytest.fixture
def service(app):
    redis.Redis.from_url(TEST_BROKER_URL).flushdb()
    celery_app = app.extensions["celery"]
    service = beat.Service(app=celery_app, scheduler_cls=celery_app.conf.beat_scheduler)
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    # What `celery beat` does before its loop: Celery's handlers, then beat_init (RedBeat's lock).
    Beat(app=celery_app, quiet=True).install_sync_handler(service)
    beat_init.send(sender=service)
    try:
        yield service
    finally:
        service.sync()
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_signal_stops_the_loop_and_leaves_closing_to_it(service, sig):
    lock = service.scheduler.lock
    assert lock is not None and lock.owned()

    with pytest.raises(SystemExit):
        signal.getsignal(sig)(sig, None)

    # The loop ends before its next tick even if the code the signal interrupted swallowed the exit,
    assert service._is_shutdown.is_set()
    # and nothing was closed inside the handler: the lock is released by Service.start's `finally`.
    assert lock.owned()
    service.sync()
    assert not lock.owned()
