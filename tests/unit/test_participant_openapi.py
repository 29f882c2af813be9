"""Each service's /openapi.json describes exactly its routes, each with the scope its view needs."""

from __future__ import annotations

import re

import pytest

SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def documented(service_app) -> dict[tuple[str, str], list]:
    document = service_app.test_client().get("/openapi.json").get_json()
    return {(method.upper(), path): [scope for requirement in spec["security"]
                                    for scope in requirement.get("bearer", [])]
            for path, item in document["paths"].items()
            for method, spec in item.items() if method != "parameters"}


def routed(service_app) -> dict[tuple[str, str], list]:
    routes = {}
    for rule in service_app.url_map.iter_rules():
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        scope = getattr(service_app.view_functions[rule.endpoint], "required_scope", None)
        for method in rule.methods - SKIPPED_METHODS:
            routes[(method, path)] = [scope] if scope else []
    return routes


@pytest.mark.parametrize("service", ["payment_app", "loyalty_app"])
def test_the_document_matches_the_routes_and_their_scopes(service, request):
    service_app = request.getfixturevalue(service)
    assert documented(service_app) == routed(service_app)
