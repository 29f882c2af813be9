"""Flights, their fares and seat maps."""

from __future__ import annotations

from decimal import Decimal

from marshmallow import Schema, ValidationError, fields, post_dump, validates_schema

from app.api.schemas.common import DecimalString, FullMatch, PageArgsSchema, PageSchema, StrictBoolean
from app.catalog import SeatStatus
from app.models import Cabin

MAX_FARE = Decimal("1000000.00")


def airport(**kwargs) -> fields.String:
    return fields.String(
        validate=FullMatch(r"^[A-Z]{3}$", error="Must be a 3-letter IATA code in capitals."),
        metadata={"example": "LHR"},
        **kwargs,
    )


def _fare(value: Decimal) -> None:
    if not Decimal(0) < value <= MAX_FARE:
        raise ValidationError(f"Must be more than 0 and at most {MAX_FARE}.")


class FaresSchema(Schema):
    """A fare per seat for each cabin, as decimal strings in the flight's currency."""

    first = DecimalString(validate=_fare)
    business = DecimalString(validate=_fare)
    economy = DecimalString(validate=_fare)


class FlightQuerySchema(PageArgsSchema):
    origin = airport()
    destination = airport()
    date = fields.Date(metadata={"description": "Departure date (UTC), YYYY-MM-DD."})
    # "true" or "false" only: a query string has no JSON booleans, and "1" or "yes" are guesses.
    include_departed = fields.Boolean(
        load_default=False, truthy={"true"}, falsy={"false"},
        metadata={"description": "Also list flights that have departed (left out by default)."})


class FlightCreateSchema(Schema):
    number = fields.String(
        required=True,
        validate=FullMatch(r"^[A-Z0-9]{2,10}$", error="Must be 2-10 capital letters or digits."),
        metadata={"example": "SA101"},
    )
    origin = airport(required=True)
    destination = airport(required=True)
    departs_at = fields.AwareDateTime(required=True)
    arrives_at = fields.AwareDateTime(required=True)
    fares = fields.Nested(FaresSchema, metadata={"description": "Missing cabins get the default fare."})
    currency = fields.String(
        load_default="USD", validate=FullMatch(r"^[A-Z]{3}$", error="Must be an ISO 4217 code.")
    )

    @validates_schema
    def _check_route_and_times(self, data, **kwargs) -> None:
        errors = {}
        if "origin" in data and data.get("destination") == data["origin"]:
            errors["destination"] = ["Must differ from the origin."]
        if "departs_at" in data and "arrives_at" in data and data["arrives_at"] <= data["departs_at"]:
            errors["arrives_at"] = ["Must be after departs_at."]
        if errors:
            raise ValidationError(errors)


class FlightSchema(Schema):
    id = fields.Integer()
    number = fields.String()
    origin = fields.String()
    destination = fields.String()
    departs_at = fields.DateTime()
    arrives_at = fields.DateTime()
    currency = fields.String()
    fares = fields.Nested(FaresSchema)
    seats_available = fields.Integer(metadata={"description": "Seats neither blocked, booked nor held."})


class FlightPageSchema(PageSchema):
    items = fields.List(fields.Nested(FlightSchema), required=True)


class SeatSchema(Schema):
    number = fields.String(metadata={"example": "12A"})
    row = fields.Integer()
    letter = fields.String()
    cabin = fields.String(metadata={"enum": [cabin.value for cabin in Cabin]})
    status = fields.String(metadata={"enum": [status.value for status in SeatStatus]})
    price = DecimalString()
    held_by_you = fields.Boolean(metadata={"description": "Present, and true, on seats the caller holds."})

    @post_dump
    def _only_when_held_by_you(self, data, **kwargs):
        if not data.get("held_by_you"):
            data.pop("held_by_you", None)
        return data


class SeatMapSchema(Schema):
    flight_id = fields.Integer()
    seats = fields.List(fields.Nested(SeatSchema))


class SeatBlockSchema(Schema):
    blocked = StrictBoolean(required=True)
