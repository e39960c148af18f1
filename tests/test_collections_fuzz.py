"""The collections app fuzzed from its own OpenAPI schema (schemathesis): under a real
collection and with its write key, no operation answers 5xx, accepts schema-violating
input or strays from its documented responses. The fake model keeps it fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable

from qa.api import create_app
from qa.config import Settings
from tests.collections_helpers import KEY_ENV, OPEN_WRITE, bearer, collections_file
from tests.conftest import FakeEmbedder

schemathesis = pytest.importorskip("schemathesis", reason="schemathesis is a dev dependency")
checks = pytest.importorskip("schemathesis.specs.openapi.checks")
GenerationMode = schemathesis.GenerationMode

pytestmark = pytest.mark.slow


def _app(path: Path | None = None) -> Any:
    fake = FakeEmbedder()
    config = Settings(collections=path or Path("collections.yaml"), batch_window_ms=0)
    return create_app(config, embedder_factory=lambda _: fake)


@pytest.fixture(scope="module")
def fuzz_schema(tmp_path_factory: pytest.TempPathFactory) -> Any:
    mp = pytest.MonkeyPatch()
    for name, value in KEY_ENV.items():
        mp.setenv(name, value)
    path = collections_file(tmp_path_factory.mktemp("fuzz-collections"), FakeEmbedder())
    yield schemathesis.openapi.from_asgi("/openapi.json", _app(path))
    mp.undo()


OPERATIONS = [
    (path, method.upper()) for path, item in _app().openapi()["paths"].items() for method in item
]


@pytest.mark.timeout(240)
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=str)
@pytest.mark.parametrize(("path", "method"), OPERATIONS, ids=[f"{m} {p}" for p, m in OPERATIONS])
def test_every_collection_operation_answers_within_its_schema(
    fuzz_schema: Any, path: str, method: str, mode: Any
) -> None:
    operation = fuzz_schema[path][method]

    @settings(
        max_examples=20,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(mode))
    def check(case: Any) -> None:
        if case.path_parameters and "name" in case.path_parameters:
            case.path_parameters["name"] = "open"  # a real collection, not a random name
        case.call_and_validate(
            headers=bearer(OPEN_WRITE), excluded_checks=[checks.positive_data_acceptance]
        )

    try:
        check()
    except Unsatisfiable:
        assert mode is GenerationMode.NEGATIVE
