"""Two beats from the same Procfile line: exactly one schedules; SIGKILL it and the other takes over.

Janitor runs are counted by the worker's `booking_janitor_runs_total` counter, served by the web app
(both share one metrics directory, as on one machine). Settings are the defaults: the janitors run
every 5 s, beat loops every 5 s, and its lock lasts 15 s (celeryconfig.py).
"""

from __future__ import annotations

import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

import celeryconfig
from tests.e2e.conftest import make_stack, shared_redis_urls
from tests.e2e.stack import METRICS_TOKEN, wait_for

# Its subject (one beat schedules, by a Redis lock) does not depend on the database engine: it is not
# run again on PostgreSQL.
pytestmark = [pytest.mark.e2e, pytest.mark.engine_independent]

INTERVAL = celeryconfig.JANITOR_INTERVAL
# The lock of a killed beat lapses within its timeout; the standby looks every loop.
LAPSE_AND_POLL = celeryconfig.redbeat_lock_timeout + celeryconfig.beat_max_loop_interval
FAILOVER_BOUND = LAPSE_AND_POLL + 2
ACQUIRED = "beat: Acquired lock"


def reconciler_runs(stack) -> float:
    text = httpx.get(stack.base_url + "/metrics", timeout=10,
                     headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).text
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == "booking_janitor_runs_total"
               and sample.labels.get("janitor") == "reconcile_sagas")


def runs_over(stack, seconds: float) -> float:
    before = reconciler_runs(stack)
    time.sleep(seconds)
    return reconciler_runs(stack) - before


def holders(stack, labels: list[str]) -> list[str]:
    return [label for label in labels if ACQUIRED in stack.log_of(label)]


@pytest.fixture
def stack(tmp_path):
    stack = make_stack(tmp_path, *shared_redis_urls())
    try:
        for name in ("web", "worker"):
            stack.start(name)
        yield stack
    finally:
        stack.stop()


def test_one_of_two_beats_schedules_and_the_other_takes_over_when_it_is_killed(stack):
    beats = ["beat-a", "beat-b"]
    for label in beats:
        stack.start("beat", label=label)
    [active] = wait_for(lambda: holders(stack, beats) or None, timeout=30, what="a beat to take the lock")
    [standby] = [label for label in beats if label != active]
    wait_for(lambda: reconciler_runs(stack) > 0, timeout=3 * INTERVAL, what="the first janitor run")

    # One lock timeout and one standby poll: were the active beat not extending its lock, the standby
    # would hold it by the end. One beat schedules window / INTERVAL runs, two would twice that.
    window = LAPSE_AND_POLL
    runs = runs_over(stack, window)
    assert window / INTERVAL - 1 <= runs <= window / INTERVAL + 1, f"{runs} runs in {window} s"
    assert holders(stack, beats) == [active]  # the standby never held the lock

    stack.kill(active)  # SIGKILL: its lock is not released, it must lapse
    killed_at = time.monotonic()
    time.sleep(1)  # a run the dead beat sent just before is counted by now
    before = reconciler_runs(stack)
    wait_for(lambda: ACQUIRED in stack.log_of(standby), timeout=FAILOVER_BOUND + 5,
             interval=0.2, what="the standby to take the lock")
    failover = time.monotonic() - killed_at
    wait_for(lambda: reconciler_runs(stack) > before, timeout=2 * INTERVAL, interval=0.2,
             what="a janitor run after")
    print(f"beat failover: lock taken {failover:.1f} s after the SIGKILL, "
          f"janitors again {time.monotonic() - killed_at:.1f} s after it")
    assert failover <= FAILOVER_BOUND

    window = 3 * INTERVAL  # the new holder alone: 2 to 4 runs (two schedulers would make 6)
    runs = runs_over(stack, window)
    assert window / INTERVAL - 1 <= runs <= window / INTERVAL + 1, f"{runs} runs in {window} s"
    assert stack.procs[standby].poll() is None
