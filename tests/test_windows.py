"""Chunk vectors pooled from one pass per document: the windows, the pooling, and that
every token of the text goes through the model once."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from qa.chunking import ChunkSettings, chunk_text, word_counter
from qa.corpus import scan_corpus
from qa.embedding import encode_with_spans
from qa.errors import IndexMismatchError
from qa.index import Index
from qa.indexing import chunking_identity, update_index
from qa.sentences import chunk_sentence_spans
from qa.windows import POOLING_VERSION, document_windows, embed_chunks, window_tokens
from tests.conftest import CORPUS, FakeEmbedder

TEXT = (
    "The first sentence opens the text. A second one follows it closely. "
    "Then a third sentence, longer than the others, with several more words in it. "
    "Short one. Another sentence that goes on for a while before it stops. "
) * 6


def test_windows_tile_the_text_without_overlap_and_fit_their_size() -> None:
    windows = document_windows(TEXT, count=word_counter, max_tokens=30)
    assert len(windows) > 3
    for a, b in zip(windows, windows[1:], strict=False):
        assert a.end <= b.start and TEXT[a.end : b.start].strip() == ""
    assert TEXT[: windows[0].start].strip() == "" and TEXT[windows[-1].end :].strip() == ""
    assert all(word_counter([TEXT[w.start : w.end]])[0] <= 30 for w in windows)


def test_the_window_is_one_chunk_stride() -> None:
    assert window_tokens(ChunkSettings(max_tokens=200, overlap_tokens=100)) == 100
    assert window_tokens(ChunkSettings(max_tokens=200, overlap_tokens=0)) == 200


def test_an_embedder_without_token_pooling_encodes_each_chunk_as_before() -> None:
    fake = FakeEmbedder()
    chunks = chunk_text("d", TEXT, count=fake.count_tokens, settings=ChunkSettings(40, 20))
    spans = chunk_sentence_spans(chunks)
    got, got_sentences = embed_chunks(fake, {"d": TEXT}, chunks, spans, window_tokens=20)
    want, want_sentences = encode_with_spans(FakeEmbedder(), [c.text for c in chunks], spans)
    assert np.array_equal(got, want)
    assert all(np.array_equal(a, b) for a, b in zip(got_sentences, want_sentences, strict=True))


class Recording:
    """The real model, recording the texts it is asked to read."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.identity = inner.identity
        self.read: list[str] = []

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        return list(self._inner.count_tokens(texts))

    def encode(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        self.read.extend(texts)
        return np.asarray(self._inner.encode(texts, **kwargs))

    def span_sums(
        self, texts: Sequence[str], spans: Sequence[Sequence[tuple[int, int]]], **kwargs: Any
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        self.read.extend(texts)
        return list(self._inner.span_sums(texts, spans, **kwargs))


@pytest.mark.slow
def test_each_token_is_read_once_and_chunks_get_unit_vectors(embedder: Any) -> None:
    model = Recording(embedder)
    settings = ChunkSettings(max_tokens=60, overlap_tokens=30)
    chunks = chunk_text("d", TEXT, count=model.count_tokens, settings=settings)
    spans = chunk_sentence_spans(chunks)
    vectors, sentences = embed_chunks(
        model, {"d": TEXT}, chunks, spans, window_tokens=window_tokens(settings)
    )
    read = sum(model.count_tokens(model.read))
    assert read == model.count_tokens([TEXT])[0]  # the text once, overlap and all
    assert sum(model.count_tokens([c.text for c in chunks])) > 1.5 * read
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert [len(s) for s in sentences] == [len(s) for s in spans]
    # A sentence that two overlapping chunks share has one vector, whichever chunk asks.
    seen: dict[tuple[int, int], np.ndarray] = {}
    shared = 0
    for chunk, chunk_spans, vecs in zip(chunks, spans, sentences, strict=True):
        for (a, b), v in zip(chunk_spans, vecs, strict=True):
            key = (chunk.start + a, chunk.start + b)
            if key in seen:
                shared += 1
                assert np.array_equal(seen[key], v)
            seen[key] = v
    assert shared > 0


@pytest.mark.slow
def test_a_chunk_that_is_one_window_gets_the_mean_of_its_own_tokens(embedder: Any) -> None:
    # Without overlap a chunk is exactly one window: its vector is the mean of its own
    # tokens' embeddings, which differs from the model's sentence vector only by [CLS]
    # and [SEP].
    settings = ChunkSettings(max_tokens=60, overlap_tokens=0)
    chunks = chunk_text("d", TEXT, count=embedder.count_tokens, settings=settings)
    spans = chunk_sentence_spans(chunks)
    vectors, _ = embed_chunks(embedder, {"d": TEXT}, chunks, spans, window_tokens=60)
    own = embedder.encode([c.text for c in chunks])
    assert np.min(np.sum(vectors * own, axis=1)) > 0.98


@pytest.mark.slow
def test_an_index_made_before_pooled_vectors_asks_for_a_rebuild(
    tmp_path: Path, embedder: Any
) -> None:
    documents = scan_corpus(CORPUS).documents
    settings = ChunkSettings()
    update_index(documents, index_dir=tmp_path, embedder=embedder, settings=settings)
    index = Index.load(tmp_path)
    assert index.manifest.chunking["chunk_vectors"] == POOLING_VERSION
    # Rewrite the manifest as the previous version wrote it: no chunk_vectors entry.
    (manifest,) = tmp_path.glob("v-*/manifest.json")
    data = json.loads(manifest.read_text())
    del data["chunking"]["chunk_vectors"]
    manifest.write_text(json.dumps(data))
    with pytest.raises(IndexMismatchError, match="qa index --rebuild"):
        update_index(documents, index_dir=tmp_path, embedder=embedder, settings=settings)
    assert "chunk_vectors" in chunking_identity(settings)
