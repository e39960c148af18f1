"""The collections app fuzzed from its own OpenAPI schema (schemathesis): under a real
collection and with its write key, no operation answers 5xx, accepts schema-violating
input or strays from its documented responses. The fake model keeps it fast."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from qa.api import create_app
from qa.config import Settings
from tests.collections_helpers import KEY_ENV, OPEN_WRITE, bearer, collections_file
from tests.conftest import FakeEmbedder
from tests.fuzzing import each_operation, fuzz_operation, schemathesis

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


def _a_real_collection(case: Any) -> None:
    if case.path_parameters and "name" in case.path_parameters:
        case.path_parameters["name"] = "open"  # a real collection, not a random name


@pytest.mark.timeout(240)
@each_operation(_app())
def test_every_collection_operation_answers_within_its_schema(
    fuzz_schema: Any, path: str, method: str, mode: Any
) -> None:
    fuzz_operation(
        fuzz_schema[path][method],
        mode,
        headers=bearer(OPEN_WRITE),
        max_examples=20,
        prepare=_a_real_collection,
    )
