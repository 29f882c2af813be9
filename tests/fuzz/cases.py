"""What both fuzz suites run: the checks every answer must pass, and the cases of one operation."""

from __future__ import annotations

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

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


def fuzz_operation(target, path: str, headers: dict, known_ids: dict, examples: int) -> None:
    """Call `target` with `examples` generated cases in every generation mode, each checked.

    The headers are fixed, not generated: every case is an authenticated one, whatever else it breaks.
    Half the cases have ids that name real objects (`known_ids`), or nearly all would stop at a 404.
    """
    real = {name: known_ids[name] for name in re.findall(r"{(\w+)}", path)}
    cases = st.one_of([
        target.as_strategy(generation_mode=mode, headers=headers, path_parameters=fixed)
        for mode in GenerationMode for fixed in ({}, real)
    ])

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=cases)
    def fuzz(case) -> None:
        case.call_and_validate(checks=CHECKS)

    fuzz()
