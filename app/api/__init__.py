"""The JSON API under /api/v1, documented by flask-smorest from the marshmallow schemas."""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus

from flask import Flask, request
from flask_smorest import Api, Blueprint

from app.api import problems
from app.api.schemas.common import ProblemSchema
from app.errors import Refusal
from app.security import API_PREFIX

PROBLEM_JSON = "application/problem+json"
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

# OpenAPI security requirements: bearer needed, or bearer optional (it changes the answer).
BEARER = [{"bearerAuth": []}]
OPTIONAL_BEARER = [{}, {"bearerAuth": []}]


class ProblemApi(Api):
    """flask-smorest's Api, documenting every error response as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        # Replaces flask-smorest's version, which documents errors as application/json.
        problem = {"content": {PROBLEM_JSON: {"schema": self.ERROR_SCHEMA}}}
        for status in HTTPStatus:
            response = {"description": status.phrase, **(problem if status >= 400 else {})}
            self.spec.components.response(status.name, response, lazy=True)
        self.spec.components.response(
            self.DEFAULT_ERROR_RESPONSE_NAME,
            {"description": "Any error, as RFC 9457 problem details.", **problem},
            lazy=True,
        )


def problem_responses(*statuses: int) -> Callable:
    """Documents the problem responses a view may give, beyond the default one."""
    return Blueprint.doc(responses={status: HTTPStatus(status).name for status in statuses})


def check_json_body() -> None:
    """A request body must be JSON (else 415) that parses (else 400); Flask enforces the size (413).

    Checked here, for every endpoint at once, because webargs silently ignores a body of another
    content type, and a deeply nested body makes json raise RecursionError rather than ValueError.
    """
    if (
        request.routing_exception is not None
        or request.method not in BODY_METHODS
        or not request.path.startswith(API_PREFIX)
    ):
        return
    body = request.get_data(cache=True)
    if not body:
        return
    if not request.is_json:
        raise Refusal(415, "Send the request body as application/json.")
    try:
        json.loads(body.decode("utf-8"))
    except (ValueError, RecursionError):
        raise Refusal(400, "The request body is not valid JSON.", type="malformed-json") from None


def init_app(app: Flask) -> None:
    from app.api import health

    # One Api per app: its OpenAPI document belongs to that app's routes.
    api = ProblemApi(app)
    api.spec.components.security_scheme(
        "bearerAuth",
        {"type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/auth/token."},
    )
    # flask-smorest's own error bodies are not RFC 9457: ours replace them.
    problems.init_app(app)
    app.before_request(check_json_body)
    app.register_blueprint(health.blp)
    for module in _blueprint_modules():
        api.register_blueprint(module.blp)


def _blueprint_modules() -> list:
    from app.api import accounts, admin, bookings, flights, holds

    return [accounts, flights, holds, bookings, admin]
