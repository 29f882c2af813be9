"""Flights and seat maps: creating flights and reading what is for sale."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from app.extensions import db
from app.models import Flight, Seat, build_seats
from app.models.flight import DEFAULT_FARES, MILES_MULTIPLIER, Cabin


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


def quote(flight: Flight, seat_numbers: list[str]) -> Quote:
    """Price and miles of `seat_numbers` on `flight` (SPEC §2); unknown seats raise KeyError."""
    cabins = dict(
        db.session.execute(
            db.select(Seat.number, Seat.cabin).where(
                Seat.flight_id == flight.id, Seat.number.in_(seat_numbers)
            )
        ).all()
    )
    unknown = [number for number in seat_numbers if number not in cabins]
    if unknown:
        raise KeyError(unknown)
    amount = sum((flight.fare(cabins[n]) for n in seat_numbers), Decimal("0.00"))
    miles = sum(int(flight.fare(cabins[n])) * MILES_MULTIPLIER[Cabin(cabins[n])] for n in seat_numbers)
    return Quote(amount=amount, currency=flight.currency, miles=miles)
