"""The pieces of the payment and loyalty services' OpenAPI documents (served at /openapi.json).

Written by hand, from docs/participants.md: the services parse with plain marshmallow, not
flask-smorest. tests/unit/test_participant_openapi.py holds each document to the service's url_map,
and tests/fuzz/test_participant_fuzz.py holds the service to its document.
"""

from __future__ import annotations

from typing import Any

Json = dict[str, Any]

PROBLEM: Json = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "code": {"type": "string"}, "instance": {"type": "string"},
        "errors": {"type": "object"},
    },
}
IDEMPOTENCY_KEY: Json = {
    "name": "Idempotency-Key", "in": "header", "required": True,
    # 1-255 printable characters; ASCII keeps generated headers sendable.
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}
# Statuses any authenticated operation may answer besides its own.
COMMON_ERRORS = (401, 403, 404, 405, 413, 415, 500, 503)
WRITE_ERRORS = (400, 409, 422)


def problem(description: str) -> Json:
    return {"description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def ok(description: str, schema: Json) -> Json:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def operation(summary: str, scope: str, answers: dict[int, Json], *, write: bool = False,
              body: Json | None = None, body_required: bool = True) -> Json:
    """One operation: its scope as the security requirement, its answers, problems for the rest."""
    responses = {str(status): answer for status, answer in answers.items()}
    for status in COMMON_ERRORS + (WRITE_ERRORS if write else ()):
        responses.setdefault(str(status), problem("A problem (docs/participants.md)."))
    spec: Json = {"summary": summary, "security": [{"bearer": [scope]}], "responses": responses,
                  "description": f"Needs a credential with the `{scope}` scope."}
    if write:
        spec["parameters"] = [IDEMPOTENCY_KEY]
    if body is not None:
        spec["requestBody"] = {"required": body_required,
                               "content": {"application/json": {"schema": body}}}
    return spec


def path_parameter(name: str, schema: Json | None = None) -> Json:
    return {"name": name, "in": "path", "required": True, "schema": schema or {"type": "string"}}


def health() -> Json:
    return {"get": {"summary": "Liveness and database", "security": [], "responses": {
        "200": ok("The service and its database answer.", {"type": "object"}),
        "503": problem("The database does not answer."),
    }}}


def document(title: str, paths: Json, schemas: Json) -> Json:
    return {
        "openapi": "3.0.3",
        "info": {"title": title, "version": "1"},
        "paths": {"/healthz": health(), "/openapi.json": {"get": {
            "summary": "This document", "security": [],
            "responses": {"200": ok("The OpenAPI document.", {"type": "object"})}}}, **paths},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "The calling process's own credential."}},
            "schemas": {"Problem": PROBLEM, **schemas},
        },
        "security": [{"bearer": []}],
    }
