"""The benchmark's rows, written and read through the booking app itself (same DATABASE_URL).

Users, tokens and flights are made with the app's own functions; the growth phase's millions of
rows go in with set-based SQL and bulk inserts (COPY on PostgreSQL), then ANALYZE.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from app.models import TERMINAL
from app.saga import V1


def reset_postgres(url: str) -> None:
    """Empty the benchmark's PostgreSQL database (created first if the server has none of that
    name): its own public schema and the participants'."""
    named = make_url(url)
    server = create_engine(named.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                        {"name": named.database}).first() is None:
            conn.execute(text(f'CREATE DATABASE "{named.database}"'))
    server.dispose()
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for schema in ("public", "bench_payment", "bench_loyalty"):
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    engine.dispose()


@contextmanager
def session(app: Flask) -> Iterator[object]:
    from app.extensions import db

    with app.app_context():
        try:
            yield db.session
        finally:
            db.session.remove()


def create_users(app: Flask, count: int, prefix: str = "bench") -> list[str]:
    """`count` users, each with a bearer token; returns the raw tokens."""
    from app.auth import hash_password, issue_token
    from app.models import User

    with session(app) as s:
        password_hash = hash_password("bench password")  # one Argon2 hash, shared: logins are not measured
        users = [User(email=f"{prefix}-{i}-{uuid.uuid4().hex[:8]}@example.com", name=f"Bench {i}",
                      password_hash=password_hash) for i in range(count)]
        s.add_all(users)
        s.commit()
        return [issue_token(user)[0] for user in users]


def create_flights(app: Flask, count: int) -> list[int]:
    from app.catalog import create_flight

    departs = datetime.now(UTC).replace(microsecond=0) + timedelta(days=7)
    with session(app) as s:
        flights = [create_flight(number=f"BN{i:04d}", origin="LHR", destination="JFK",
                                 departs_at=departs + timedelta(hours=i),
                                 arrives_at=departs + timedelta(hours=i + 8)) for i in range(count)]
        s.commit()
        return [flight.id for flight in flights]


def seat_numbers() -> list[str]:
    from app.models.flight import seat_numbers as numbers

    return numbers()


@dataclass(frozen=True)
class SagaRow:
    id: str
    status: str
    failure_reason: str | None
    created_at: float  # epoch seconds, the saga's own timestamps
    updated_at: float


def saga_rows(app: Flask, ids: Sequence[str]) -> dict[str, SagaRow]:
    from app.models import Saga

    rows: dict[str, SagaRow] = {}
    with session(app) as s:
        for start in range(0, len(ids), 500):
            chunk = list(ids[start:start + 500])
            for row in s.execute(select(Saga.id, Saga.status, Saga.failure_reason, Saga.created_at,
                                        Saga.updated_at).where(Saga.id.in_(chunk))):
                rows[row.id] = SagaRow(row.id, row.status, row.failure_reason,
                                       row.created_at.timestamp(), row.updated_at.timestamp())
    return rows


def unfinished_on(app: Flask, flight_id: int) -> int:
    from app.models import Saga

    with session(app) as s:
        return s.scalar(select(func.count()).select_from(Saga)
                        .where(Saga.flight_id == flight_id, Saga.status.not_in(TERMINAL)))


def contention_outcome(app: Flask, flight_id: int) -> dict:
    """What the race left on one flight, counted in SQL (I1: no seat in two active tickets)."""
    with session(app) as s:
        per_seat = dict(s.execute(text(
            "SELECT ts.seat_number, COUNT(*) FROM ticket_seats ts JOIN tickets t ON t.id = ts.ticket_id"
            " WHERE ts.flight_id = :f AND ts.active AND t.status = 'active' GROUP BY ts.seat_number"
        ), {"f": flight_id}).all())
        outcomes = s.execute(text(
            "SELECT status, failure_reason, COUNT(*), MIN(created_at), MAX(updated_at) FROM sagas"
            " WHERE flight_id = :f GROUP BY status, failure_reason"), {"f": flight_id}).all()
        confirmed_seats = [seat for (seats,) in s.execute(text(
            "SELECT seats FROM sagas WHERE flight_id = :f AND status = 'confirmed'"), {"f": flight_id})
            for seat in (json.loads(seats) if isinstance(seats, str) else seats)]
        held = s.scalar(text("SELECT COUNT(*) FROM holds WHERE flight_id = :f AND status = 'held'"),
                        {"f": flight_id})
    booked_once = sum(1 for n in per_seat.values() if n == 1)
    return {
        "by_outcome": [{"status": st, "reason": reason, "count": n} for st, reason, n, _, _ in outcomes],
        "double_bookings": sum(1 for n in per_seat.values() if n > 1),
        "seats_booked_once": booked_once,
        "seats_free": len(seat_numbers()) - len(per_seat),
        # Every confirmed saga's seats are exactly the active ticket seats, and no seat twice.
        "tickets_match_sagas": sorted(confirmed_seats) == sorted(per_seat),
        "holds_left_held": held,
    }


# --- growth: 10,000 flights, 1.62M seats, 100,000 finished sagas ----------------------------------

# The growth sagas ran v1: its steps, from the definition.
STEP_NAMES = tuple(V1.action_names)


def counts(app: Flask) -> dict[str, int]:
    with session(app) as s:
        return {table: s.scalar(text(f"SELECT COUNT(*) FROM {table}"))
                for table in ("flights", "seats", "sagas", "saga_steps", "tickets", "holds")}


def grow(app: Flask, flights: int, sagas: int, log=print) -> dict[str, float]:
    """Add `flights` flights with their seats and `sagas` finished sagas; returns seconds per part."""
    from app.extensions import db
    from app.models import Flight, User

    timings: dict[str, float] = {}
    with session(app) as s:
        started = time.perf_counter()
        first_id = (s.scalar(select(func.max(Flight.id))) or 0) + 1
        base = datetime(2026, 1, 1, tzinfo=UTC)
        s.execute(insert(Flight), [
            {"id": first_id + i, "number": f"GR{i % 10000:04d}", "origin": "AMS", "destination": "BCN",
             "departs_at": base + timedelta(minutes=30 * i),
             "arrives_at": base + timedelta(minutes=30 * i + 140),
             "currency": "USD", "fare_first": 1200, "fare_business": 600, "fare_economy": 150}
            for i in range(flights)])
        user = User(email=f"growth-{uuid.uuid4().hex[:8]}@example.com", name="Growth", password_hash="-")
        s.add(user)
        s.commit()
        timings["flights"] = time.perf_counter() - started

        started = time.perf_counter()
        _insert_seats(s, first_id, first_id + flights - 1)
        s.commit()
        timings["seats"] = time.perf_counter() - started
        log(f"  growth: {flights} flights and their seats in {sum(timings.values()):.1f} s")

        started = time.perf_counter()
        tables = _finished_sagas(user.id, list(range(first_id, first_id + flights)), sagas)
        dialect = db.engine.dialect.name
        for table, (columns, rows) in tables.items():
            _bulk(db.engine, dialect, table, columns, rows)
        timings["sagas"] = time.perf_counter() - started
        log(f"  growth: {sagas} finished sagas (+ steps, holds, tickets) in {timings['sagas']:.1f} s")

        started = time.perf_counter()
        s.execute(text("ANALYZE"))
        s.commit()
        timings["analyze"] = time.perf_counter() - started
    return timings


def _insert_seats(s, first: int, last: int) -> None:
    """162 seats per flight in one INSERT … SELECT: the seat template crossed with the flights."""
    from app.models.flight import cabin_of_row

    template = ", ".join(
        f"('{n}', {int(n[:-1])}, '{n[-1]}', '{cabin_of_row(int(n[:-1])).value}')" for n in seat_numbers())
    s.execute(text(
        f"INSERT INTO seats (flight_id, number, row, letter, cabin, blocked)"
        f" WITH template(number, seat_row, letter, cabin) AS (VALUES {template})"
        f" SELECT f.id, t.number, t.seat_row, t.letter, t.cabin, FALSE"
        f" FROM flights f CROSS JOIN template t WHERE f.id BETWEEN :first AND :last"
    ), {"first": first, "last": last})


def _finished_sagas(user_id: int, flight_ids: list[int], count: int) -> dict[str, tuple[tuple, list]]:
    """Rows of `count` sagas that ended long ago: 9 in 10 confirmed with a ticket, 1 in 10 failed."""
    if count > 0xFFFFF:
        raise ValueError("at most 1,048,575 growth sagas (their ticket references are 0 + 5 hex digits)")
    numbers = seat_numbers()
    per_flight = max(1, -(-count // len(flight_ids)))
    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    sagas, steps, holds, tickets, ticket_seats = [], [], [], [], []
    for i in range(count):
        saga_id, hold_id, when = str(uuid.uuid4()), str(uuid.uuid4()), t0 + timedelta(seconds=i)
        flight_id, seat = flight_ids[i // per_flight], numbers[i % per_flight]
        confirmed = i % 10 != 0
        seats = json.dumps([seat])
        sagas.append((saga_id, user_id, flight_id, hold_id, seats, "[]", 15000, "USD", 150,
                      "confirmed" if confirmed else "failed", None if confirmed else "authorize_payment",
                      None if confirmed else "card_declined", None if confirmed else "declined",
                      "tok_growth", "visa", "4242", f"pay-{i}", None if not confirmed else f"aw-{i}", 9,
                      when, when + timedelta(seconds=1), when + timedelta(seconds=1),
                      2 if confirmed else 3, when + timedelta(seconds=1), when if confirmed else None,
                      # Finished: a confirmed saga's steps are all done (else it would count in flight).
                      when + timedelta(seconds=1) if confirmed else None, 1))
        for position, name in enumerate(STEP_NAMES, start=1):
            status = "succeeded" if confirmed or position == 1 else ("failed" if position == 2 else "pending")
            steps.append((saga_id, position, name, "action", status, 1 if status != "pending" else 0,
                          when, when, None, None, str(uuid.uuid4())))
        holds.append((hold_id, flight_id, user_id, saga_id, uuid.uuid4().hex, seats, 15000, "USD",
                      "consumed" if confirmed else "released", when + timedelta(minutes=10), when, when))
        if confirmed:
            ticket_id = str(uuid.uuid4())
            # "0" never starts a real reference (its alphabet has no 0 or 1): no collision with live ones.
            tickets.append((ticket_id, saga_id, f"0{i:05X}", flight_id, user_id, "active", when, None))
            ticket_seats.append((ticket_id, flight_id, seat, True))
    return {
        "sagas": (("id", "user_id", "flight_id", "hold_id", "seats", "passengers", "amount", "currency",
                   "miles", "status", "failure_step", "failure_reason", "failure_detail", "card_token",
                   "card_brand", "card_last4", "payment_authorization_id", "miles_award_id", "version",
                   "created_at", "updated_at", "progressed_at", "fence", "lease_expires_at", "pivoted_at",
                   "completed_at", "definition_version"),
                  sagas),
        "saga_steps": (("saga_id", "position", "name", "kind", "status", "attempts", "started_at",
                        "finished_at", "error_code", "error_message", "task_id"), steps),
        "holds": (("id", "flight_id", "user_id", "saga_id", "token", "seats", "amount", "currency", "status",
                   "expires_at", "created_at", "updated_at"), holds),
        "tickets": (("id", "saga_id", "reference", "flight_id", "user_id", "status", "issued_at",
                     "cancelled_at"), tickets),
        "ticket_seats": (("ticket_id", "flight_id", "seat_number", "active"), ticket_seats),
    }


def _bulk(engine, dialect: str, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    raw = engine.raw_connection()
    try:
        if dialect == "postgresql":
            with raw.driver_connection.cursor() as cursor, cursor.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN"
            ) as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            cursor = raw.cursor()
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [tuple(_sqlite_value(v) for v in row) for row in rows])
        raw.commit()
    finally:
        raw.close()


def _sqlite_value(value: object) -> object:
    # The app's UTCDateTime stores naive UTC in SQLAlchemy's SQLite text format.
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def seat_map_sql_ms(app: Flask, flight_id: int, repeat: int) -> list[float]:
    """The reads a seat map needs (seats, active holds, active ticket seats of one flight), timed.

    A stand-in while GET /flights/<id>/seats is not on this branch: it shows whether the indexes
    keep these reads flat as the tables grow.
    """
    from app.models import Hold, Seat, TicketSeat

    timings = []
    with session(app) as s:
        for _ in range(repeat):
            started = time.perf_counter()
            s.execute(select(Seat.number, Seat.cabin, Seat.blocked).where(Seat.flight_id == flight_id)
                      .order_by(Seat.row, Seat.letter)).all()
            s.execute(select(Hold.seats).where(Hold.flight_id == flight_id, Hold.active_clause())).all()
            s.execute(select(TicketSeat.seat_number).where(TicketSeat.flight_id == flight_id,
                                                          TicketSeat.active_clause())).all()
            s.rollback()
            timings.append((time.perf_counter() - started) * 1000)
    return timings
