"""Flights: search, details, seat maps (public), and creating flights (admin)."""

from __future__ import annotations

from flask_smorest import Blueprint

from app import catalog
from app.api import BEARER, OPTIONAL_BEARER, problem_responses
from app.api.schemas.flights import (
    FlightCreateSchema,
    FlightPageSchema,
    FlightQuerySchema,
    FlightSchema,
    SeatMapSchema,
)
from app.auth import admin_required, bearer_token, current_user, require_user
from app.errors import Refusal
from app.extensions import db
from app.models import Flight

blp = Blueprint("flights", __name__, url_prefix="/api/v1", description="Flights and seat maps.")


def flight_or_404(flight_id: int) -> Flight:
    flight = catalog.find_flight(flight_id)
    if flight is None:
        raise Refusal(404, f"There is no flight {flight_id}.")
    return flight


@blp.get("/flights")
@blp.arguments(FlightQuerySchema, location="query")
@blp.response(200, FlightPageSchema)
def list_flights(query: dict) -> dict:
    items, total = catalog.search_flights(
        origin=query.get("origin"),
        destination=query.get("destination"),
        on=query.get("date"),
        include_departed=query["include_departed"],
        page=query["page"],
        page_size=query["page_size"],
    )
    return {"items": items, "page": query["page"], "page_size": query["page_size"], "total": total}


@blp.post("/flights")
@admin_required
@blp.doc(security=BEARER)
@problem_responses(401, 403)
@blp.arguments(FlightCreateSchema)
@blp.response(201, FlightSchema)
def create_flight(data: dict) -> catalog.FlightListing:
    flight = catalog.create_flight(**data)
    db.session.commit()
    return catalog.listings([flight])[0]


@blp.get("/flights/<int:flight_id>")
@problem_responses(404)
@blp.response(200, FlightSchema)
def get_flight(flight_id: int) -> catalog.FlightListing:
    return catalog.listings([flight_or_404(flight_id)])[0]


@blp.get("/flights/<int:flight_id>/seats")
@blp.doc(security=OPTIONAL_BEARER)
@problem_responses(401, 404)
@blp.response(200, SeatMapSchema)
def seat_map(flight_id: int) -> dict:
    flight = flight_or_404(flight_id)
    viewer = current_user()
    if viewer is None and bearer_token() is not None:
        require_user()  # a token that was sent but is no good deserves a 401, not an anonymous map
    seats = catalog.seat_map(flight, viewer.id if viewer else None)
    return {"flight_id": flight.id, "seats": seats}
