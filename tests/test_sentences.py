from __future__ import annotations

from pathlib import Path

import numpy as np

from qa.ingest.chunking import ChunkSettings
from qa.ingest.corpus import make_document
from qa.ingest.indexing import build_index, update_index
from qa.search.index import Index
from qa.search.sentences import SentenceTable
from qa.service import QAService
from qa.text import split_sentences
from tests.conftest import FakeEmbedder

DOCS = [
    make_document("a.md", "Denmark leads the mission. It sends 285 troops. Canada led it before."),
    make_document("b.md", "Lithuania deploys soldiers. They train local forces in Iraq."),
]


def test_every_sentence_of_every_chunk_is_stored_once(tmp_path: Path) -> None:
    emb = FakeEmbedder()
    index, _ = build_index(DOCS, embedder=emb, settings=ChunkSettings(8, 4))
    expected = {
        (c.doc_id, c.start + s.start, c.start + s.end)
        for c in index.chunks
        for s in split_sentences(c.text)
    }
    assert set(index.sentences.keys) == expected
    assert len(index.sentences.keys) == len(expected)  # overlap does not duplicate rows
    docs = {d.doc_id: d.text for d in DOCS}
    for doc_id, start, end in index.sentences.keys:
        want = FakeEmbedder()._vectors([docs[doc_id][start:end]])[0]
        got = index.sentences.similarities([(doc_id, start, end)], want)[0]
        assert abs(got - 1.0) < 2e-3  # float16 storage
    index.save(tmp_path)
    assert Index.load(tmp_path).sentences.keys == index.sentences.keys


def test_incremental_updates_keep_and_drop_sentences_with_their_documents(tmp_path: Path) -> None:
    emb = FakeEmbedder()
    update_index(DOCS, index_dir=tmp_path, embedder=emb, settings=ChunkSettings(40, 10))
    before = Index.load(tmp_path).sentences.by_document()["a.md"]
    update_index(DOCS[:1], index_dir=tmp_path, embedder=emb, settings=ChunkSettings(40, 10))
    after = Index.load(tmp_path).sentences
    assert {k[0] for k in after.keys} == {"a.md"}
    assert after.keys == before.keys and np.array_equal(after.vectors, before.vectors)


def test_asking_uses_stored_sentence_vectors_not_the_model(tmp_path: Path) -> None:
    emb = FakeEmbedder()
    index, _ = build_index(DOCS, embedder=emb, settings=ChunkSettings(40, 10))
    service = QAService(embedder=emb, index=index)
    emb.encoded.clear()
    service.ask("Who leads the mission?", k=2)
    assert emb.encoded == ["Who leads the mission?"]


def test_missing_sentence_vectors_fall_back_to_the_model(tmp_path: Path) -> None:
    emb = FakeEmbedder()
    index, _ = build_index(DOCS, embedder=emb, settings=ChunkSettings(40, 10))
    bare = Index.create(
        vectors=index.vectors(list(range(len(index.chunks)))),
        chunks=index.chunks,
        documents=index.documents,
        model=emb.identity.as_dict(),
        chunking={},
    )
    service = QAService(embedder=emb, index=bare)
    emb.encoded.clear()
    result = service.ask("Who leads the mission?", k=2)
    assert len(emb.encoded) > 1  # the question and then the candidate sentences
    assert result.passages


def test_a_sheet_rows_cells_stay_one_sentence_whatever_they_end_with() -> None:
    from qa.text import split_sentences

    text = "Operator: ? · Explanation: Error propagation\n\nOperator: ! · Explanation: Never. Ends."
    got = [text[s.start : s.end] for s in split_sentences(text)]
    # The " · " between cells is no sentence break; a full stop inside a cell still is.
    assert got == [
        "Operator: ? · Explanation: Error propagation",
        "Operator: ! · Explanation: Never.",
        "Ends.",
    ]


def test_sentence_vectors_widen_exactly_whatever_converts_them() -> None:
    # rows_float32 converts float16 through torch (faster); the numbers must be numpy's.
    vectors = np.random.default_rng(3).standard_normal((50, 8)).astype(np.float16)
    table = SentenceTable([("a.md", i, i + 1) for i in range(50)], vectors)
    rows = [49, 0, 7, 7]
    wide = table.rows_float32(rows)
    assert wide.dtype == np.float32 and wide.shape == (4, 8)
    assert np.array_equal(wide, vectors[rows].astype(np.float32))
    assert np.array_equal(table.rows_float32(np.array([3])), vectors[[3]].astype(np.float32))
    # More rows than one slice of the conversion holds (32,768 numbers).
    big = np.random.default_rng(4).standard_normal((9000, 8)).astype(np.float16)
    table = SentenceTable([("b.md", i, i + 1) for i in range(9000)], big)
    everything = list(range(8999, -1, -1))
    assert np.array_equal(table.rows_float32(everything), big[everything].astype(np.float32))
