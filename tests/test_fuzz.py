"""The whole API fuzzed from its own OpenAPI schema: no 5xx, and every response conforms.

The real app, the real model and a real FAISS index; writes are enabled (an API key is
set) and go to a throwaway copy of the index and corpus, never the session's shared one.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from qa.api import create_app
from qa.config import Settings
from qa.service import QAService
from tests.conftest import AUTH, CORPUS, KEY
from tests.fuzzing import each_operation, fuzz_operation, schemathesis

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def fuzz_schema(
    tmp_path_factory: pytest.TempPathFactory, corpus_index_dir: Path, embedder: Any
) -> Any:
    root = tmp_path_factory.mktemp("fuzz")
    shutil.copytree(CORPUS, root / "corpus")
    shutil.copytree(corpus_index_dir, root / "index", ignore=shutil.ignore_patterns(".lock"))
    config = Settings(corpus_dir=root / "corpus", index_dir=root / "index", api_key=KEY)
    # A service of its own (writes swap its index), sharing the session's loaded model.
    app = create_app(config, service_factory=lambda: QAService.from_settings(config, embedder))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# Every operation of the app, valid and invalid input (tests/fuzzing.py says which checks).
@pytest.mark.timeout(240)
@each_operation(create_app(Settings()))
def test_every_operation_answers_within_its_schema(
    fuzz_schema: Any, path: str, method: str, mode: Any
) -> None:
    fuzz_operation(fuzz_schema[path][method], mode, headers=AUTH, max_examples=30)
