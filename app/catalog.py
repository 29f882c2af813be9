"""Flights and seat maps: creating flights and reading what is for sale."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from app.extensions import db
from app.models import Flight, build_seats
from app.models.flight import DEFAULT_FARES, Cabin


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
