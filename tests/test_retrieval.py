from __future__ import annotations

import numpy as np
import pytest

from qa.errors import QAError
from qa.ingest.chunking import ChunkSettings
from qa.ingest.corpus import make_document
from qa.ingest.indexing import build_index
from qa.search.filters import matches, validate
from qa.search.retrieval import Query, RetrievalSettings, Retriever, fuse, minmax, ranks, select
from qa.types import Chunk
from tests.conftest import FakeEmbedder


def test_minmax_and_ranks_by_hand() -> None:
    assert minmax(np.array([2.0, 4.0, 3.0])).tolist() == [0.0, 1.0, 0.5]
    assert minmax(np.array([5.0, 5.0])).tolist() == [1.0, 1.0]
    assert ranks(np.array([0.2, 0.9, 0.5, 0.9])).tolist() == [4, 1, 3, 2]


def test_reciprocal_rank_fusion_by_hand() -> None:
    dense = np.array([0.9, 0.5, 0.1])
    lexical = np.array([1.0, 7.0, 3.0])
    fused = fuse(dense, lexical, RetrievalSettings(fusion="rrf", rrf_k=60))
    # row 0: ranks 1 and 3 -> 1/61 + 1/63; row 1: 2 and 1 -> 1/62 + 1/61; row 2: 3, 2
    expected = [1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62]
    assert np.allclose(fused, expected)
    assert int(np.argmax(fused)) == 1


def test_convex_fusion_by_hand() -> None:
    dense = np.array([0.9, 0.5, 0.1])  # scaled: 1, 0.5, 0
    lexical = np.array([1.0, 7.0, 4.0])  # scaled: 0, 1, 0.5
    fused = fuse(dense, lexical, RetrievalSettings(fusion="convex", dense_weight=0.3))
    assert np.allclose(fused, [0.3, 0.3 * 0.5 + 0.7, 0.7 * 0.5])


def test_single_method_rankings() -> None:
    dense = np.array([0.9, 0.5])
    lexical = np.array([1.0, 7.0])
    assert np.argmax(fuse(dense, lexical, RetrievalSettings(method="dense"))) == 0
    assert np.argmax(fuse(dense, lexical, RetrievalSettings(method="lexical"))) == 1


def test_select_drops_overlaps_and_caps_per_document() -> None:
    chunks = [
        Chunk("a", 0, 100, ""),
        Chunk("a", 80, 180, ""),
        Chunk("b", 0, 50, ""),
        Chunk("a", 180, 250, ""),
        Chunk("b", 60, 90, ""),
    ]
    assert select([0, 1, 2, 3, 4], chunks, 5, None) == [0, 2, 3, 4]
    assert select([1, 0, 2, 3], chunks, 2, None) == [1, 2]
    assert select([0, 1, 2, 3, 4], chunks, 5, 1) == [0, 2]
    assert select([0, 3, 2], chunks, 2, None) == [0, 3]  # touching is not overlapping


def test_filters_validate_and_match() -> None:
    doc = make_document(
        "news/a.md",
        "text",
        title="Denmark to send troops",
        metadata={"date": "2020-01-08", "source": "Rudaw", "tags": "x"},
    )
    assert matches(doc, {"source": "rudaw"})
    assert matches(doc, {"source": ["Reuters", "Rudaw"]})
    assert matches(doc, {"date_from": "2020-01-01", "date_to": "2020"})
    assert not matches(doc, {"date_from": "2020-02"})
    assert matches(doc, {"title": "denmark"}) and not matches(doc, {"title": "canada"})
    assert matches(doc, {"doc_id": "news/a.md"})
    assert not matches(make_document("b.md", "t"), {"date_to": "2030"})  # undated
    with pytest.raises(QAError, match="filters.date_from must be an ISO date"):
        validate({"date_from": "yesterday"})
    with pytest.raises(QAError, match="filters.source must be a non-empty list"):
        validate({"source": []})


def _retriever(settings: RetrievalSettings | None = None) -> Retriever:
    docs = [
        make_document(f"{name}.md", text, metadata=meta)
        for name, text, meta in [
            (
                "denmark",
                "Denmark leads the NATO mission. Denmark sends troops. " * 6,
                {"source": "Rudaw"},
            ),
            (
                "lithuania",
                "Lithuania sends troops to Iraq. Troops train forces. " * 6,
                {"source": "LAF"},
            ),
            (
                "canada",
                "Canada led the mission before. Canada trains forces. " * 6,
                {"source": "CBC"},
            ),
        ]
    ]
    emb = FakeEmbedder()
    index, _ = build_index(docs, embedder=emb, settings=ChunkSettings(20, 5))
    return Retriever(embedder=emb, index=index, settings=settings)


def test_search_returns_clean_passages_with_all_scores() -> None:
    retriever = _retriever()
    passages = retriever.search(Query("Which country leads the NATO mission?", k=4))
    assert len(passages) == 4 and passages[0].chunk.doc_id == "denmark.md"
    assert [p.rank for p in passages] == [1, 2, 3, 4]
    for p in passages:
        assert p.scores.lexical is not None and p.score == p.scores.fused
    for a in passages:
        for b in passages:
            if a is not b and a.chunk.doc_id == b.chunk.doc_id:
                assert a.chunk.end <= b.chunk.start or b.chunk.end <= a.chunk.start


def test_a_filter_still_returns_k_when_k_chunks_match() -> None:
    retriever = _retriever()
    canada_rows = [c for c in retriever.index.chunks if c.doc_id == "canada.md"]
    k = min(3, len(canada_rows))
    passages = retriever.search(Query("Denmark NATO mission", k=k, filters={"source": "CBC"}))
    assert len(passages) == k and {p.chunk.doc_id for p in passages} == {"canada.md"}
    assert retriever.search(Query("Denmark", k=5, filters={"source": "nobody"})) == []


def test_cap_per_document_and_dense_only_still_reports_bm25() -> None:
    passages = _retriever().search(Query("troops forces", k=3, max_per_document=1))
    assert len({p.chunk.doc_id for p in passages}) == 3
    dense_only = _retriever(RetrievalSettings(method="dense")).search(Query("troops", k=2))
    assert all(p.scores.fused == p.scores.dense for p in dense_only)
    assert all(p.scores.lexical is not None and p.scores.lexical > 0 for p in dense_only)
