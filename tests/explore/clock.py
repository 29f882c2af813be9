"""The explorer's clock: every `utcnow()` of the booking app and the services, and Redis TTLs.

`app.models.types.utcnow` reads `datetime.now` from its own module, and every caller (column
defaults included) goes through that one function, so replacing the module's `datetime` moves
all of them. Redis (fakeredis) keeps real time; `advance` ages its TTLs by hand instead.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from app.models import types


class Clock:
    """A settable UTC now, installed into app.models.types for as long as the world lives."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.now = start
        clock = self

        class FakeDatetime(datetime):
            @classmethod
            def now(cls, tz=None):  # noqa: ANN001, ANN206 - the signature of datetime.now
                return clock.now if tz is None or tz is UTC else clock.now.astimezone(tz)

        self.datetime_class = FakeDatetime

    def install(self, monkeypatch) -> None:  # noqa: ANN001 - pytest's MonkeyPatch
        monkeypatch.setattr(types, "datetime", self.datetime_class)

    def reset(self) -> None:
        self.now = self.start

    def advance(self, seconds: float, r: redis.Redis) -> None:
        """Move time on, and expire (or shorten) every Redis key's TTL as Redis would have."""
        if seconds <= 0:
            return
        self.now += timedelta(seconds=seconds)
        passed_ms = int(seconds * 1000)
        for key in r.scan_iter():
            left = r.pttl(key)
            if left < 0:
                continue  # no TTL (or gone meanwhile)
            if left <= passed_ms:
                r.delete(key)
            else:
                r.pexpire(key, left - passed_ms)

    def until(self, moment: datetime, r: redis.Redis) -> None:
        self.advance((moment - self.now).total_seconds(), r)
