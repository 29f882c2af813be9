"""Celery settings: broker, serialisation, reliability and the beat schedule.

Why each reliability setting is here (notes: README "Crash recovery"):
- acks_late + reject_on_worker_lost: a step whose worker process dies is redelivered, not lost.
- retry_on_worker_lost: a pool child killed mid-task is retried (and counted) instead of failing,
  after the task's default_retry_delay: 1 s here (task_annotations), not Celery's 180 s.
- prefetch 1: a worker holds one unacked step at a time, so a crash strands at most one.
- visibility_timeout: how soon Redis redelivers a task whose whole worker was SIGKILLed. It must be
  longer than every retry countdown (SAGA_RETRY_MAX_SECONDS) and task_time_limit, or tasks would run
  twice; app/settings_check.py refuses to start otherwise.
"""

from __future__ import annotations

import math

from app.config import broker_url_from_env, number

# The app's CELERY_BROKER_URL overrides it (app/__init__.py), so a test's broker wins.
broker_url = broker_url_from_env()
VISIBILITY_TIMEOUT = number("CELERY_VISIBILITY_TIMEOUT", 120, int)

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
# The saga's truth is the SQL log; nothing reads Celery results.
task_ignore_result = True

task_acks_late = True
task_reject_on_worker_lost = True
task_retry_on_worker_lost = True
# That retry waits the task's default_retry_delay (Celery's default is 180 s): longer than the
# visibility timeout, so Redis would hand the waiting retry to a second worker, and longer than
# SAGA_STALL_SECONDS, so the reconciler would re-drive the saga first. Every task is idempotent
# and the lost run is over, so retry after a second; a retry() in app/tasks/runner.py names its
# own countdown, so this delay is used only after a lost worker.
WORKER_LOST_RETRY_DELAY = 1
task_annotations = {"*": {"default_retry_delay": WORKER_LOST_RETRY_DELAY}}
worker_prefetch_multiplier = 1
# Sized to the participant timeouts (connect 2 s + read 5 s per call, a few calls per step).
task_soft_time_limit = 45
task_time_limit = 60
broker_connection_retry_on_startup = True
worker_cancel_long_running_tasks_on_connection_loss = True
broker_transport_options = {"visibility_timeout": VISIBILITY_TIMEOUT}

# Flower sees every task, with its sent time.
worker_send_task_events = True
task_send_sent_event = True

# One beat process schedules these; every janitor is idempotent and safe to overlap.
# Short, so a saga whose lease lapsed is re-driven soon: the reconciler's query is one index range.
JANITOR_INTERVAL = number("JANITOR_INTERVAL_SECONDS", 5)
beat_schedule = {
    "sweep-expired-holds": {"task": "maintenance.sweep_expired_holds", "schedule": JANITOR_INTERVAL},
    "reconcile-sagas": {"task": "maintenance.reconcile_sagas", "schedule": JANITOR_INTERVAL},
    "retry-debts": {"task": "maintenance.retry_debts", "schedule": 30.0},
    "prune-idempotency-keys": {"task": "maintenance.prune_idempotency_keys", "schedule": 3600.0},
}
# Wake often enough that no janitor waits past its interval.
beat_max_loop_interval = min(10, JANITOR_INTERVAL)

# Beat with standbys (docs/operations.md, "Beat with a standby"): celery-redbeat keeps the schedule and
# a lock in Redis. The beat holding the lock extends it on every tick, at most beat_max_loop_interval
# apart; a standby polls every beat_max_loop_interval. So a SIGKILLed beat's lock lapses within
# redbeat_lock_timeout and a standby schedules at most beat_max_loop_interval later: 20 s by default.
# Three loops rather than RedBeat's five (25 min with Celery's default loop): a tick publishes the due
# janitors first, and a slow one must not cost the lock, yet the janitors should not stop for long.
beat_scheduler = "app.beat_scheduler:Scheduler"
# Whole seconds: RedBeat extends the lock by int(timeout), and 0 would delete it on every tick.
redbeat_lock_timeout = math.ceil(3 * beat_max_loop_interval)
# The broker's Redis: beat is of use only while it can publish there, and that Redis is the one kept
# durable and never evicting (an evicted lock would let two beats schedule). The holds' Redis may be a
# Cluster or lose its keys. Set explicitly: RedBeat's fallback to broker_url is deprecated.
redbeat_redis_url = broker_url
# Options for RedBeat's own client (the broker's transport options are not meant for it).
redbeat_redis_options = {"socket_connect_timeout": 2, "socket_timeout": 5}
# Trailing ':': RedBeat appends entry names straight to it (booking:beat:reconcile-sagas).
redbeat_key_prefix = "booking:beat:"
