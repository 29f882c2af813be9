"""Flights and seat maps: creating flights and reading what is for sale."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache

from flask import current_app
from sqlalchemy import Row, and_, bindparam, case, exists, func, or_, select

from app.errors import SalesClosed
from app.extensions import db
from app.models import Flight, Hold, Seat, TicketSeat, build_seats
from app.models.flight import DEFAULT_FARES, MILES_MULTIPLIER, Cabin
from app.models.types import utcnow

# flights.id is a 32-bit integer column: a larger id names no flight (and would not bind).
MAX_FLIGHT_ID = 2**31 - 1
SEAT_NUMBER = re.compile(r"[1-9][0-9]?[A-F]")


class SeatStatus(StrEnum):
    AVAILABLE = "available"
    HELD = "held"
    BOOKED = "booked"
    BLOCKED = "blocked"


def create_flight(
    *,
    number: str,
    origin: str,
    destination: str,
    departs_at: datetime,
    arrives_at: datetime,
    currency: str = "USD",
    fares: dict[str, Decimal] | None = None,
) -> Flight:
    """A flight with its 162 seats, added to the session (the caller commits)."""
    fares = {**DEFAULT_FARES, **{Cabin(k): Decimal(v) for k, v in (fares or {}).items()}}
    flight = Flight(
        number=number,
        origin=origin,
        destination=destination,
        departs_at=departs_at,
        arrives_at=arrives_at,
        currency=currency,
        fare_first=fares[Cabin.FIRST],
        fare_business=fares[Cabin.BUSINESS],
        fare_economy=fares[Cabin.ECONOMY],
        seats=build_seats(),
    )
    db.session.add(flight)
    return flight


@dataclass(frozen=True)
class Quote:
    """What a set of seats costs and earns."""

    amount: Decimal
    currency: str
    miles: int


@cache
def _seat_read():
    """Number, cabin and blocked of some seats of a flight: built once, every booking reads it."""
    return (select(Seat.number, Seat.cabin, Seat.blocked)
            .where(Seat.flight_id == bindparam("flight_id"),
                   Seat.number.in_(bindparam("numbers", expanding=True))))


def seat_rows(flight_id: int, seat_numbers: list[str]) -> dict[str, Row]:
    """The rows of those of `seat_numbers` that `flight_id` has, by number."""
    return {row.number: row for row in db.session.execute(
        _seat_read(), {"flight_id": flight_id, "numbers": list(seat_numbers)})}


def quote(flight: Flight, seat_numbers: list[str], rows: dict[str, Row] | None = None) -> Quote:
    """Price and miles of `seat_numbers` on `flight` (SPEC §2); unknown seats raise KeyError.
    `rows`: their seat_rows(), when the caller has read them already."""
    rows = seat_rows(flight.id, seat_numbers) if rows is None else rows
    cabins = {number: row.cabin for number, row in rows.items()}
    unknown = [number for number in seat_numbers if number not in cabins]
    if unknown:
        raise KeyError(unknown)
    amount = sum((flight.fare(cabins[n]) for n in seat_numbers), Decimal("0.00"))
    miles = sum(int(flight.fare(cabins[n])) * MILES_MULTIPLIER[Cabin(cabins[n])] for n in seat_numbers)
    return Quote(amount=amount, currency=flight.currency, miles=miles)


def sales_close_at(flight: Flight) -> datetime:
    """When holds, bookings and cancellations of `flight` stop: SALES_CLOSE_MINUTES before departure."""
    return flight.departs_at - timedelta(minutes=current_app.config["SALES_CLOSE_MINUTES"])


def sales_closed(flight: Flight, now: datetime | None = None) -> str | None:
    """Why `flight` is past its cut-off; None while sales are open."""
    if (now or utcnow()) < sales_close_at(flight):
        return None
    return (f"Flight {flight.number} departs at {flight.departs_at.isoformat()}: "
            f"sales closed at {sales_close_at(flight).isoformat()}.")


def check_sales_open(flight: Flight, now: datetime | None = None) -> None:
    """Raise SalesClosed once `flight` is past its cut-off."""
    reason = sales_closed(flight, now)
    if reason is not None:
        raise SalesClosed(reason)


def find_flight(flight_id: int) -> Flight | None:
    if not 0 < flight_id <= MAX_FLIGHT_ID:
        return None
    return db.session.get(Flight, flight_id)


@dataclass(frozen=True)
class FlightListing:
    """A flight as the API shows it: the row plus how many of its seats are for sale."""

    id: int
    number: str
    origin: str
    destination: str
    departs_at: datetime
    arrives_at: datetime
    currency: str
    fares: dict[str, Decimal]
    seats_available: int

    @classmethod
    def of(cls, flight: Flight, seats_available: int) -> FlightListing:
        return cls(
            id=flight.id,
            number=flight.number,
            origin=flight.origin,
            destination=flight.destination,
            departs_at=flight.departs_at,
            arrives_at=flight.arrives_at,
            currency=flight.currency,
            fares=flight.fares,
            seats_available=seats_available,
        )


def listings(flights: Sequence[Flight]) -> list[FlightListing]:
    available = seats_available([flight.id for flight in flights])
    return [FlightListing.of(flight, available.get(flight.id, 0)) for flight in flights]


def search_flights(
    *,
    origin: str | None = None,
    destination: str | None = None,
    on: date | None = None,
    page: int = 1,
    page_size: int = 20,
    include_departed: bool = False,
) -> tuple[list[FlightListing], int]:
    """One page of the flights that match, by departure time, and how many match in all.

    Flights that have departed are left out unless `include_departed`; those still to depart but
    past their sales cut-off are listed (a traveller may look for one), and refuse holds.
    """
    query = select(Flight)
    if not include_departed:
        query = query.where(Flight.departs_at > utcnow())
    if origin:
        query = query.where(Flight.origin == origin)
    if destination:
        query = query.where(Flight.destination == destination)
    if on:
        start = datetime.combine(on, time(), tzinfo=UTC)
        query = query.where(Flight.departs_at >= start, Flight.departs_at < start + timedelta(days=1))
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    flights = db.session.scalars(
        query.order_by(Flight.departs_at, Flight.id).limit(page_size).offset((page - 1) * page_size)
    ).all()
    return listings(flights), total


def _taken():
    """A seat no one can have: blocked, or on an active ticket."""
    booked = exists().where(
        TicketSeat.active_clause(),
        TicketSeat.flight_id == Seat.flight_id,
        TicketSeat.seat_number == Seat.number,
    )
    return or_(Seat.blocked, booked)


def _held_seats(flight_ids: Collection[int]) -> dict[int, set[str]]:
    held: dict[int, set[str]] = defaultdict(set)
    rows = db.session.execute(
        select(Hold.flight_id, Hold.seats).where(Hold.flight_id.in_(flight_ids), Hold.active_clause())
    )
    for flight_id, numbers in rows:
        held[flight_id].update(numbers)
    return held


def seats_available(flight_ids: Collection[int]) -> dict[int, int]:
    """Seats of each flight that are neither blocked, booked nor held, in at most three queries."""
    if not flight_ids:
        return {}
    taken = _taken()
    counts = db.session.execute(
        select(Seat.flight_id, func.count(), func.sum(case((taken, 1), else_=0)))
        .where(Seat.flight_id.in_(flight_ids))
        .group_by(Seat.flight_id)
    )
    available = {flight_id: total - int(taken_count or 0) for flight_id, total, taken_count in counts}
    held = _held_seats(flight_ids)
    if held:
        # A held seat counts once, and not at all when it is also blocked or booked.
        is_held = or_(*(and_(Seat.flight_id == fid, Seat.number.in_(nums)) for fid, nums in held.items()))
        rows = db.session.execute(
            select(Seat.flight_id, func.count()).where(is_held, ~taken).group_by(Seat.flight_id)
        )
        for flight_id, count in rows:
            available[flight_id] -= count
    return available


@dataclass(frozen=True)
class SeatView:
    """A seat as the seat map shows it."""

    number: str
    row: int
    letter: str
    cabin: str
    status: SeatStatus
    price: Decimal
    held_by_you: bool = False


def seat_map(
    flight: Flight, viewer_id: int | None = None, *, numbers: Collection[str] | None = None
) -> list[SeatView]:
    """The seats of `flight` (all, or just `numbers`) in row order, in three queries."""
    seats = select(Seat.number, Seat.row, Seat.letter, Seat.cabin, Seat.blocked).where(
        Seat.flight_id == flight.id
    )
    if numbers is not None:
        seats = seats.where(Seat.number.in_(numbers))
    rows = db.session.execute(seats.order_by(Seat.row, Seat.letter)).all()
    booked = set(
        db.session.scalars(
            select(TicketSeat.seat_number).where(
                TicketSeat.flight_id == flight.id, TicketSeat.active_clause()
            )
        )
    )
    held: set[str] = set()
    mine: set[str] = set()
    holds = db.session.execute(
        select(Hold.user_id, Hold.seats).where(Hold.flight_id == flight.id, Hold.active_clause())
    )
    for user_id, hold_seats in holds:
        held.update(hold_seats)
        if viewer_id is not None and user_id == viewer_id:
            mine.update(hold_seats)

    fares = flight.fares
    views = []
    for number, row, letter, cabin, blocked in rows:
        if blocked:
            status = SeatStatus.BLOCKED
        elif number in booked:
            status = SeatStatus.BOOKED
        elif number in held:
            status = SeatStatus.HELD
        else:
            status = SeatStatus.AVAILABLE
        views.append(
            SeatView(
                number=number,
                row=row,
                letter=letter,
                cabin=cabin,
                status=status,
                price=fares[cabin],
                held_by_you=status == SeatStatus.HELD and number in mine,
            )
        )
    return views


def set_seat_blocked(flight: Flight, number: str, blocked: bool) -> SeatView | None:
    """Takes a seat out of sale or puts it back (the caller commits); None for an unknown seat.

    Blocking stops new sales only: a hold or ticket that already has the seat keeps it.
    """
    if not SEAT_NUMBER.fullmatch(number):
        return None
    seat = db.session.execute(
        select(Seat).where(Seat.flight_id == flight.id, Seat.number == number)
    ).scalar_one_or_none()
    if seat is None:
        return None
    seat.blocked = blocked
    db.session.flush()
    return seat_map(flight, numbers=[number])[0]
