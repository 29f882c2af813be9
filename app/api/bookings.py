"""Bookings: start a saga (202 + Location), poll its status, list, cancel."""

from __future__ import annotations

import logging
import time
from uuid import UUID

from flask import Response, request, url_for
from flask_smorest import Blueprint

from app import bookings, saga_log, status_watch
from app.api import BEARER, problem_responses
from app.api.limits import client_address
from app.api.schemas.bookings import BookingPageSchema, BookingRequestSchema, BookingSchema
from app.api.schemas.common import PageArgsSchema
from app.auth import require_user
from app.errors import Refusal
from app.extensions import end_read
from app.models import TERMINAL, Saga, SagaStatus
from app.tasks import chains

log = logging.getLogger("saga")
blp = Blueprint("bookings", __name__, url_prefix="/api/v1", description="Bookings: the saga.")


@blp.before_request
def _authenticate() -> None:
    # Before the body is parsed, as for holds: an anonymous caller gets 401, not validation errors.
    require_user()


def etag(booking: Saga | bookings.BookingState) -> str:
    return f"{booking.id}.{booking.version}"


def booking_headers(booking: Saga | bookings.BookingState) -> dict:
    """Its ETag, and Retry-After while the saga is still running."""
    headers = {"ETag": f'"{etag(booking)}"'}
    # Also while a confirmed booking's follow-ups (e-mailing the itinerary) are still running.
    if booking.status not in TERMINAL or (booking.status == SagaStatus.CONFIRMED
                                          and booking.completed_at is None):
        headers["Retry-After"] = "1"
    return headers


def booking_response(saga: Saga, status: int = 200) -> tuple[Saga, int, dict]:
    return saga, status, booking_headers(saga)


def _idempotency_key() -> str | None:
    value = request.headers.get("Idempotency-Key")
    # Printable only: PostgreSQL cannot even compare text holding a NUL.
    if value is not None and not (1 <= len(value) <= 255 and value.isprintable()):
        raise Refusal(400, "Idempotency-Key must be 1 to 255 printable characters.",
                      type="bad-idempotency-key")
    return value


@blp.post("/bookings")
@blp.doc(security=BEARER)
@problem_responses(400, 401, 404, 409, 422, 429, 503)
@blp.arguments(BookingRequestSchema)
@blp.response(202, BookingSchema, headers={"Location": {"schema": {"type": "string"}}})
@blp.alt_response(200, schema=BookingSchema, description="A replay of an earlier request with this key")
def create_booking(body: dict):
    """Start a booking saga; poll the Location for its outcome."""
    user = require_user()
    key = _idempotency_key()
    started = bookings.start_booking(user, body, key, client_address())
    saga = started.saga
    if not started.replayed:
        _enqueue(saga.id, saga.fence, saga.definition_version)
    _, _, headers = booking_response(saga)
    headers["Location"] = url_for("bookings.get_booking", saga_id=saga.id)
    return saga, 200 if started.replayed else 202, headers


def _enqueue(saga_id: str, fence: int, version: int) -> None:
    try:
        chains.start(saga_id, fence, version)
    except Exception:  # the broker is down: the saga stays pending and the reconciler enqueues it
        log.exception("saga %s: enqueue failed, left for the reconciler", saga_id, extra={"saga_id": saga_id})
        # Nothing runs it, so nothing needs its grace: the first reconciler run after the broker
        # comes back starts it.
        bookings.lapse_lease(saga_id)


@blp.get("/bookings")
@blp.doc(security=BEARER)
@problem_responses(401, 422)
@blp.arguments(PageArgsSchema, location="query")
@blp.response(200, BookingPageSchema)
def list_bookings(query: dict) -> dict:
    """The caller's bookings, newest first."""
    items, total = bookings.list_bookings(require_user(), query["page"], query["page_size"])
    return {"items": items, "page": query["page"], "page_size": query["page_size"], "total": total}


@blp.get("/bookings/<uuid:saga_id>")
@blp.doc(security=BEARER)
@problem_responses(401, 404)
@blp.response(200, BookingSchema)
@blp.alt_response(304, description="Not modified since the ETag given in If-None-Match")
def get_booking(saga_id: UUID):
    """A booking and its saga log; carries Retry-After while it is still running.

    With `Prefer: wait=N` (RFC 7240) and an If-None-Match naming the booking, the answer waits
    for at most N seconds (capped at 20): while the booking is pending or running, until its
    outcome (or its compensation) is known, whichever version the ETag named; after that, while it
    is as the ETag names it, until its status changes. A client learns the outcome as soon as it
    is known, with one request instead of a poll a second.
    """
    wait = _preferred_wait()
    applied = {} if wait is None else {"Preference-Applied": f"wait={wait}"}
    saga = None
    if request.if_none_match:
        # A client that has the booking asks whether it changed: one row of four columns answers
        # that, and a 304 needs nothing more.
        state, saga = _state_after(saga_id, wait)
        if request.if_none_match.contains_weak(etag(state)):
            return Response(status=304, headers={**booking_headers(state), **applied})
    if saga is None:
        saga = _own_booking(saga_id, admin_sees_all=True)
    return saga, 200, {**booking_headers(saga), **applied}


def _state_after(saga_id: UUID, wait: int | None) -> tuple[bookings.BookingState, Saga | None]:
    """The booking's state now, or once the long poll is over: for up to `wait` seconds while
    _keeps_waiting() says so; and the booking itself, if the poll last read it whole."""
    if wait is None:
        return _own_state(saga_id), None
    deadline = time.monotonic() + wait
    saga = None
    # Watching before the read: a change between the read and the wait still wakes it.
    with status_watch.watcher().watching(str(saga_id)) as changed:
        state = _own_state(saga_id)
        while _keeps_waiting(state) and (left := deadline - time.monotonic()) > 0:
            end_read()  # no connection or snapshot is held while waiting; the caller stays loaded
            woken = changed.wait(left)
            changed.clear()
            if woken:  # the status changed: the answer is nearly always the booking, read it whole
                saga = _own_booking(saga_id, admin_sees_all=True)
                state = bookings.BookingState.of(saga)
            else:
                saga, state = None, _own_state(saga_id)
    return state, saga


def _keeps_waiting(state: bookings.BookingState) -> bool:
    """Pending or running, whichever version of it the If-None-Match names: the client waits for
    the outcome (or the compensation), not for the first step to start. Later, while the booking
    is as the If-None-Match names it and not yet terminal: the client waits for the next change."""
    if state.status in status_watch.IN_PROGRESS:
        tags = request.if_none_match
        return tags.star_tag or any(tag.startswith(f"{state.id}.") for tag in tags.as_set(include_weak=True))
    return state.status not in TERMINAL and request.if_none_match.contains_weak(etag(state))


MAX_WAIT_SECONDS = 20


def _preferred_wait() -> int | None:
    """The `wait` preference of the request's Prefer headers, capped; None when there is none."""
    for header in request.headers.getlist("Prefer"):
        for preference in header.split(","):
            name, _, value = preference.strip().partition("=")
            if name.strip().lower() == "wait" and value.strip().isdigit():
                return min(int(value.strip()), MAX_WAIT_SECONDS)
    return None


@blp.post("/bookings/<uuid:saga_id>/cancel")
@blp.doc(security=BEARER)
@problem_responses(401, 404, 409)
@blp.response(202, BookingSchema)
def cancel_booking(saga_id: UUID):
    """Cancel a confirmed booking of yours: seats freed, payment refunded, miles reversed."""
    saga = _own_booking(saga_id, admin_sees_all=False)
    bookings.check_cancellable(saga)
    if not chains.cancel(saga.id):
        raise Refusal(409, f"Only a confirmed booking can be cancelled; this one is {saga.status}.",
                      type="not-cancellable")
    return booking_response(saga_log.load(saga.id), 202)


def _own_state(saga_id: UUID) -> bookings.BookingState:
    state = bookings.booking_state(require_user(), str(saga_id))
    if state is None:
        raise Refusal(404, "No such booking.")
    return state


def _own_booking(saga_id: UUID, *, admin_sees_all: bool) -> Saga:
    """The caller's booking; administrators see every booking but change only their own (as holds)."""
    user = require_user()
    saga = bookings.find_booking(user, str(saga_id))
    if saga is None or (saga.user_id != user.id and not admin_sees_all):
        raise Refusal(404, "No such booking.")
    return saga
