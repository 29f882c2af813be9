"""RFC 9457 problem details: the one shape of every error the API returns."""

from __future__ import annotations

from http import HTTPStatus

from flask import Flask, Response, json, request
from werkzeug.exceptions import HTTPException

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


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem+json body."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        type: str | None = None,
        title: str | None = None,
        headers: dict | None = None,
        **extra: object,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.type = type or DEFAULT_TYPES.get(status, "error")
        self.title = title
        self.headers = headers or {}
        self.extra = extra


def problem_response(
    status: int,
    detail: str,
    *,
    type: str | None = None,
    title: str | None = None,
    headers: dict | None = None,
    **extra: object,
) -> Response:
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


def _validation_errors(exc: HTTPException) -> dict:
    """Flatten webargs' {location: {field: [messages]}} into {field: [messages]}."""
    messages = (getattr(exc, "data", None) or {}).get("messages") or {}
    errors: dict = {}
    for location_errors in messages.values():
        if isinstance(location_errors, dict):
            errors.update(location_errors)
    return errors


def handle_http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    extra: dict = {}
    headers = {}
    if status == 422:
        extra["errors"] = _validation_errors(exc)
        detail = "The request did not pass validation."
    elif status == 400 and getattr(exc, "data", None):
        detail = "The request body is not valid JSON."
    else:
        detail = exc.description or ""
    if status == 405 and getattr(exc, "valid_methods", None):
        headers["Allow"] = ", ".join(exc.valid_methods)
    if status == 429:
        headers["Retry-After"] = str(getattr(exc, "retry_after", None) or 60)
    return problem_response(status, detail, headers=headers, **extra)


def init_app(app: Flask) -> None:
    app.register_error_handler(Problem, lambda p: problem_response(
        p.status, p.detail, type=p.type, title=p.title, headers=p.headers, **p.extra
    ))
    app.register_error_handler(HTTPException, handle_http_exception)

    @app.errorhandler(Exception)
    def internal_error(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return problem_response(500, "The server failed to answer this request.")
