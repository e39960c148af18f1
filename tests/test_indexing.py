from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexMismatchError
from qa.ingest.chunking import ChunkSettings
from qa.ingest.corpus import make_document, scan_corpus
from qa.ingest.indexing import update_index
from qa.search.fields import encoder_text
from qa.search.index import Index
from tests.conftest import FakeEmbedder


def docs(**texts: str) -> list:  # type: ignore[type-arg]
    return [make_document(f"{name}.md", text) for name, text in texts.items()]


def test_incremental_update_embeds_only_what_changed(
    tmp_path: Path, small_chunks: ChunkSettings
) -> None:
    emb = FakeEmbedder()
    first = update_index(
        docs(a="Alpha one. Alpha two.", b="Beta one.", c="Gamma one."),
        index_dir=tmp_path,
        embedder=emb,
        settings=small_chunks,
    )
    assert (first.added, first.embedded_chunks) == (3, 3)
    emb.encoded.clear()
    stats = update_index(
        docs(a="Alpha one. Alpha two.", b="Beta changed.", d="Delta new."),
        index_dir=tmp_path,
        embedder=emb,
        settings=small_chunks,
    )
    # The encoder reads each chunk after its heading context: here the document's title.
    assert emb.encoded == ["b: Beta changed.", "d: Delta new."]
    assert (stats.added, stats.updated, stats.removed, stats.unchanged) == (1, 1, 1, 1)
    index = Index.load(tmp_path)
    assert sorted(index.documents) == ["a.md", "b.md", "d.md"]
    assert {c.doc_id for c in index.chunks} == {"a.md", "b.md", "d.md"}
    # Reused vectors are the very vectors a fresh build computes.
    fresh = FakeEmbedder().encode(
        [encoder_text(index.documents[c.doc_id], c)[0] for c in index.chunks]
    )
    assert np.allclose(index.vectors(list(range(len(index.chunks)))), fresh, atol=1e-6)


def test_rebuild_embeds_everything_again(tmp_path: Path, small_chunks: ChunkSettings) -> None:
    emb = FakeEmbedder()
    update_index(
        docs(a="Alpha.", b="Beta."), index_dir=tmp_path, embedder=emb, settings=small_chunks
    )
    stats = update_index(
        docs(a="Alpha.", b="Beta."),
        index_dir=tmp_path,
        embedder=emb,
        settings=small_chunks,
        rebuild=True,
    )
    assert stats.embedded_chunks == 2


def test_changed_settings_need_rebuild(tmp_path: Path, small_chunks: ChunkSettings) -> None:
    emb = FakeEmbedder()
    update_index(docs(a="Alpha."), index_dir=tmp_path, embedder=emb, settings=small_chunks)
    with pytest.raises(IndexMismatchError, match="qa index --rebuild"):
        update_index(
            docs(a="Alpha."), index_dir=tmp_path, embedder=emb, settings=ChunkSettings(30, 5)
        )
    stats = update_index(
        docs(a="Alpha."),
        index_dir=tmp_path,
        embedder=emb,
        settings=ChunkSettings(30, 5),
        rebuild=True,
    )
    assert stats.chunks == 1


def test_empty_corpus_gives_an_empty_but_valid_index(
    tmp_path: Path, small_chunks: ChunkSettings
) -> None:
    stats = update_index([], index_dir=tmp_path, embedder=FakeEmbedder(), settings=small_chunks)
    assert (stats.documents, stats.chunks) == (0, 0)
    assert Index.load(tmp_path).search(np.ones((1, 64), np.float32), 5)[1].shape == (1, 0)


@pytest.mark.slow
def test_real_model_incremental_index_of_the_corpus(
    tmp_path: Path, corpus_copy: Path, embedder
) -> None:  # type: ignore[no-untyped-def]
    settings = ChunkSettings(200, 40)
    index_dir = tmp_path / "index"
    first = update_index(
        scan_corpus(corpus_copy).documents,
        index_dir=index_dir,
        embedder=embedder,
        settings=settings,
    )
    assert (first.documents, first.added) == (3, 3)
    before = Index.load(index_dir)
    target = corpus_copy / "denmark-additional-personnel-to-iraq.md"
    target.write_text(
        target.read_text(encoding="utf-8") + "\n\nA new closing line.", encoding="utf-8"
    )
    (corpus_copy / "lithuania-global-coalition-contribution.md").unlink()
    second = update_index(
        scan_corpus(corpus_copy).documents,
        index_dir=index_dir,
        embedder=embedder,
        settings=settings,
    )
    assert (second.updated, second.removed, second.unchanged) == (1, 1, 1)
    after = Index.load(index_dir)
    denmark = [c for c in after.chunks if c.doc_id.startswith("denmark")]
    assert second.embedded_chunks == len(denmark)
    kept = "lithuanian-troops-in-iraq-are-safe.md"
    old_rows = before.rows_by_document()[kept]
    new_rows = after.rows_by_document()[kept]
    assert np.array_equal(before.vectors(old_rows), after.vectors(new_rows))


def test_an_unchanged_pdf_is_neither_extracted_nor_embedded_again(
    tmp_path: Path, small_chunks: ChunkSettings
) -> None:
    from qa.ingest.formats.worker import ExtractionWorker
    from qa.ingest.indexing import reusable_documents
    from tests.docmaker import make_pdf

    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    (corpus / "reports").mkdir(parents=True)
    (corpus / "reports" / "q3.pdf").write_bytes(make_pdf([["Revenue rose."], ["Costs fell."]]))
    (corpus / "notes.md").write_text("# Notes\n\nPlain notes.", encoding="utf-8")
    emb = FakeEmbedder()
    first = update_index(
        scan_corpus(corpus).documents, index_dir=index_dir, embedder=emb, settings=small_chunks
    )
    assert first.added == 2
    stored = Index.load(index_dir).documents["reports/q3.pdf"]
    assert [p.page for p in stored.pages] == [1, 2] and stored.format == "pdf"
    emb.encoded.clear()
    with ExtractionWorker() as worker:
        scan = scan_corpus(
            corpus, known=reusable_documents(index_dir, rebuild=False), worker=worker
        )
        assert (scan.reused, worker.started) == (2, 0)  # no child, so no PDF was opened
    again = update_index(scan.documents, index_dir=index_dir, embedder=emb, settings=small_chunks)
    assert (again.unchanged, emb.encoded) == (2, [])
    assert reusable_documents(index_dir, rebuild=True) == {}
    # A changed file is read again.
    (corpus / "reports" / "q3.pdf").write_bytes(make_pdf([["Revenue fell."]]))
    changed = scan_corpus(corpus, known=reusable_documents(index_dir, rebuild=False))
    assert changed.reused == 1
    assert next(d for d in changed.documents if d.format == "pdf").text == "Revenue fell."


def test_index_corpus_skips_hostile_files_with_one_reason_each_and_indexes_the_rest(
    tmp_path: Path, small_chunks: ChunkSettings
) -> None:
    from qa.ingest.formats import Limits
    from qa.ingest.indexing import index_corpus
    from tests.docmaker import make_encrypted_pdf, make_pdf, make_zip_bomb

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    good = make_pdf([["Quarterly revenue rose."]])
    (corpus / "good.pdf").write_bytes(good)
    (corpus / "locked.pdf").write_bytes(make_encrypted_pdf())
    (corpus / "scan.pdf").write_bytes(make_pdf([[]]))
    (corpus / "cut.pdf").write_bytes(good[: len(good) // 2])
    (corpus / "bomb.docx").write_bytes(make_zip_bomb(16 << 20))
    (corpus / "notzip.docx").write_bytes(b"not a zip")
    (corpus / "nav.html").write_bytes(b"<html><body><nav>Home | About</nav></body></html>")
    (corpus / "huge.txt").write_bytes(b"x " * 40_000)
    (corpus / "notes.md").write_text("Plain notes stay.", encoding="utf-8")
    limits = Limits(max_file_bytes=64 << 10, max_inflated_bytes=8 << 20)
    stats, scan = index_corpus(
        corpus, index_dir=tmp_path / "index", embedder=FakeEmbedder(), settings=small_chunks,
        limits=limits,
    )  # fmt: skip
    assert stats.documents == 2 and sorted(d.doc_id for d in scan.documents) == [
        "good.pdf",
        "notes.md",
    ]
    reasons = scan.skipped
    assert "password-protected" in reasons["locked.pdf"]
    assert "no text layer" in reasons["scan.pdf"]
    assert "not a readable PDF" in reasons["cut.pdf"]
    assert "zip bomb" in reasons["bomb.docx"]
    assert "not a Word file" in reasons["notzip.docx"]
    assert "no main text" in reasons["nav.html"]
    assert "over the limit of 65,536 (QA_MAX_FILE_BYTES)" in reasons["huge.txt"]
    assert len(scan.warnings) == 7 and all("\n" not in w for w in scan.warnings)
    summary = scan.skipped_summary()
    assert (
        summary.startswith("skipped 7 files: ")
        and "locked.pdf (it is password-protected" in summary
    )
    # Nothing already indexed is lost when its file goes bad later.
    (corpus / "good.pdf").write_bytes(b"%PDF-1.7 damaged")
    stats, scan = index_corpus(
        corpus, index_dir=tmp_path / "index", embedder=FakeEmbedder(), settings=small_chunks,
        limits=limits,
    )  # fmt: skip
    assert scan.skipped["good.pdf"].endswith("; the version indexed before is kept")
    assert stats.documents == 2 and stats.unchanged == 2
