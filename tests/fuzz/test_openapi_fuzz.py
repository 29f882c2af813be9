"""Schemathesis over every operation of /api/v1/openapi.json: no 5xx, answers as documented (I7).

Inputs that fit the schema and inputs that do not (negative mode) alike; a bounded number of
examples per operation keeps the run to a couple of minutes.
"""

from __future__ import annotations

import os
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

# Per operation; FUZZ_EXAMPLES=1000 makes a deeper (slower) run.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 40))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def test_operation_survives_generated_input(api_schema, bearer, known_ids, operation):
    method, path = operation.split(" ", 1)
    target = api_schema[path][method]
    # The token is fixed, not generated: every case is an authenticated one, whatever else it breaks.
    # Half the cases have ids that name real objects, or nearly all would stop at a 404.
    real = {name: known_ids[name] for name in re.findall(r"{(\w+)}", path)}
    cases = st.one_of([
        target.as_strategy(generation_mode=mode, headers=bearer, path_parameters=fixed)
        for mode in GenerationMode for fixed in ({}, real)
    ])

    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def fuzz(case) -> None:
        case.call_and_validate(checks=CHECKS)

    fuzz()
