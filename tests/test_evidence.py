from __future__ import annotations

import numpy as np

from qa.ingest.chunking import ChunkSettings
from qa.ingest.corpus import make_document
from qa.ingest.indexing import build_index
from qa.search.evidence import SentenceEvidence, sentence_rows_of_chunks
from qa.search.retrieval import RetrievalSettings, best_sentence, fuse
from tests.conftest import FakeEmbedder


def test_sentence_rows_of_chunks_by_hand() -> None:
    keys = [("a", 0, 10), ("b", 0, 5), ("a", 11, 20), ("a", 21, 30)]
    chunks = [("a", 0, 20), ("a", 11, 30), ("b", 0, 5), ("c", 0, 9), ("a", 5, 25)]
    rows = [r.tolist() for r in sentence_rows_of_chunks(keys, chunks)]
    # A sentence belongs to a chunk only when it lies wholly inside it.
    assert rows == [[0, 2], [2, 3], [1], [], [2]]


def test_best_sentence_takes_each_chunks_best_mix() -> None:
    owners = np.array([0, 0, 1, 2])
    dense = np.array([0.2, 0.6, 0.4, 0.2])  # scaled: 0, 1, 0.5, 0
    lexical = np.array([4.0, 0.0, 2.0, 0.0])  # scaled: 1, 0, 0.5, 0
    best = best_sentence(owners, dense, lexical, 4, dense_share=0.6)
    # chunk 0: max(0.4, 0.6); chunk 1: 0.5; chunk 2: 0; chunk 3 has no sentence: 0
    assert np.allclose(best, [0.6, 0.5, 0.0, 0.0])


def test_fusion_mixes_in_the_sentence_evidence() -> None:
    dense = np.array([0.9, 0.5, 0.1])  # scaled: 1, 0.5, 0
    lexical = np.array([1.0, 7.0, 4.0])  # scaled: 0, 1, 0.5
    sentence = np.array([0.2, 0.0, 1.0])  # scaled: 0.2, 0, 1
    settings = RetrievalSettings(dense_weight=0.3, sentence_weight=0.5)
    fused = fuse(dense, lexical, settings, sentence)
    own = np.array([0.3, 0.3 * 0.5 + 0.7, 0.7 * 0.5])
    assert np.allclose(fused, 0.5 * own + 0.5 * np.array([0.2, 0.0, 1.0]))
    assert int(np.argmax(fused)) == 2  # the chunk with the matching sentence wins


def test_evidence_of_a_built_index(fake_embedder: FakeEmbedder) -> None:
    doc = make_document(
        "d.md", "Denmark sends troops. Lithuania sends thirty soldiers. Latvia trains pilots."
    )
    index, _ = build_index(
        [doc], embedder=fake_embedder, settings=ChunkSettings(max_tokens=16, overlap_tokens=0)
    )
    evidence = SentenceEvidence(index)
    assert not evidence.empty
    rows = np.arange(len(index.chunks))
    owners, dense, lexical = evidence.scores(
        rows, "thirty soldiers", fake_embedder.encode(["x"])[0]
    )
    assert len(owners) == len(dense) == len(lexical) == len(index.sentences.keys)
    # BM25 over sentences matches exactly the sentence that has the words.
    matched = [index.sentences.keys[i] for i in np.flatnonzero(lexical > 0)]
    assert [doc.text[a:b] for _, a, b in matched] == ["Lithuania sends thirty soldiers."]
