from __future__ import annotations

import json
import os
from pathlib import Path

import faiss
import numpy as np
import pytest

from qa.errors import (
    IndexBusyError,
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
)
from qa.ingest.chunking import ChunkSettings
from qa.ingest.corpus import make_document
from qa.ingest.indexing import build_index, expectation
from qa.search.index import CURRENT, Index, current_version, write_lock
from qa.types import Chunk
from tests.conftest import FakeEmbedder

DOCS = [
    make_document("a.md", "Denmark will lead the NATO mission. It sends 285 troops.", title="A"),
    make_document(
        "b.md",
        "Lithuania deploys soldiers to Iraq. They train local forces.",
        title="B",
        metadata={"source": "LAF"},
    ),
]


def built(embedder: FakeEmbedder, settings: ChunkSettings) -> Index:
    index, _ = build_index(DOCS, embedder=embedder, settings=settings)
    return index


def test_save_and_load_round_trip(
    tmp_path: Path, fake_embedder: FakeEmbedder, small_chunks: ChunkSettings
) -> None:
    index = built(fake_embedder, small_chunks)
    index.save(tmp_path)
    loaded = Index.load(tmp_path, expectation(fake_embedder, small_chunks))
    assert loaded.chunks == index.chunks
    assert loaded.documents == index.documents
    q = fake_embedder.encode(["Denmark NATO"])
    assert loaded.search(q, 2)[1].tolist() == index.search(q, 2)[1].tolist()
    manifest = json.loads((current_version(tmp_path) / "manifest.json").read_text())
    assert manifest["model"]["weights_sha256"] == "0" * 64
    assert manifest["chunking"]["max_tokens"] == 40
    assert set(manifest["documents"]) == {"a.md", "b.md"}
    assert set(manifest["files"]) >= {
        "vectors.faiss",
        "chunks.json",
        "documents.json",
        "lexical/vocab.index.json",
        "lexical/size.json",
    }
    assert loaded.lexical.scores("Denmark NATO").argmax() == 0


def test_a_crash_during_save_leaves_the_previous_index(
    tmp_path: Path,
    fake_embedder: FakeEmbedder,
    small_chunks: ChunkSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first = built(fake_embedder, small_chunks)
    first.save(tmp_path)
    second, _ = build_index(DOCS[:1], embedder=fake_embedder, settings=small_chunks)

    def boom(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", boom)
    with pytest.raises(OSError, match="No space left"):
        second.save(tmp_path)
    assert sorted(Index.load(tmp_path).documents) == ["a.md", "b.md"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]


def test_only_the_current_version_is_kept(
    tmp_path: Path, fake_embedder: FakeEmbedder, small_chunks: ChunkSettings
) -> None:
    index = built(fake_embedder, small_chunks)
    for _ in range(3):
        index.save(tmp_path)
    versions = [p.name for p in tmp_path.iterdir() if p.name.startswith("v-")]
    assert versions == [(tmp_path / CURRENT).read_text()]


def test_missing_index_says_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="run `qa index`"):
        Index.load(tmp_path)


@pytest.mark.parametrize(
    "damage", ["truncate", "flip", "delete", "garbage-manifest", "dangling-current"]
)
def test_damaged_index_is_a_clear_error(
    tmp_path: Path, fake_embedder: FakeEmbedder, small_chunks: ChunkSettings, damage: str
) -> None:
    built(fake_embedder, small_chunks).save(tmp_path)
    folder = current_version(tmp_path)
    target = folder / "vectors.faiss"
    if damage == "truncate":
        target.write_bytes(target.read_bytes()[:100])
    elif damage == "flip":
        data = bytearray(target.read_bytes())
        data[-5] ^= 0xFF
        target.write_bytes(bytes(data))
    elif damage == "delete":
        os.remove(folder / "chunks.json")
    elif damage == "garbage-manifest":
        (folder / "manifest.json").write_text("{not json")
    else:
        (tmp_path / CURRENT).write_text("v-does-not-exist")
    with pytest.raises(IndexCorruptError, match="qa index --rebuild"):
        Index.load(tmp_path)


def test_other_model_or_chunking_is_a_mismatch(
    tmp_path: Path, fake_embedder: FakeEmbedder, small_chunks: ChunkSettings
) -> None:
    built(fake_embedder, small_chunks).save(tmp_path)
    other_model = FakeEmbedder(dimension=32)
    with pytest.raises(IndexMismatchError, match="dimension: index has 64, configured 32"):
        Index.load(tmp_path, expectation(other_model, small_chunks))
    with pytest.raises(IndexMismatchError, match="--rebuild"):
        Index.load(tmp_path, expectation(fake_embedder, ChunkSettings(50, 10)))


def test_search_handles_k_beyond_the_index(
    tmp_path: Path, fake_embedder: FakeEmbedder, small_chunks: ChunkSettings
) -> None:
    index = built(fake_embedder, small_chunks)
    scores, rows = index.search(fake_embedder.encode(["troops"]), 50)
    assert rows.shape == (1, len(index.chunks))
    assert np.all(np.diff(scores[0]) <= 1e-6)


def test_the_write_lock_excludes_a_second_writer(tmp_path: Path) -> None:
    with write_lock(tmp_path):
        with pytest.raises(IndexBusyError, match=f"pid {os.getpid()} is writing"):
            with write_lock(tmp_path):
                pass
    with write_lock(tmp_path):  # released again
        assert (tmp_path / ".lock").exists()


def test_large_indexes_switch_to_ivf_with_parameters_in_the_manifest(tmp_path: Path) -> None:
    from qa.search.index import IndexSettings

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(20, 32))
    vectors = centres[rng.integers(0, 20, 4000)] + 0.3 * rng.normal(size=(4000, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    docs = {"d.md": make_document("d.md", "x " * 5000)}
    chunks = [Chunk("d.md", i, i + 1, "x") for i in range(4000)]
    model = {"dimension": 32}
    exact = Index.create(vectors=vectors, chunks=chunks, documents=docs, model=model, chunking={})
    ann = Index.create(
        vectors=vectors,
        chunks=chunks,
        documents=docs,
        model=model,
        chunking={},
        settings=IndexSettings(ann_threshold=1000, nprobe=8),
    )
    assert exact.manifest.index_type == "flat-ip"
    assert ann.manifest.index_type == "ivf-flat"
    assert ann.manifest.index_params == {"nlist": 100, "nprobe": 8}
    queries = vectors[:50] + 0.05 * rng.normal(size=(50, 32)).astype(np.float32)
    truth = exact.search(queries, 10)[1]
    got = ann.search(queries, 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(truth, got, strict=True)])
    assert recall >= 0.95
    ann.save(tmp_path)
    loaded = Index.load(tmp_path)
    assert loaded.manifest.index_params == {"nlist": 100, "nprobe": 8}
    assert np.array_equal(loaded.search(queries, 10)[1], got)
    assert np.allclose(loaded.vectors([7, 3999]), vectors[[7, 3999]])
    allowed = np.array([5, 900, 3001], dtype=np.int64)  # a narrow filter still finds them all
    assert set(loaded.search(queries[:1], 3, allowed=allowed)[1][0]) == {5, 900, 3001}
