"""The UI's pages. Reads are rendered here; every change goes through the JSON API from the page's script."""

from __future__ import annotations

import uuid
from uuid import UUID

from flask import abort, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError

from app import bookings, catalog
from app.api.schemas.common import MAX_PAGE
from app.api.schemas.flights import FlightQuerySchema
from app.extensions import db
from app.models import Flight, Hold, SagaStatus
from app.models.flight import CABINS
from app.web import bp
from app.web.session import page_admin_required, page_login_required

SEARCH_FIELDS = ("origin", "destination", "date")
BOOKINGS_PER_PAGE = 20
# SPEC.md §6, shown on the checkout page for trying the saga's outcomes.
TEST_CARDS = (
    ("4242 4242 4242 4242", "Visa, approved"),
    ("5555 5555 5555 4444", "Mastercard, approved"),
    ("4000 0000 0000 0002", "Declined"),
    ("4000 0000 0000 9995", "Declined: insufficient funds"),
    ("4000 0000 0000 0119", "The payment service fails: retried, then undone"),
)

_flight_query = FlightQuerySchema()


@bp.get("/")
def search():
    """Flights by origin, destination and date, with fares per cabin and seats left."""
    form = {name: request.args.get(name, "").strip() for name in SEARCH_FIELDS}
    query = {name: value.upper() if name != "date" else value for name, value in form.items() if value}
    errors: dict[str, list[str]] = {}
    try:
        args = _flight_query.load({**query, "page_size": 50})
    except ValidationError as exc:
        errors = exc.normalized_messages()
        flights, total = [], 0
    else:
        flights, total = catalog.search_flights(
            origin=args.get("origin"), destination=args.get("destination"), on=args.get("date"),
            page_size=args["page_size"],
        )
    return render_template(
        "web/search.html", form=form, errors=errors, flights=flights, total=total,
        airports=_airports(), searched=bool(query),
    ), 422 if errors else 200


def _airports() -> list[str]:
    origins = db.session.scalars(db.select(Flight.origin).distinct())
    destinations = db.session.scalars(db.select(Flight.destination).distinct())
    return sorted(set(origins) | set(destinations))


def _flight_or_404(flight_id: int) -> Flight:
    flight = catalog.find_flight(flight_id)
    if flight is None:
        abort(404)
    return flight


@bp.get("/flights/<int:flight_id>/seats")
@page_login_required
def seats(flight_id: int):
    """The seat map; its script takes and gives back holds as seats are clicked."""
    flight = _flight_or_404(flight_id)
    return render_template(
        "web/seats.html", flight=flight, cabins=CABINS,
        max_seats=current_app.config["MAX_SEATS_PER_HOLD"],
    )


@bp.get("/checkout/<uuid:hold_id>")
@page_login_required
def checkout(hold_id: UUID):
    """Passengers and card for a hold of yours; the script posts the booking."""
    hold = db.session.get(Hold, str(hold_id))
    if hold is None or hold.user_id != current_user.id:
        abort(404)
    if hold.saga_id is not None:
        # A booking adopted this hold already (a second tab, a reload): show that booking.
        return redirect(url_for("web.booking", saga_id=hold.saga_id))
    flight = db.session.get(Flight, hold.flight_id)
    seats = catalog.seat_map(flight, current_user.id, numbers=hold.seats)
    return render_template(
        "web/checkout.html",
        hold=hold,
        flight=flight,
        seats=seats,
        miles=catalog.quote(flight, hold.seats).miles,
        active=hold.is_active(),
        # One key per page load: a double submit or a retry after a lost answer is the same booking.
        idempotency_key=str(uuid.uuid4()),
        test_cards=TEST_CARDS,
    )


@bp.get("/bookings")
@page_login_required
def my_bookings():
    # Bounded like the API's ?page=: a huge page would overflow the SQL offset (a 500).
    page = min(max(1, request.args.get("page", 1, type=int) or 1), MAX_PAGE)
    items, total = bookings.list_bookings(current_user, page, BOOKINGS_PER_PAGE)
    return render_template(
        "web/bookings.html", items=items, flights=_flights_of(items), page=page,
        has_more=page * BOOKINGS_PER_PAGE < total, total=total, confirmed=SagaStatus.CONFIRMED,
    )


@bp.get("/bookings/<uuid:saga_id>")
@page_login_required
def booking(saga_id: UUID):
    """One booking; its script follows the saga step by step."""
    # A UUID in the route: any other id is a 404 before it reaches SQL (PostgreSQL rejects a NUL).
    saga = bookings.find_booking(current_user, str(saga_id))
    if saga is None:
        abort(404)
    return render_template("web/booking.html", saga=saga, flight=db.session.get(Flight, saga.flight_id))


@bp.get("/admin/sagas")
@page_admin_required
def admin_sagas():
    status = request.args.get("status", SagaStatus.NEEDS_ATTENTION)
    if status and status not in set(SagaStatus):
        status = ""
    return render_template(
        "web/admin_sagas.html", statuses=list(SagaStatus), status=status,
        # Where Flower shows one task: the page's script appends the task id.
        flower_task_url=current_app.config["FLOWER_URL"].rstrip("/") + "/task/",
    )


def _flights_of(items) -> dict[int, Flight]:
    ids = {saga.flight_id for saga in items}
    if not ids:
        return {}
    return {flight.id: flight for flight in db.session.scalars(db.select(Flight).where(Flight.id.in_(ids)))}
