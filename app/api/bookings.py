"""Bookings: start a saga (202 + Location), poll its status, list, cancel."""

from __future__ import annotations

import logging

from flask import Response, request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from app import bookings, saga_log
from app.api.pagination import PageArgs, page_body
from app.api.problems import Problem
from app.auth import require_user
from app.errors import InvalidCard, TransientError
from app.models import TERMINAL, Saga
from app.tasks import saga as saga_tasks

log = logging.getLogger("saga")
blp = Blueprint("bookings", __name__, url_prefix="/api/v1", description="Bookings: the saga")

SEAT_NUMBER = validate.Regexp(r"^([1-9]|1[0-9]|2[0-7])[A-F]$", error="not a seat number (1A to 27F)")


class CardSchema(Schema):
    card_number = fields.String(required=True, validate=[
        validate.Length(12, 23), validate.Regexp(r"^[0-9 ]+$", error="digits only")])
    exp_month = fields.Integer(required=True, validate=validate.Range(1, 12))
    exp_year = fields.Integer(required=True, validate=validate.Range(2000, 2100))
    cvc = fields.String(required=True, validate=validate.Regexp(r"^[0-9]{3,4}$", error="3 or 4 digits"))


class PassengerSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 100))


class BookingRequestSchema(Schema):
    flight_id = fields.Integer(validate=validate.Range(1))
    seats = fields.List(fields.String(validate=SEAT_NUMBER), validate=validate.Length(1, 9))
    hold_id = fields.UUID()
    passengers = fields.List(fields.Nested(PassengerSchema), validate=validate.Length(1, 9))
    payment = fields.Nested(CardSchema, required=True)

    @validates_schema
    def one_way_to_name_seats(self, data: dict, **kwargs: object) -> None:
        if "hold_id" in data:
            if "flight_id" in data or "seats" in data:
                raise ValidationError("give hold_id, or flight_id and seats, not both", "hold_id")
            return
        missing = {name: ["required without hold_id"] for name in ("flight_id", "seats") if name not in data}
        if missing:
            raise ValidationError(missing)
        if len(set(data["seats"])) != len(data["seats"]):
            raise ValidationError("a seat is listed twice", "seats")
        if "passengers" in data and len(data["passengers"]) != len(data["seats"]):
            raise ValidationError("one passenger per seat", "passengers")


class TicketSchema(Schema):
    reference = fields.String()
    seats = fields.Method("ticket_seats")
    issued_at = fields.DateTime()
    status = fields.String()

    def ticket_seats(self, ticket) -> list[str]:
        return [seat.seat_number for seat in ticket.seats]


class StepSchema(Schema):
    name = fields.String()
    kind = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    error = fields.Method("step_error", allow_none=True)
    task_id = fields.String(allow_none=True)

    def step_error(self, step) -> dict | None:
        if not step.error_code:
            return None
        return {"code": step.error_code, "message": step.error_message}


class BookingSchema(Schema):
    id = fields.String()
    status = fields.String()
    flight_id = fields.Integer()
    seats = fields.List(fields.String())
    passengers = fields.List(fields.Nested(PassengerSchema))
    amount = fields.Decimal(as_string=True, places=2)
    currency = fields.String()
    miles = fields.Integer()
    hold_id = fields.String(allow_none=True)
    ticket = fields.Nested(TicketSchema, allow_none=True)
    failure = fields.Method("failure_of", allow_none=True)
    payment = fields.Method("payment_of")
    steps = fields.List(fields.Nested(StepSchema))
    created_at = fields.DateTime()
    updated_at = fields.DateTime()

    def failure_of(self, saga: Saga) -> dict | None:
        if not saga.failure_reason:
            return None
        return {"step": saga.failure_step, "reason": saga.failure_reason, "detail": saga.failure_detail}

    def payment_of(self, saga: Saga) -> dict:
        return {"brand": saga.card_brand, "last4": saga.card_last4}


class BookingListSchema(Schema):
    items = fields.List(fields.Nested(BookingSchema))
    page = fields.Integer()
    page_size = fields.Integer()
    total = fields.Integer()


def _idempotency_key() -> str | None:
    value = request.headers.get("Idempotency-Key")
    if value is not None and not 1 <= len(value) <= 255:
        raise Problem(400, "Idempotency-Key must be 1 to 255 characters.")
    return value


def etag(saga: Saga) -> str:
    return f"{saga.id}.{saga.version}"


def booking_response(saga: Saga, status: int = 200):
    headers = {"ETag": f'"{etag(saga)}"'}
    if saga.status not in TERMINAL:
        headers["Retry-After"] = "1"
    return saga, status, headers


@blp.route("/bookings")
class Bookings(MethodView):
    @blp.arguments(BookingRequestSchema)
    @blp.response(202, BookingSchema)
    @blp.alt_response(200, schema=BookingSchema, description="A replay of an earlier request")
    def post(self, body: dict):
        """Start a booking saga; poll the Location for its outcome."""
        user = require_user()
        key = _idempotency_key()
        try:
            started = bookings.start_booking(user, body, key)
        except bookings.BookingRefused as refused:
            raise Problem(refused.status, refused.detail, type=refused.kind, **refused.extra) from refused
        except InvalidCard as exc:
            raise Problem(422, "The card was refused as invalid: check the number and expiry.",
                          type="invalid-card", errors={"payment": [exc.detail]}) from exc
        except TransientError as exc:
            raise Problem(503, "The payment service is unavailable; try again shortly.",
                          type="payment-unavailable", headers={"Retry-After": "5"}) from exc
        saga = started.saga
        if not started.replayed:
            _enqueue(saga.id)
        body, _, headers = booking_response(saga)
        headers["Location"] = url_for("bookings.Booking", saga_id=saga.id)
        return body, 200 if started.replayed else 202, headers

    @blp.arguments(PageArgs, location="query")
    @blp.response(200, BookingListSchema)
    def get(self, args: dict):
        """The caller's bookings, newest first."""
        items, total = bookings.list_bookings(require_user(), args["page"], args["page_size"])
        return page_body(items, total, args)


def _enqueue(saga_id: str) -> None:
    try:
        saga_tasks.start(saga_id)
    except Exception:  # the broker is down: the saga stays pending and the reconciler enqueues it
        log.exception("saga %s: enqueue failed, left for the reconciler", saga_id,
                               extra={"saga_id": saga_id})


@blp.route("/bookings/<saga_id>")
class Booking(MethodView):
    @blp.response(200, BookingSchema)
    @blp.alt_response(304, description="Not modified since the ETag given in If-None-Match")
    def get(self, saga_id: str):
        """A booking and its saga log; carries Retry-After while it is still running."""
        saga = _own_booking(saga_id)
        body, status, headers = booking_response(saga)
        if request.if_none_match.contains_weak(etag(saga)):
            return Response(status=304, headers=headers)
        return body, status, headers


@blp.route("/bookings/<saga_id>/cancel")
class CancelBooking(MethodView):
    @blp.response(202, BookingSchema)
    def post(self, saga_id: str):
        """Cancel a confirmed booking: seats freed, payment refunded, miles reversed."""
        saga = _own_booking(saga_id)
        if not saga_tasks.cancel(saga.id):
            raise Problem(409, f"Only a confirmed booking can be cancelled; this one is {saga.status}.",
                          type="not-cancellable")
        return booking_response(saga_log.load(saga.id), 202)


def _own_booking(saga_id: str) -> Saga:
    saga = bookings.find_booking(require_user(), saga_id)
    if saga is None:
        raise Problem(404, "No such booking.")
    return saga
