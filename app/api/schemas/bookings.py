"""Shapes of the bookings API: the booking request and the Booking status resource."""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app import definitions
from app.api.schemas.common import FullMatch, PageArgsSchema, PageSchema, text
from app.config import MAX_SEATS_PER_HOLD
from app.models import Saga, SagaStatus
from app.public_errors import public_message

SEAT_NUMBER = FullMatch(r"^([1-9]|1[0-9]|2[0-7])[A-F]$", error="Must be a seat number, 1A to 27F.")


class CardSchema(Schema):
    card_number = fields.String(required=True, validate=[
        validate.Length(12, 23), FullMatch(r"^[0-9 ]+$", error="Must be digits.")])
    exp_month = fields.Integer(required=True, validate=validate.Range(1, 12))
    exp_year = fields.Integer(required=True, validate=validate.Range(2000, 2100))
    cvc = fields.String(required=True, validate=FullMatch(r"^[0-9]{3,4}$", error="Must be 3 or 4 digits."))


class PassengerSchema(Schema):
    name = text(100)


class BookingRequestSchema(Schema):
    flight_id = fields.Integer(validate=validate.Range(1, 2**31 - 1))
    seats = fields.List(fields.String(validate=SEAT_NUMBER), validate=validate.Length(1, MAX_SEATS_PER_HOLD))
    hold_id = fields.UUID()
    passengers = fields.List(fields.Nested(PassengerSchema),
                             validate=validate.Length(1, MAX_SEATS_PER_HOLD))
    payment = fields.Nested(CardSchema, required=True)

    @validates_schema
    def one_way_to_name_seats(self, data: dict, **kwargs: object) -> None:
        if "hold_id" in data:
            if "flight_id" in data or "seats" in data:
                raise ValidationError("Give hold_id, or flight_id and seats, not both.", "hold_id")
            return
        missing = {name: ["Required without hold_id."] for name in ("flight_id", "seats") if name not in data}
        if missing:
            raise ValidationError(missing)
        if len(set(data["seats"])) != len(data["seats"]):
            raise ValidationError("A seat is listed twice.", "seats")
        if "passengers" in data and len(data["passengers"]) != len(data["seats"]):
            raise ValidationError("Give one passenger per seat.", "passengers")


class TicketSchema(Schema):
    reference = fields.String(metadata={"example": "K7Q2ZP"})
    seats = fields.Method("ticket_seats", metadata={"type": "array", "items": {"type": "string"}})
    issued_at = fields.DateTime()
    status = fields.String(metadata={"enum": ["active", "cancelled"]})

    def ticket_seats(self, ticket) -> list[str]:
        return [seat.seat_number for seat in ticket.seats]


class StepErrorSchema(Schema):
    code = fields.String()
    message = fields.String()


class StepSchema(Schema):
    name = fields.String(metadata={"example": "authorize_payment"})
    kind = fields.String(metadata={"enum": ["action", "compensation"]})
    # API.md's words: StepStatus, and "skipped", which the contract keeps though no step is skipped.
    status = fields.String(
        metadata={"enum": ["pending", "running", "succeeded", "failed", "skipped", "debt"]})
    attempts = fields.Integer()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    error = fields.Method("step_error", allow_none=True, metadata={"type": "object", "nullable": True})
    task_id = fields.String(allow_none=True)
    # From the saga's own definition: the step in a traveller's words, and whether it follows the
    # pivot (a follow-up: it retries forward after the booking is confirmed).
    label = fields.Method("step_label", metadata={"example": "Authorize the payment"})
    follow_up = fields.Method("step_follows_up", metadata={"type": "boolean"})

    # Travellers read words for the code; AdminStepSchema shows operators the raw message.
    raw_messages = False

    def step_label(self, step) -> str:
        return definitions.label_of(step.saga.definition_version, step.name)

    def step_follows_up(self, step) -> bool:
        definition = definitions.registered().get(step.saga.definition_version)
        return definition is not None and step.name in definition.follow_ups

    def step_error(self, step) -> dict | None:
        if not step.error_code:
            return None
        message = step.error_message if self.raw_messages else public_message(step.error_code)
        return {"code": step.error_code, "message": message}


class FailureSchema(Schema):
    step = fields.String()
    reason = fields.String()
    detail = fields.String(allow_none=True)


class BookingSchema(Schema):
    id = fields.String()
    status = fields.String(metadata={"enum": [status.value for status in SagaStatus]})
    flight_id = fields.Integer()
    seats = fields.List(fields.String())
    passengers = fields.List(fields.Nested(PassengerSchema))
    amount = fields.Decimal(as_string=True, places=2, metadata={"type": "string", "example": "300.00"})
    currency = fields.String()
    miles = fields.Integer()
    hold_id = fields.String(allow_none=True)
    ticket = fields.Nested(TicketSchema, allow_none=True)
    failure = fields.Method("failure_of", allow_none=True,
                            metadata={"type": "object", "nullable": True})
    payment = fields.Method("payment_of", metadata={"type": "object"})
    steps = fields.List(fields.Nested(StepSchema))
    # The version of the saga definition it runs under (app/saga.py): its steps are that version's.
    definition_version = fields.Integer(metadata={"example": 2})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    raw_messages = False  # as StepSchema's

    def failure_of(self, saga: Saga) -> dict | None:
        if not saga.failure_reason:
            return None
        detail = saga.failure_detail if self.raw_messages else public_message(saga.failure_reason)
        return {"step": saga.failure_step, "reason": saga.failure_reason, "detail": detail}

    def payment_of(self, saga: Saga) -> dict:
        return {"brand": saga.card_brand, "last4": saga.card_last4}


class BookingPageSchema(PageSchema):
    items = fields.List(fields.Nested(BookingSchema), required=True)


class AdminStepSchema(StepSchema):
    """A step as operators see it: the raw error message (hosts, exceptions) as the saga log has it."""

    raw_messages = True


class AdminBookingSchema(BookingSchema):
    """A Booking as the admin endpoints show it: raw failure detail and step errors."""

    raw_messages = True
    steps = fields.List(fields.Nested(AdminStepSchema))


class AdminBookingPageSchema(PageSchema):
    items = fields.List(fields.Nested(AdminBookingSchema), required=True)


class SagaQuerySchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf([status.value for status in SagaStatus]))
