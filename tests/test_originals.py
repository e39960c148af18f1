"""The originals kept for uploads, and finding the file a document was indexed from."""

from __future__ import annotations

from pathlib import Path

from qa.ingest.chunking import ChunkSettings
from qa.ingest.corpus import scan_corpus
from qa.ingest.formats import Limits
from qa.ingest.indexing import index_corpus, update_index
from qa.ingest.originals import OriginalStore, original_bytes
from tests.conftest import FakeEmbedder
from tests.docmaker import make_pdf


def test_the_original_is_the_kept_upload_or_the_unchanged_corpus_file(tmp_path: Path) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    data = make_pdf([["Revenue rose."]])
    (corpus / "q3.pdf").write_bytes(data)
    (corpus / "a.md").write_text("---\ntitle: A\n---\nBody.", encoding="utf-8")
    pdf, md = sorted(scan_corpus(corpus).documents, key=lambda d: d.format)[::-1]
    store = OriginalStore(index_dir)
    assert original_bytes(pdf, corpus_dir=corpus, store=store) == data
    assert original_bytes(md, corpus_dir=corpus, store=store) == (corpus / "a.md").read_bytes()
    (corpus / "q3.pdf").write_bytes(make_pdf([["Edited after indexing."]]))
    assert original_bytes(pdf, corpus_dir=corpus, store=store) is None  # not as indexed
    assert store.put(data) == pdf.source_hash == store.put(data)
    assert original_bytes(pdf, corpus_dir=corpus, store=store) == data
    (corpus / "a.md").unlink()
    assert original_bytes(md, corpus_dir=corpus, store=store) == b"Body."
    assert store.get("../../etc/passwd") is None


def test_qa_index_prunes_kept_files_that_no_document_names(
    tmp_path: Path, small_chunks: ChunkSettings
) -> None:
    corpus, index_dir = tmp_path / "corpus", tmp_path / "index"
    corpus.mkdir()
    (corpus / "q3.pdf").write_bytes(make_pdf([["Revenue rose."]]))
    update_index(scan_corpus(corpus).documents, index_dir=index_dir, embedder=FakeEmbedder(),
                 settings=small_chunks)  # fmt: skip
    store = OriginalStore(index_dir)
    kept = store.put((corpus / "q3.pdf").read_bytes())
    gone = store.put(b"an upload that was deleted")
    index_corpus(corpus, index_dir=index_dir, embedder=FakeEmbedder(), settings=small_chunks,
                 limits=Limits())  # fmt: skip
    assert store.get(kept) is not None and store.get(gone) is None
