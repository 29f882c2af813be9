"""RFC 9457 problem details: the one shape of every error the API returns."""

from __future__ import annotations

from http import HTTPStatus

import sqlalchemy.exc
from flask import Flask, Response, current_app, json, request
from werkzeug.exceptions import HTTPException

from app.errors import Refusal
from app.extensions import db

PROBLEM_TYPE_BASE = "/problems/"

# A stable `type` slug for each status when the raiser names none.
DEFAULT_TYPES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "rate-limited",
    500: "internal-error",
    503: "service-unavailable",
}


def problem_response(
    status: int,
    detail: str,
    *,
    type: str | None = None,
    title: str | None = None,
    headers: dict | None = None,
    **extra: object,
) -> Response:
    # A refused request changes nothing, and keeps no lock it took (a traveller's row while the
    # seat caps were checked, say) a moment longer than it answers.
    db.session.rollback()
    body = {
        "type": PROBLEM_TYPE_BASE + (type or DEFAULT_TYPES.get(status, "error")),
        "title": title or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "instance": request.path,
        **extra,
    }
    response = Response(json.dumps(body), status=status, mimetype="application/problem+json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _flatten(messages: object, path: str) -> dict[str, list[str]]:
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            flat.update(_flatten(value, f"{path}.{key}" if path else str(key)))
        return flat
    if isinstance(messages, list | tuple):
        return {path or "_schema": [str(message) for message in messages]}
    return {path or "_schema": [str(messages)]}


def validation_errors(data: dict) -> dict[str, list[str]]:
    """webargs' {location: {field: {nested: [messages]}}} as {"field.nested": [messages]}."""
    if "errors" in data:  # flask-smorest's abort(422, errors=...)
        return _flatten(data["errors"], "")
    errors: dict[str, list[str]] = {}
    for location_errors in (data.get("messages") or {}).values():
        errors.update(_flatten(location_errors, ""))
    return errors


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    # webargs' and flask-smorest's abort() attach their details as `data`.
    data = getattr(exc, "data", None) or {}
    # Werkzeug's own headers carry Allow on 405 and WWW-Authenticate on 401.
    headers = {name: value for name, value in exc.get_headers() if name.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    extra: dict = {}
    type_ = None
    if status == 422:
        extra["errors"] = validation_errors(data)
        detail = "The request did not pass validation."
    elif status == 400 and isinstance(getattr(exc, "exc", None), ValueError):
        detail, type_ = "The request body is not valid JSON.", "malformed-json"
    elif status == 413 and current_app.config.get("MAX_CONTENT_LENGTH"):
        detail = f"The request body is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes."
    else:
        detail = data.get("message") or exc.description or ""
    if status == 429:
        headers["Retry-After"] = str(getattr(exc, "retry_after", None) or 60)
    if status >= 500:
        current_app.logger.error("answered %s: %s", status, detail)
    return problem_response(status, detail, type=type_, headers=headers, **extra)


def handle_refusal(refusal: Refusal) -> Response:
    """Any refusal of app/errors.py, with the status, type and members it carries."""
    if refusal.status >= 500 and refusal.detail != refusal.answer:
        # The client reads the public answer; the operator needs the cause (which call, how it failed).
        current_app.logger.warning("answered %s %s: %s", refusal.status, refusal.type, refusal.detail)
    return problem_response(refusal.status, refusal.answer or refusal.detail, type=refusal.type,
                            title=refusal.title, headers=refusal.headers, **refusal.members())


def init_app(app: Flask) -> None:
    app.register_error_handler(Refusal, handle_refusal)
    app.register_error_handler(HTTPException, handle_http_exception)

    @app.errorhandler(sqlalchemy.exc.OperationalError)
    def database_unavailable(exc: sqlalchemy.exc.OperationalError) -> Response:
        # A locked SQLite file or a lost database connection passes: the client may try again.
        app.logger.warning("database unavailable: %s", exc.orig)
        return problem_response(503, "The booking database is busy or unreachable; try again shortly.",
                                type="database-unavailable", headers={"Retry-After": "1"})

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return problem_response(500, "The server failed to answer this request.")
