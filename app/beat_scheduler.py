"""Beat's scheduler: celery-redbeat, so any number of beats may run and exactly one schedules.

RedBeat keeps the schedule and a lock in Redis; the beat holding the lock schedules and extends it on
every tick, the others block in `acquire()`, polling every `beat_max_loop_interval`, and one of them
takes over once the lock expires (docs/operations.md, "Beat with a standby").

Two gaps of RedBeat are closed here, because beat runs under honcho with everything else, where one
process exiting stops them all, and because the broker's Redis may restart empty:
- a beat that lost its lock (Redis restarted, or this process stalled past the lock's timeout) exits
  with LockNotOwnedError (sibson/redbeat #218, #230); here it stands by again instead;
- RedBeat writes the static schedule into Redis only when beat starts, so after Redis lost its keys
  the beat that schedules next would find nothing to run; here it writes it again;
- a beat that starts while Redis is down dies writing that schedule; here it writes it on a later
  tick, once Redis answers.

And one of Celery's own: beat's SIGTERM handler closes the scheduler (Redis and broker I/O, the lock
released) inside the handler, on top of whatever call the signal interrupted, and never tells the
loop to stop; a beat seen here released its lock on SIGTERM and went on scheduling, until SIGKILL.
Here the handler only stops the loop, and the loop's own `finally` closes the scheduler.
"""

from __future__ import annotations

import logging
from types import FrameType, SimpleNamespace

from celery import beat, platforms
from celery.signals import beat_init
from redbeat import RedBeatScheduler
from redbeat.schedulers import acquire_distributed_beat_lock, get_redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import LockError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("celery.beat")

# How soon a beat tries Redis again after it did not answer: about when a restarted one is back.
REDIS_RETRY_SECONDS = 1.0


class Scheduler(RedBeatScheduler):
    """RedBeat's scheduler that outlives a lost lock and a Redis restarted empty."""

    _redis_down = False

    def tick(self, *args: object, **kwargs: object) -> float:
        try:
            interval = self._tick(*args, **kwargs)
        except (RedisConnectionError, RedisTimeoutError) as exc:
            if not self._redis_down:  # one line per outage, not one a second
                log.warning("beat: Redis does not answer (%s): retrying every %.0f s", exc,
                            REDIS_RETRY_SECONDS)
            self._redis_down = True
            return REDIS_RETRY_SECONDS
        if self._redis_down:
            log.warning("beat: Redis answers again")
            self._redis_down = False
        return interval

    def setup_schedule(self) -> None:
        try:
            super().setup_schedule()
        except (RedisConnectionError, RedisTimeoutError) as exc:  # _keep_schedule writes it later
            log.warning("beat: Redis does not answer (%s): the schedule is written once it does", exc)

    def _tick(self, *args: object, **kwargs: object) -> float:
        if self.lock is None:  # lost, or never taken: Redis was down when beat started
            self._stand_by()
        self._keep_schedule()
        try:
            return super().tick(*args, **kwargs)
        except LockError as exc:
            log.warning("beat: lost the scheduler lock (%s): standing by", exc)
            self.lock = None
            return 0

    def _stand_by(self) -> None:
        """Block until this beat holds the lock (RedBeat's own acquisition), then schedule again."""
        self.lock = None
        acquire_distributed_beat_lock(SimpleNamespace(scheduler=self))
        self.setup_schedule()

    def _keep_schedule(self) -> None:
        """Write the static schedule again when Redis lost it; last run times kept where they exist."""
        if not get_redis(self.app).exists(self.app.redbeat_conf.schedule_key):
            log.warning("beat: the schedule is missing from Redis (restarted empty?): writing it again")
            self.setup_schedule()


def _start(sender: beat.Service, **_: object) -> None:
    """Beat's start (its `beat_init`): signals that only stop the loop, then RedBeat's lock."""

    def stop(signum: int, frame: FrameType | None) -> None:
        # Set first: should the exit below be swallowed by the code it interrupts, the loop still
        # ends before its next tick. Service.start catches SystemExit and closes the scheduler.
        sender._is_shutdown.set()
        raise SystemExit()

    platforms.signals.update(SIGTERM=stop, SIGINT=stop)
    # After the handlers, so that a standby blocked here for the lock stops on SIGTERM too.
    acquire_distributed_beat_lock(sender)


beat_init.disconnect(acquire_distributed_beat_lock)
beat_init.connect(_start, weak=False)
