"""Fuzzing an app from its own OpenAPI schema (schemathesis), shared by the fuzz tests.

Schema-valid input may still be refused with a 4xx: some rules do not fit in a schema (a
question of only spaces, a doc_id with an invisible character), so the positive-data
acceptance check is off; every other check (no 5xx, status codes, content types,
response schemas and headers, rejection of schema-invalid input, auth) is on.

schemathesis' own pytest integration (from_fixture) fails on pytest 9 ("Function has no
attribute _nodeid"), so each operation's strategy is driven by hypothesis directly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency")
checks = pytest.importorskip("schemathesis.specs.openapi.checks")
GenerationMode = schemathesis.GenerationMode

Test = TypeVar("Test", bound=Callable[..., None])


def each_operation(app: Any) -> Callable[[Test], Test]:
    """Parametrizes a test by `path`, `method` (every operation in the app's schema;
    building the app loads nothing, that is the lifespan) and `mode` (valid, invalid)."""
    paths = app.openapi()["paths"]
    operations = [(path, method.upper()) for path, item in paths.items() for method in item]

    def parametrize(test: Test) -> Test:
        ids = [f"{m} {p}" for p, m in operations]
        test = pytest.mark.parametrize(("path", "method"), operations, ids=ids)(test)
        modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
        return pytest.mark.parametrize("mode", modes, ids=str)(test)

    return parametrize


def fuzz_operation(
    operation: Any,
    mode: Any,
    *,
    headers: dict[str, str],
    max_examples: int,
    prepare: Callable[[Any], None] | None = None,
) -> None:
    """Up to `max_examples` generated calls of `operation` (each first passed to `prepare`),
    every response validated against the schema."""

    @settings(
        max_examples=max_examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def check(case: Any) -> None:
        if prepare is not None:
            prepare(case)
        case.call_and_validate(headers=headers, excluded_checks=[checks.positive_data_acceptance])

    try:
        check()
    except Unsatisfiable:
        # No input of this operation can break its schema (no body, unconstrained strings).
        assert mode is GenerationMode.NEGATIVE
