"""Admin endpoints: operating flights and sagas."""

from __future__ import annotations

from uuid import UUID

from flask_smorest import Blueprint

from app import bookings, catalog, recovery, saga_log
from app.api import BEARER, problem_responses
from app.api.flights import flight_or_404
from app.api.schemas.bookings import AdminBookingPageSchema, AdminBookingSchema, SagaQuerySchema
from app.api.schemas.flights import SeatBlockSchema, SeatSchema
from app.auth import admin_required, require_user
from app.errors import Refusal
from app.extensions import db
from app.models import Saga
from app.tasks.chains import dispatch

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
        raise Refusal(404, f"Flight {flight.number} has no seat {number}.")
    db.session.commit()
    return seat


@blp.get("/admin/sagas")
@admin_required
@blp.doc(security=BEARER)
@problem_responses(401, 403, 422)
@blp.arguments(SagaQuerySchema, location="query")
@blp.response(200, AdminBookingPageSchema)
def list_sagas(query: dict) -> dict:
    """Every saga, newest first, optionally of one status, with the raw failure detail."""
    items, total = bookings.list_bookings(require_user(), query["page"], query["page_size"],
                                          status=query.get("status"), everyone=True)
    return {"items": items, "page": query["page"], "page_size": query["page_size"], "total": total}


@blp.post("/admin/sagas/<uuid:saga_id>/retry")
@admin_required
@blp.doc(security=BEARER)
@problem_responses(401, 403, 404, 409)
@blp.response(202, AdminBookingSchema)
def retry_saga(saga_id: UUID) -> Saga:
    """Re-drive a saga: pay a needs_attention saga's debts now, or push a stuck one on."""
    # A UUID in the route: any other id is a 404 before it reaches SQL (PostgreSQL rejects a NUL).
    saga = saga_log.load(str(saga_id))
    if saga is None:
        raise Refusal(404, "No such saga.")
    try:
        redrive = recovery.retry_now(saga.id)
    except recovery.NotStalled as exc:
        raise Refusal(409, str(exc), type="not-stalled") from exc
    if redrive is None:
        raise Refusal(409, f"Nothing to retry: the saga is {saga.status} with no open debt.",
                      type="nothing-to-retry")
    dispatch(redrive)
    return saga_log.load(saga.id)
