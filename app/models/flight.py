"""Flights and their 162-seat maps."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import db
from app.models.types import Money, UTCDateTime


class Cabin(StrEnum):
    FIRST = "first"
    BUSINESS = "business"
    ECONOMY = "economy"


# (cabin, first row, last row, default fare, miles multiplier), SPEC.md §2.
CABINS = (
    (Cabin.FIRST, 1, 2, Decimal("1200.00"), 3),
    (Cabin.BUSINESS, 3, 5, Decimal("600.00"), 2),
    (Cabin.ECONOMY, 6, 27, Decimal("150.00"), 1),
)
LETTERS = "ABCDEF"
ROWS = 27
DEFAULT_FARES = {cabin: fare for cabin, _, _, fare, _ in CABINS}
MILES_MULTIPLIER = {cabin: multiplier for cabin, _, _, _, multiplier in CABINS}


def cabin_of_row(row: int) -> Cabin:
    for cabin, first, last, _, _ in CABINS:
        if first <= row <= last:
            return cabin
    raise ValueError(f"row {row} is not on the seat map")


def seat_numbers() -> list[str]:
    """All 162 seat numbers in row order: 1A … 27F."""
    return [f"{row}{letter}" for row in range(1, ROWS + 1) for letter in LETTERS]


class Flight(db.Model):
    __tablename__ = "flights"
    __table_args__ = (Index("ix_flights_route_departure", "origin", "destination", "departs_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(10))
    origin: Mapped[str] = mapped_column(String(3))
    destination: Mapped[str] = mapped_column(String(3))
    departs_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    arrives_at: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    fare_first: Mapped[Decimal] = mapped_column(Money)
    fare_business: Mapped[Decimal] = mapped_column(Money)
    fare_economy: Mapped[Decimal] = mapped_column(Money)

    seats: Mapped[list[Seat]] = relationship(
        back_populates="flight", order_by="Seat.id", cascade="all, delete-orphan"
    )

    @property
    def fares(self) -> dict[str, Decimal]:
        return {
            Cabin.FIRST: self.fare_first,
            Cabin.BUSINESS: self.fare_business,
            Cabin.ECONOMY: self.fare_economy,
        }

    def fare(self, cabin: str) -> Decimal:
        return self.fares[Cabin(cabin)]


class Seat(db.Model):
    __tablename__ = "seats"
    __table_args__ = (UniqueConstraint("flight_id", "number", name="uq_seats_flight_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    flight_id: Mapped[int] = mapped_column(ForeignKey("flights.id"))
    number: Mapped[str] = mapped_column(String(3))
    row: Mapped[int] = mapped_column(Integer)
    letter: Mapped[str] = mapped_column(String(1))
    cabin: Mapped[str] = mapped_column(String(10))
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)

    flight: Mapped[Flight] = relationship(back_populates="seats")


def build_seats() -> list[Seat]:
    """The 162 seats every flight is created with."""
    return [
        Seat(number=f"{row}{letter}", row=row, letter=letter, cabin=cabin_of_row(row).value)
        for row in range(1, ROWS + 1)
        for letter in LETTERS
    ]
