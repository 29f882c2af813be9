"""In text mode an idle stack says (almost) nothing: a terminal running scripts/run stays readable."""

from __future__ import annotations

import time

import pytest

from tests.e2e.conftest import make_stack, shared_redis_urls
from tests.e2e.stack import wait_for
from tests.e2e.test_crash_recovery import seed

# Its subject (what an idle stack logs) does not depend on the database engine: not run again on PostgreSQL.
pytestmark = [pytest.mark.e2e, pytest.mark.engine_independent]

PROCESSES = ("web", "payment", "loyalty", "worker", "beat")
IDLE_SECONDS = 60


def test_an_idle_stack_logs_at_most_a_line_a_minute(tmp_path):
    stack = make_stack(tmp_path, *shared_redis_urls(), LOG_FORMAT="text")
    seed(stack)
    try:
        for name in PROCESSES:
            stack.start(name)
        # Start-up ends when the worker is ready and beat holds its lock.
        wait_for(lambda: "ready" in stack.log_of("worker") and "Acquired lock" in stack.log_of("beat"),
                 timeout=60, what="the worker and beat to start")
        time.sleep(1)
        started = {name: len(stack.log_of(name).splitlines()) for name in PROCESSES}
        time.sleep(IDLE_SECONDS)  # twelve janitor runs of each kind, two of retry-debts
        idle = {name: stack.log_of(name).splitlines()[started[name]:] for name in PROCESSES}
        assert all(stack.procs[name].poll() is None for name in PROCESSES)
    finally:
        stack.stop()
    lines = [f"{name}: {line}" for name, logged in idle.items() for line in logged]
    assert len(lines) <= IDLE_SECONDS / 60, "\n".join(lines)
