"""Hold operations (app/holds.py): the SQL row and its Redis keys, on SQLite and fakeredis."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import fakeredis
import pytest

from app.errors import HoldStoreUnavailable, SeatUnavailable, TransientError
from app.extensions import db, get_redis
from app.holds import (
    HoldInUse,
    HoldLimitReached,
    HoldRejected,
    active_holds_of,
    extend_hold,
    hold_token,
    release_hold,
    sweep_expired,
    take_hold,
    withdraw_hold,
)
from app.models import Hold, HoldStatus, Seat
from app.models.types import utcnow
from app.seat_holds import acquire, hold_key


@pytest.fixture
def user(make_user):
    return make_user()


@pytest.fixture
def redis_server(app):
    """The fake Redis server behind the app: `redis_server.connected = False` takes it down."""
    server = fakeredis.FakeServer()
    app.extensions["redis"] = fakeredis.FakeRedis(server=server)
    return server


def key_of(hold: Hold, seat: str) -> bytes | None:
    return get_redis().get(hold_key(hold.flight_id, seat))


def key_of_seat(flight, seat: str) -> bytes | None:
    return get_redis().get(hold_key(flight.id, seat))


def lapse(hold: Hold, ago: timedelta = timedelta(seconds=1)) -> None:
    """Move a hold's expiry into the past: expiry is a SQL predicate, no sleep needed."""
    hold.expires_at = utcnow() - ago
    db.session.commit()


# take_hold


def test_take_hold_writes_the_row_and_the_keys(user, flight):
    before = utcnow()
    hold = take_hold(user.id, flight, ["1A", "12B"], saga_id="saga-1")
    row = db.session.get(Hold, hold.id)
    assert (row.status, row.seats, row.user_id, row.flight_id, row.saga_id) == (
        HoldStatus.HELD, ["1A", "12B"], user.id, flight.id, "saga-1")
    assert (row.amount, row.currency) == (Decimal("1350.00"), "USD")
    assert before + timedelta(seconds=600) <= row.expires_at <= utcnow() + timedelta(seconds=600)
    assert len(row.token) == 32
    assert key_of(row, "1A") == key_of(row, "12B") == row.token.encode()
    assert 590_000 < get_redis().pttl(hold_key(flight.id, "1A")) <= 600_000


def test_take_hold_with_its_own_ttl(user, flight):
    hold = take_hold(user.id, flight, ["12A"], ttl_seconds=30)
    assert hold.expires_at <= utcnow() + timedelta(seconds=30)
    assert 0 < get_redis().pttl(hold_key(flight.id, "12A")) <= 30_000


def test_every_hold_has_its_own_token(user, flight):
    first = take_hold(user.id, flight, ["12A"])
    second = take_hold(user.id, flight, ["12B"])
    assert first.token != second.token


def test_a_saga_retrying_after_a_crash_finds_its_own_keys(user, flight):
    # The first attempt set the keys, then its worker died before the row was committed.
    assert acquire(get_redis(), flight.id, ["12A", "12B"], hold_token("saga-1"), 600_000) == []
    with pytest.raises(SeatUnavailable):
        take_hold(user.id, flight, ["12B"], saga_id="saga-2", enforce_limits=False)
    hold = take_hold(user.id, flight, ["12A", "12B"], saga_id="saga-1", enforce_limits=False)
    assert hold.token == hold_token("saga-1")
    assert hold_token("saga-1") != hold_token("saga-2")
    assert len(hold_token("saga-1")) == len(hold_token()) == 32


@pytest.mark.parametrize(
    ("seats", "message"),
    [
        ([], "Choose at least one seat."),
        ([f"12{letter}" for letter in "ABCDEF"] + ["13A", "13B", "13C", "13D"], "At most 9 seats per hold."),
        (["12A", "12B", "12A"], "Listed more than once: 12A."),
        (["12A", "28A", "12G"], "Not on this flight's seat map: 28A, 12G."),
        (["12a"], "Not on this flight's seat map: 12a."),
    ],
)
def test_take_hold_rejects_bad_seat_lists(user, flight, seats, message):
    with pytest.raises(HoldRejected) as caught:
        take_hold(user.id, flight, seats)
    assert message in caught.value.errors["seats"]
    assert db.session.query(Hold).count() == 0
    assert get_redis().keys("hold:*") == []


def test_take_hold_rejects_blocked_seats(user, flight):
    seat = db.session.query(Seat).filter_by(flight_id=flight.id, number="12C").one()
    seat.blocked = True
    db.session.commit()
    with pytest.raises(HoldRejected) as caught:
        take_hold(user.id, flight, ["12B", "12C"])
    assert caught.value.errors == {"seats": ["Not for sale: 12C."]}
    assert get_redis().keys("hold:*") == []


def test_a_seat_held_in_redis_is_unavailable_and_nothing_else_is_taken(make_user, flight):
    first, second = make_user(), make_user()
    take_hold(first.id, flight, ["12B", "12D"])
    with pytest.raises(SeatUnavailable) as caught:
        take_hold(second.id, flight, ["12A", "12B", "12C", "12D"])
    assert caught.value.extra == {"seats": ["12B", "12D"]}
    assert caught.value.reason == "seat_unavailable"
    assert key_of_seat(flight, "12A") is None and key_of_seat(flight, "12C") is None
    assert db.session.query(Hold).count() == 1


def test_sql_guards_an_active_hold_when_redis_lost_its_keys(make_user, flight):
    first, second = make_user(), make_user()
    take_hold(first.id, flight, ["12B"])
    get_redis().flushdb()  # a Redis restart without persistence
    with pytest.raises(SeatUnavailable) as caught:
        take_hold(second.id, flight, ["12A", "12B"])
    assert caught.value.extra == {"seats": ["12B"]}
    # The keys the refused attempt had set are deleted again.
    assert get_redis().keys("hold:*") == []
    assert db.session.query(Hold).count() == 1


def test_sql_guards_an_active_ticket(user, flight, insert_ticket):
    insert_ticket(flight, user, ["12B"])
    with pytest.raises(SeatUnavailable) as caught:
        take_hold(user.id, flight, ["12A", "12B"])
    assert caught.value.extra == {"seats": ["12B"]}
    assert get_redis().keys("hold:*") == []


def test_a_cancelled_ticket_or_lapsed_hold_does_not_block_the_seat(make_user, flight, insert_ticket):
    first, second = make_user(), make_user()
    insert_ticket(flight, first, ["12A"], active=False)
    lapsed = take_hold(first.id, flight, ["12B"])
    lapse(lapsed)
    get_redis().flushdb()  # its key would be gone by now too
    hold = take_hold(second.id, flight, ["12A", "12B"])
    assert hold.seats == ["12A", "12B"]


def test_the_same_seat_on_another_flight_is_free(user, make_flight):
    one, other = make_flight(), make_flight(number="SA901")
    take_hold(user.id, one, ["12A"])
    assert take_hold(user.id, other, ["12A"]).flight_id == other.id


def test_at_most_three_active_holds(user, flight):
    for seat in ("12A", "12B", "12C"):
        take_hold(user.id, flight, [seat])
    with pytest.raises(HoldLimitReached) as caught:
        take_hold(user.id, flight, ["12D"])
    assert caught.value.limit == 3
    assert 590 <= caught.value.retry_after <= 600
    assert key_of_seat(flight, "12D") is None
    assert active_holds_of(user.id) == 3


def test_the_limit_is_per_user_and_skipped_for_sagas(make_user, flight):
    first, second = make_user(), make_user()
    for seat in ("12A", "12B", "12C"):
        take_hold(first.id, flight, [seat])
    assert take_hold(second.id, flight, ["13A"]).user_id == second.id
    assert take_hold(first.id, flight, ["13B"], enforce_limits=False).user_id == first.id
    assert active_holds_of(first.id) == 4


def test_released_and_lapsed_holds_do_not_count(user, flight):
    holds = [take_hold(user.id, flight, [seat]) for seat in ("12A", "12B", "12C")]
    release_hold(holds[0])
    lapse(holds[1])
    assert active_holds_of(user.id) == 1
    take_hold(user.id, flight, ["12D"])
    take_hold(user.id, flight, ["12E"])
    assert active_holds_of(user.id) == 3


def test_redis_down_is_a_transient_error_and_writes_nothing(user, flight, redis_server):
    redis_server.connected = False
    with pytest.raises(HoldStoreUnavailable) as caught:
        take_hold(user.id, flight, ["12A"])
    assert isinstance(caught.value, TransientError)
    assert caught.value.reason == "internal_error"
    assert db.session.query(Hold).count() == 0


# release_hold and withdraw_hold


def test_release_hold_frees_the_seats(make_user, flight):
    first, second = make_user(), make_user()
    hold = take_hold(first.id, flight, ["12A", "12B"])
    assert release_hold(hold) is True
    assert db.session.get(Hold, hold.id).status == HoldStatus.RELEASED
    assert get_redis().keys("hold:*") == []
    assert take_hold(second.id, flight, ["12A", "12B"]).seats == ["12A", "12B"]


def test_release_hold_is_idempotent(user, flight):
    hold = take_hold(user.id, flight, ["12A"])
    assert release_hold(hold) is True
    assert release_hold(hold) is False
    assert hold.status == HoldStatus.RELEASED


def test_release_hold_releases_a_hold_a_saga_adopted(user, flight):
    hold = take_hold(user.id, flight, ["12A"], saga_id="saga-1", enforce_limits=False)
    assert release_hold(hold) is True
    assert hold.status == HoldStatus.RELEASED
    assert get_redis().keys("hold:*") == []


def test_release_hold_never_releases_a_consumed_hold(user, flight):
    hold = take_hold(user.id, flight, ["12A"])
    hold.status = HoldStatus.CONSUMED
    db.session.commit()
    assert release_hold(hold) is False
    assert db.session.get(Hold, hold.id).status == HoldStatus.CONSUMED


def test_release_hold_with_another_status(user, flight):
    hold = take_hold(user.id, flight, ["12A"])
    assert release_hold(hold, status=HoldStatus.EXPIRED) is True
    assert hold.status == HoldStatus.EXPIRED
    with pytest.raises(ValueError):
        release_hold(hold, status=HoldStatus.HELD)


def test_release_hold_leaves_keys_another_token_owns(make_user, flight):
    first = make_user()
    hold = take_hold(first.id, flight, ["12A"])
    get_redis().set(hold_key(flight.id, "12A"), "someone-else", px=60_000)
    release_hold(hold)
    assert key_of_seat(flight, "12A") == b"someone-else"


def test_release_hold_retried_after_redis_came_back_deletes_the_keys(user, flight, redis_server):
    hold = take_hold(user.id, flight, ["12A"])
    redis_server.connected = False
    with pytest.raises(HoldStoreUnavailable):
        release_hold(hold)
    assert db.session.get(Hold, hold.id).status == HoldStatus.RELEASED
    redis_server.connected = True
    assert release_hold(hold) is False
    assert get_redis().keys("hold:*") == []


def test_withdraw_hold_releases_it(user, flight):
    hold = take_hold(user.id, flight, ["12A"])
    withdraw_hold(hold)
    assert hold.status == HoldStatus.RELEASED
    assert get_redis().keys("hold:*") == []
    withdraw_hold(hold)  # again: nothing to do, no error
    assert hold.status == HoldStatus.RELEASED


def test_withdraw_hold_of_a_lapsed_hold_marks_it_expired(user, flight):
    hold = take_hold(user.id, flight, ["12A"])
    lapse(hold)
    withdraw_hold(hold)
    assert hold.status == HoldStatus.EXPIRED
    assert get_redis().keys("hold:*") == []


def test_withdraw_hold_refuses_an_adopted_or_consumed_hold(user, flight):
    adopted = take_hold(user.id, flight, ["12A"], saga_id="saga-1")
    consumed = take_hold(user.id, flight, ["12B"])
    consumed.status = HoldStatus.CONSUMED
    db.session.commit()
    for hold in (adopted, consumed):
        with pytest.raises(HoldInUse):
            withdraw_hold(hold)
    assert adopted.status == HoldStatus.HELD
    assert key_of(adopted, "12A") == adopted.token.encode()
    assert consumed.status == HoldStatus.CONSUMED


def test_withdraw_hold_loses_to_a_saga_that_adopted_it_meanwhile(user, flight):
    hold = take_hold(user.id, flight, ["12A"])
    assert hold.saga_id is None  # what this request read
    # A worker adopts the hold on its own connection before this request's UPDATE.
    with db.engine.begin() as worker:
        worker.execute(db.update(Hold).where(Hold.id == hold.id).values(saga_id="saga-1"))
    with pytest.raises(HoldInUse):
        withdraw_hold(hold)
    assert db.session.get(Hold, hold.id).status == HoldStatus.HELD
    assert key_of(hold, "12A") == hold.token.encode()


# extend_hold


def test_extend_hold_moves_the_expiry_and_the_ttl(user, flight):
    hold = take_hold(user.id, flight, ["12A", "12B"], ttl_seconds=60)
    until = utcnow() + timedelta(seconds=900)
    assert extend_hold(hold, until) is True
    assert db.session.get(Hold, hold.id).expires_at == until
    assert 890_000 < get_redis().pttl(hold_key(flight.id, "12B")) <= 900_000


def test_extend_hold_stops_at_the_maximum(user, flight, app):
    hold = take_hold(user.id, flight, ["12A"])
    assert extend_hold(hold, utcnow() + timedelta(hours=5)) is True
    cap = hold.created_at + timedelta(seconds=app.config["HOLD_MAX_SECONDS"])
    assert hold.expires_at == cap


def test_extend_hold_never_shortens(user, flight):
    hold = take_hold(user.id, flight, ["12A"])
    expires_at = hold.expires_at
    assert extend_hold(hold, utcnow() + timedelta(seconds=10)) is True
    assert hold.expires_at == expires_at
    assert get_redis().pttl(hold_key(flight.id, "12A")) > 10_000


def test_extend_hold_puts_back_keys_redis_lost(user, flight):
    hold = take_hold(user.id, flight, ["12A", "12B"], ttl_seconds=60)
    get_redis().delete(hold_key(flight.id, "12B"))
    assert extend_hold(hold, utcnow() + timedelta(seconds=300)) is True
    assert key_of(hold, "12B") == hold.token.encode()


@pytest.mark.parametrize("end", ["released", "lapsed", "consumed"])
def test_extend_hold_of_an_inactive_hold_changes_nothing(user, flight, end):
    hold = take_hold(user.id, flight, ["12A"], ttl_seconds=60)
    if end == "released":
        release_hold(hold)
    elif end == "lapsed":
        lapse(hold)
    else:
        hold.status = HoldStatus.CONSUMED
        db.session.commit()
    expires_at, ttl = hold.expires_at, get_redis().pttl(hold_key(flight.id, "12A"))
    assert extend_hold(hold, utcnow() + timedelta(seconds=600)) is False
    assert db.session.get(Hold, hold.id).expires_at == expires_at
    assert get_redis().pttl(hold_key(flight.id, "12A")) <= max(ttl, 60_000)


# sweep_expired


def test_sweep_expires_lapsed_holds_and_deletes_their_keys(make_user, flight):
    first, second = make_user(), make_user()
    old = take_hold(first.id, flight, ["12A"])
    older = take_hold(second.id, flight, ["12B", "12C"])
    current = take_hold(first.id, flight, ["12D"])
    lapse(old)
    lapse(older, timedelta(minutes=5))
    assert sorted(sweep_expired()) == sorted([old.id, older.id])
    assert [old.status, older.status, current.status] == ["expired", "expired", "held"]
    assert sorted(get_redis().keys("hold:*")) == [hold_key(flight.id, "12D").encode()]
    assert sweep_expired() == []


def test_sweep_takes_now_and_works_in_batches(user, flight):
    holds = [take_hold(user.id, flight, [seat], enforce_limits=False) for seat in ("12A", "12B", "12C")]
    assert sweep_expired(now=utcnow() - timedelta(seconds=1)) == []
    swept = sweep_expired(now=utcnow() + timedelta(hours=1), batch=2)
    assert sorted(swept) == sorted(h.id for h in holds)
    assert get_redis().keys("hold:*") == []


def test_sweep_leaves_consumed_and_released_holds_alone(user, flight):
    consumed = take_hold(user.id, flight, ["12A"])
    consumed.status = HoldStatus.CONSUMED
    released = take_hold(user.id, flight, ["12B"])
    released.status = HoldStatus.RELEASED
    db.session.commit()
    assert sweep_expired(now=utcnow() + timedelta(hours=1)) == []
    assert (consumed.status, released.status) == ("consumed", "released")


def test_sweep_spares_a_key_another_token_took(user, flight):
    hold = take_hold(user.id, flight, ["12A"])
    lapse(hold)
    get_redis().set(hold_key(flight.id, "12A"), "newer-hold", px=60_000)
    assert sweep_expired() == [hold.id]
    assert key_of_seat(flight, "12A") == b"newer-hold"


def test_sweep_still_reports_what_it_expired_when_redis_is_down(user, flight, redis_server):
    hold = take_hold(user.id, flight, ["12A"])
    lapse(hold)
    redis_server.connected = False
    assert sweep_expired() == [hold.id]
    assert hold.status == HoldStatus.EXPIRED
