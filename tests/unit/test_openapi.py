"""GET /api/v1/openapi.json: the OpenAPI 3 document generated from the schemas."""

from __future__ import annotations

import pytest

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def spec(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_it_is_public_openapi_3(spec):
    assert spec["openapi"].startswith("3.")
    assert spec["info"] == {"title": "Flight booking", "version": "v1"}


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/token", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/flights", "get"),
        ("/api/v1/flights", "post"),
        ("/api/v1/flights/{flight_id}", "get"),
        ("/api/v1/flights/{flight_id}/seats", "get"),
        ("/api/v1/admin/flights/{flight_id}/seats/{number}", "put"),
    ],
)
def test_every_endpoint_is_documented_with_problem_errors(spec, path, method):
    operation = spec["paths"][path][method]
    assert operation["responses"]["default"] == {"$ref": "#/components/responses/DEFAULT_ERROR"}


def test_error_responses_are_problem_details(spec):
    responses = spec["components"]["responses"]
    for name in ("DEFAULT_ERROR", "UNAUTHORIZED", "NOT_FOUND", "UNPROCESSABLE_ENTITY"):
        assert responses[name]["content"] == {
            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    problem = spec["components"]["schemas"]["Problem"]["properties"]
    assert set(problem) >= {"type", "title", "status", "detail", "errors"}


def test_the_bearer_scheme_and_who_needs_it(spec):
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "description": "A token from POST /api/v1/auth/token."}
    bearer = [{"bearerAuth": []}]
    assert spec["paths"]["/api/v1/me"]["get"]["security"] == bearer
    assert spec["paths"]["/api/v1/flights"]["post"]["security"] == bearer
    assert spec["paths"]["/api/v1/flights/{flight_id}/seats"]["get"]["security"] == [{}, *bearer]
    assert "security" not in spec["paths"]["/api/v1/flights"]["get"]
    assert "401" in spec["paths"]["/api/v1/me"]["get"]["responses"]
    assert "403" in spec["paths"]["/api/v1/flights"]["post"]["responses"]


def test_schemas_come_from_marshmallow(spec):
    schemas = spec["components"]["schemas"]
    assert set(schemas["Flight"]["properties"]) == {
        "id", "number", "origin", "destination", "departs_at", "arrives_at", "currency", "fares",
        "seats_available"}
    assert schemas["Fares"]["properties"]["economy"]["type"] == "string"  # money is a decimal string
    register = schemas["Register"]
    assert register["properties"]["password"]["minLength"] == 8
    assert register["properties"]["email"]["format"] == "email"
    assert set(register["required"]) == {"email", "password", "name"}
    query = {p["name"]: p for p in spec["paths"]["/api/v1/flights"]["get"]["parameters"]}
    assert query["page_size"]["schema"]["maximum"] == 100
    assert query["origin"]["schema"]["pattern"] == "^[A-Z]{3}$"
