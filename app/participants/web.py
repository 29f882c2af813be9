"""What the payment and loyalty services share: problem+json errors, request bodies, latency, tables."""

from __future__ import annotations

import time
from http import HTTPStatus

from flask import Flask, Response, json, request
from flask_sqlalchemy import SQLAlchemy
from marshmallow import Schema, ValidationError
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from werkzeug.exceptions import HTTPException

PROBLEM_TYPE_BASE = "/problems/"

# The machine-readable code of errors that werkzeug raises before a view runs.
HTTP_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ServiceError(Exception):
    """Raise in a request to answer with a problem; nothing is recorded under its idempotency key."""

    def __init__(self, status: int, code: str, detail: str, *, headers: dict[str, str] | None = None,
                 **extra: object) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers  # of the answer, e.g. a 401's WWW-Authenticate
        self.extra = extra


def problem_body(status: int, code: str, detail: str, **extra: object) -> dict:
    """RFC 9457 problem details plus the machine-readable ``code``."""
    return {
        "type": PROBLEM_TYPE_BASE + code.replace("_", "-"),
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": request.path,
        **extra,
    }


def json_response(status: int, body: dict | str, headers: dict | None = None) -> Response:
    """A JSON answer; errors get the problem+json media type. ``body`` may be JSON text already."""
    text = body if isinstance(body, str) else json.dumps(body)
    mimetype = "application/problem+json" if status >= 400 else "application/json"
    return Response(text, status=status, mimetype=mimetype, headers=headers)


def load_body(schema: Schema, *, code: str = "validation_error", optional: bool = False,
              detail: str = "The request did not pass validation.") -> dict:
    """The request's JSON object validated by ``schema``; 400 or 422 (with ``errors``) otherwise."""
    if optional and not request.get_data():
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ServiceError(400, "bad_request", "The request body must be a JSON object.")
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise ServiceError(422, code, detail, errors=exc.messages) from exc


def raw_body() -> dict:
    """The request's JSON object as sent (what an idempotency fingerprint covers)."""
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else {}


def health(db: SQLAlchemy) -> Response:
    """The answer of ``GET /healthz``: 200 while the service's database answers, else 503."""
    try:
        db.session.execute(text("SELECT 1"))
    except DatabaseError as exc:
        raise ServiceError(503, "database_unavailable", "The service's database does not answer.") from exc
    return json_response(200, {"status": "ok", "database": "ok"})


def create_tables(db: SQLAlchemy, attempts: int = 5) -> None:
    """create_all, tolerating a sibling worker process creating the same tables at the same moment."""
    for attempt in range(attempts):
        try:
            db.create_all()
            return
        except DatabaseError:
            # "table already exists" or "database is locked" from the other worker: look again.
            if attempt == attempts - 1:
                raise
            time.sleep(0.1 * (attempt + 1))


LATENCY_WHEN = ("before", "after")


def init_app(app: Flask, db: SQLAlchemy, *, latency_setting: str, latency_at_setting: str) -> None:
    """Problem+json for every error, and the configured latency added to every request."""
    when = app.config[latency_at_setting]
    if when not in LATENCY_WHEN:
        raise ValueError(f"{latency_at_setting} must be before or after, not {when!r}")

    @app.errorhandler(ServiceError)
    def service_error(exc: ServiceError) -> Response:
        db.session.rollback()
        return json_response(exc.status, problem_body(exc.status, exc.code, exc.detail, **exc.extra),
                             exc.headers)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = HTTP_CODES.get(status, "http_error")
        return json_response(status, problem_body(status, code, exc.description or ""))

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        db.session.rollback()
        app.logger.exception("unhandled error")
        return json_response(500, problem_body(500, "internal_error", "The service failed to answer."))

    def hold_back(when: str) -> None:
        delay = app.config[latency_setting] / 1000
        # A probe measures liveness, not the slowdown.
        if delay > 0 and app.config[latency_at_setting] == when and request.path != "/healthz":
            # A read transaction left open over the pause would hold SQLite's lock against writers.
            db.session.close()
            time.sleep(delay)

    @app.before_request
    def whole_body_only() -> None:
        # A caller killed mid-request leaves a body shorter than its Content-Length, and gunicorn
        # hands it over as it is (wsgi.input_terminated). Acted on, it does what was never asked
        # (an empty capture body means "all of it") and claims the key, so the caller's retry with
        # the whole body is refused as a different request for ever.
        expected = request.content_length
        if expected and len(request.get_data()) < expected:
            raise ServiceError(400, "incomplete_body",
                               "The request body ended before its Content-Length: nothing was done.")

    @app.before_request
    def add_latency_before() -> None:
        # "before": the work itself lands late, possibly after a caller that timed out has moved on
        # (and cancelled it by its key): the case a tombstone exists for.
        hold_back("before")

    @app.after_request
    def add_latency_after(response: Response) -> Response:
        # "after" (the default): the work is done and only the answer is late, so a caller that times
        # out cannot tell whether its write happened: the case the lookup by idempotency key is for.
        hold_back("after")
        return response
