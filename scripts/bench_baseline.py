"""The benchmark's baseline: a plain Celery chain of four no-op tasks, on the saga's settings.

The app loads the same `celeryconfig` as the booking service (broker, JSON, acks_late,
prefetch 1, reject/retry on worker lost, task events), so the only difference from the saga is
what the tasks do. The fourth task reports its finish time in Redis, which is how the driver
learns that a chain ended: one RPUSH, the baseline's only work besides Celery's own.

    worker: celery -A bench_baseline.app worker --pool=prefork --concurrency=K
"""

from __future__ import annotations

import os
import time

import redis
from celery import Celery, chain

app = Celery("bench_baseline")
app.config_from_object("celeryconfig")
app.conf.broker_url = os.environ.get("CELERY_BROKER_URL", app.conf.broker_url)

DONE_KEY = "bench:done:{}"
_done_redis: redis.Redis | None = None


def done_redis() -> redis.Redis:
    # Built on first use in each pool process (redis-py pools are not shared across a fork).
    global _done_redis
    if _done_redis is None:
        _done_redis = redis.Redis.from_url(os.environ["BENCH_DONE_URL"])
    return _done_redis


@app.task(name="bench.noop")
def noop(chain_id: str) -> None:
    return None


@app.task(name="bench.last")
def last(chain_id: str) -> None:
    key = DONE_KEY.format(chain_id)
    done_redis().pipeline().rpush(key, repr(time.time())).expire(key, 600).execute()


def start(chain_id: str) -> None:
    """Enqueue one chain, as the API enqueues a saga: four signatures that ignore their parent."""
    chain(noop.si(chain_id), noop.si(chain_id), noop.si(chain_id), last.si(chain_id)).apply_async()
