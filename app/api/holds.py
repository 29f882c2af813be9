"""Seat holds over HTTP: take, read and give back a hold (API.md "Holds")."""

from __future__ import annotations

from uuid import UUID

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import RAISE, Schema, fields, validate

from app.api.limits import client_address
from app.api.schemas.common import printable
from app.auth import require_user
from app.catalog import find_flight
from app.errors import Refusal
from app.extensions import db
from app.holds import take_hold, withdraw_hold
from app.models import Hold, HoldStatus
from app.models.flight import seat_numbers

blp = Blueprint(
    "holds", __name__, url_prefix="/api/v1", description="Seats held for a few minutes before booking."
)

# No row has a larger id, and SQLite would overflow looking one up.
MAX_ID = 2**63 - 1


class HoldRequestSchema(Schema):
    class Meta:
        unknown = RAISE

    # Bounded here only to keep requests small and free of control characters (PostgreSQL rejects
    # a NUL); take_hold owns the rules (count, duplicates, map).
    seats = fields.List(
        fields.String(validate=[validate.Length(min=1, max=8), printable]),
        required=True,
        validate=validate.Length(max=len(seat_numbers())),
        metadata={"example": ["12A", "12B"]},
    )


class HoldSchema(Schema):
    id = fields.String(metadata={"format": "uuid"})
    flight_id = fields.Integer()
    seats = fields.List(fields.String())
    # `expired` as soon as expires_at passes, before any sweep.
    status = fields.String(attribute="public_status", validate=validate.OneOf(list(HoldStatus)))
    expires_at = fields.DateTime()
    # A decimal string on the wire, and documented as one (apispec would say "number").
    amount = fields.Decimal(places=2, as_string=True,
                            metadata={"type": "string", "format": "decimal", "example": "1350.00"})
    currency = fields.String()


@blp.before_request
def _authenticate() -> None:
    # Before the body is parsed: an anonymous caller learns nothing from validation errors.
    require_user()


@blp.route(f"/flights/<int(max={MAX_ID}):flight_id>/holds", methods=["POST"])
@blp.arguments(HoldRequestSchema)
@blp.response(201, HoldSchema)
@blp.alt_response(404, description="No such flight.")
@blp.alt_response(409, description="Some seats are held or booked (`seats` names them), or sales have "
                                   "closed (`sales-closed`).")
@blp.alt_response(422, description="Empty, too many, repeated, unknown or blocked seats.")
@blp.alt_response(429, description="Too many active holds or seats held (`hold-limit`, `scope` names the "
                                   "cap); see Retry-After.")
def create_hold(body: dict, flight_id: int) -> Hold:
    """Hold seats of a flight, all or none."""
    # find_flight knows the id column's range: PostgreSQL refuses to even compare a larger id.
    flight = find_flight(flight_id)
    if flight is None:
        raise Refusal(404, f"There is no flight {flight_id}.")
    return take_hold(require_user().id, flight, body["seats"], client_address=client_address())


@blp.route("/holds/<uuid:hold_id>")
class HoldResource(MethodView):
    @blp.response(200, HoldSchema)
    @blp.alt_response(404, description="No such hold, or not yours.")
    def get(self, hold_id: UUID) -> Hold:
        """A hold of yours (administrators see every hold)."""
        return _find_hold(hold_id, admin_sees_all=True)

    @blp.response(204)
    @blp.alt_response(404, description="No such hold, or not yours.")
    @blp.alt_response(409, description="A booking adopted or used this hold.")
    def delete(self, hold_id: UUID) -> None:
        """Give a hold back: its seats are free at once."""
        hold = _find_hold(hold_id, admin_sees_all=False)
        withdraw_hold(hold)


def _find_hold(hold_id: UUID, *, admin_sees_all: bool) -> Hold:
    user = require_user()
    hold = db.session.get(Hold, str(hold_id))
    # The same answer for "unknown" and "someone else's": ids are not to be probed.
    if hold is None or (hold.user_id != user.id and not (admin_sees_all and user.is_admin)):
        raise Refusal(404, "There is no such hold.")
    return hold

