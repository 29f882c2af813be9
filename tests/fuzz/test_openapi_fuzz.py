"""Schemathesis over every operation of /api/v1/openapi.json: no 5xx, answers as documented (I7).

Inputs that fit the schema and inputs that do not (negative mode) alike; a bounded number of
examples per operation keeps the run to a couple of minutes.
"""

from __future__ import annotations

import os

from tests.fuzz.cases import fuzz_operation

# Per operation; FUZZ_EXAMPLES=1000 makes a deeper (slower) run.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", 40))


def test_operation_survives_generated_input(api_schema, bearer, known_ids, operation):
    method, path = operation.split(" ", 1)
    fuzz_operation(api_schema[path][method], path, bearer, known_ids, EXAMPLES)
