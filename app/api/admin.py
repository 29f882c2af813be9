"""Admin endpoints: operating flights and sagas."""

from __future__ import annotations

from flask_smorest import Blueprint

from app import catalog
from app.api import BEARER, problem_responses
from app.api.flights import flight_or_404
from app.api.problems import Problem
from app.api.schemas.flights import SeatBlockSchema, SeatSchema
from app.auth import admin_required
from app.extensions import db

blp = Blueprint("admin", __name__, url_prefix="/api/v1", description="Operators only.")


@blp.put("/admin/flights/<int:flight_id>/seats/<number>")
@admin_required
@blp.doc(security=BEARER)
@problem_responses(401, 403, 404)
@blp.arguments(SeatBlockSchema)
@blp.response(200, SeatSchema)
def block_seat(data: dict, flight_id: int, number: str) -> catalog.SeatView:
    flight = flight_or_404(flight_id)
    seat = catalog.set_seat_blocked(flight, number, data["blocked"])
    if seat is None:
        raise Problem(404, f"Flight {flight.number} has no seat {number}.")
    db.session.commit()
    return seat
