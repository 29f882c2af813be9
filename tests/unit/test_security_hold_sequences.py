"""Any sequence of take, release, withdraw, lapse, sweep and Redis losing keys, at the operations level
(app/holds.py on SQLite and fakeredis): no seat is held by two holds, and no seat is lost.

tests/unit/test_seat_holds.py checks the Redis scripts alone; this adds the SQL rows, the limit of
active holds, expiry as a SQL predicate and the sweep, against a plain model of what should be.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    multiple,
    rule,
    run_state_machine_as_test,
)

from app.catalog import SeatStatus, seat_map
from app.errors import SeatUnavailable
from app.extensions import db, get_redis
from app.holds import HoldLimitReached, release_hold, sweep_expired, take_hold, withdraw_hold
from app.models import Flight, Hold, HoldStatus
from app.models.types import utcnow
from app.seat_holds import hold_key

SEATS = ["1A", "1B", "1C", "2A", "2B"]
seat_sets = st.lists(st.sampled_from(SEATS), min_size=1, max_size=3, unique=True)


class HoldSequences(RuleBasedStateMachine):
    """The model: each hold's status and whether it lapsed, and which hold's token each Redis key has."""

    holds = Bundle("holds")

    def __init__(self, flight_id: int, user_ids: list[int]) -> None:
        super().__init__()
        self.flight_id, self.user_ids = flight_id, user_ids
        db.session.query(Hold).delete()
        db.session.commit()
        get_redis().flushdb()
        self.owner: dict[str, int] = {}
        self.seats: dict[str, list[str]] = {}
        self.token: dict[str, str] = {}
        self.status: dict[str, str] = {}
        self.lapsed: set[str] = set()
        self.keys: dict[str, str] = {}  # seat -> id of the hold whose token the key holds

    def active(self) -> set[str]:
        return {h for h, status in self.status.items() if status == HoldStatus.HELD and h not in self.lapsed}

    def active_seats(self) -> set[str]:
        return {seat for h in self.active() for seat in self.seats[h]}

    def row(self, hold_id: str) -> Hold:
        return db.session.get(Hold, hold_id, populate_existing=True)

    @rule(target=holds, user=st.integers(0, 2), seats=seat_sets)
    def take(self, user: int, seats: list[str]):
        user_id = self.user_ids[user]
        mine = sum(self.owner[h] == user_id for h in self.active())
        in_redis = [seat for seat in seats if seat in self.keys]
        in_sql = [seat for seat in seats if seat in self.active_seats()]
        try:
            hold = take_hold(user_id, db.session.get(Flight, self.flight_id), seats)
        except HoldLimitReached:
            assert mine >= 3
            return multiple()
        except SeatUnavailable as refused:
            # Redis answers first; when it lost the keys, the SQL rows still refuse the seats.
            assert mine < 3 and refused.extra["seats"] == (in_redis or in_sql)
            return multiple()
        assert mine < 3 and not in_redis and not in_sql, "a held seat was handed out again"
        self.owner[hold.id], self.seats[hold.id], self.token[hold.id] = user_id, seats, hold.token
        self.status[hold.id] = HoldStatus.HELD
        self.keys.update(dict.fromkeys(seats, hold.id))
        return hold.id

    def _forget_keys_of(self, hold_id: str) -> None:
        self.keys = {seat: h for seat, h in self.keys.items() if h != hold_id}

    @rule(hold_id=consumes(holds))
    def release(self, hold_id: str) -> None:
        """What cancel_seat does: a `held` row (lapsed or not) becomes released, its keys go."""
        changed = release_hold(self.row(hold_id))
        assert changed == (self.status[hold_id] == HoldStatus.HELD)
        if changed:
            self.status[hold_id] = HoldStatus.RELEASED
        self._forget_keys_of(hold_id)

    @rule(hold_id=consumes(holds))
    def withdraw(self, hold_id: str) -> None:
        """The owner's DELETE: released, or expired if it had lapsed already."""
        withdraw_hold(self.row(hold_id))
        if self.status[hold_id] == HoldStatus.HELD:
            self.status[hold_id] = HoldStatus.EXPIRED if hold_id in self.lapsed else HoldStatus.RELEASED
        self._forget_keys_of(hold_id)

    @rule(hold_id=holds, redis_too=st.booleans())
    def lapse(self, hold_id: str, redis_too: bool) -> None:
        """The hold's time passes; Redis drops the keys with it, or (a slow expiry) a little later."""
        if self.status[hold_id] != HoldStatus.HELD or hold_id in self.lapsed:
            return
        hold = self.row(hold_id)
        hold.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        self.lapsed.add(hold_id)
        if redis_too:
            for seat in [seat for seat, h in self.keys.items() if h == hold_id]:
                get_redis().delete(hold_key(self.flight_id, seat))
            self._forget_keys_of(hold_id)

    @rule()
    def sweep(self) -> None:
        due = {h for h, status in self.status.items() if status == HoldStatus.HELD and h in self.lapsed}
        assert set(sweep_expired()) == due
        for hold_id in due:
            self.status[hold_id] = HoldStatus.EXPIRED
            self._forget_keys_of(hold_id)

    @rule(seat=st.sampled_from(SEATS))
    def redis_loses_a_key(self, seat: str) -> None:
        """A restart or failover: the key is gone, the SQL row stays the guarantee."""
        get_redis().delete(hold_key(self.flight_id, seat))
        self.keys.pop(seat, None)

    @invariant()
    def the_rows_match_the_model(self) -> None:
        db.session.expire_all()
        rows = {hold.id: hold for hold in db.session.query(Hold)}
        assert {h: row.status for h, row in rows.items()} == self.status
        assert {h for h, row in rows.items() if row.is_active()} == self.active()

    @invariant()
    def no_seat_is_in_two_active_holds(self) -> None:
        seats = [seat for hold in db.session.query(Hold).filter(Hold.active_clause()) for seat in hold.seats]
        assert len(seats) == len(set(seats))

    @invariant()
    def every_redis_key_names_its_own_hold(self) -> None:
        for seat in SEATS:
            value = get_redis().get(hold_key(self.flight_id, seat))
            expected = self.keys.get(seat)
            assert value == (self.token[expected].encode() if expected else None), seat

    @invariant()
    def the_seat_map_shows_exactly_the_active_holds(self) -> None:
        flight = db.session.get(Flight, self.flight_id)
        held = {view.number for view in seat_map(flight, numbers=SEATS) if view.status == SeatStatus.HELD}
        assert held == self.active_seats()


def test_hold_sequences_never_double_hold_or_lose_a_seat(app, make_user, make_flight):
    flight_id = make_flight().id
    user_ids = [make_user().id for _ in range(3)]
    run_state_machine_as_test(
        lambda: HoldSequences(flight_id, user_ids),
        settings=settings(max_examples=60, stateful_step_count=25, deadline=None),
    )
