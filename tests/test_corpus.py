from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import CorpusError
from qa.ingest.corpus import parse_document, scan_corpus, split_front_matter
from qa.ingest.formats import supported_suffixes
from tests.conftest import CORPUS, SHARED


def test_front_matter_is_metadata_and_the_body_is_kept_byte_for_byte() -> None:
    raw = '---\ntitle: "A title"\ndate: 2020-01-08\nsource: Rudaw\n---\n  Body\r\nline two.\n'
    meta, body = split_front_matter(raw)
    assert meta == {"title": "A title", "date": "2020-01-08", "source": "Rudaw"}
    assert body == "  Body\r\nline two.\n"
    doc = parse_document("x/a.md", raw)
    assert (doc.doc_id, doc.title, doc.text) == ("x/a.md", "A title", body)
    assert doc.metadata == {"date": "2020-01-08", "source": "Rudaw"}


def test_a_document_without_front_matter_gets_its_title_from_the_file_name() -> None:
    doc = parse_document("notes/field-report_2.txt", "--- not front matter\nText.")
    assert doc.title == "field report 2"
    assert doc.text == "--- not front matter\nText."


def test_content_hash_changes_with_text_title_or_metadata() -> None:
    base = parse_document("a.md", "---\ntitle: T\n---\nBody.")
    assert parse_document("a.md", "---\ntitle: T\n---\nBody!").content_hash != base.content_hash
    assert parse_document("a.md", "---\ntitle: U\n---\nBody.").content_hash != base.content_hash
    assert (
        parse_document("a.md", "---\ntitle: T\nx: 1\n---\nBody.").content_hash != base.content_hash
    )
    assert parse_document("b.md", "---\ntitle: T\n---\nBody.").content_hash == base.content_hash


def test_scan_reads_md_and_txt_and_warns_about_the_rest(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.md").write_text("---\ntitle: A\n---\nAlpha text.", encoding="utf-8")
    (tmp_path / "b.txt").write_bytes("\ufeffBeta text.".encode())
    (tmp_path / "c.pdf").write_bytes(b"%PDF-1.4")
    (tmp_path / "d.odt").write_bytes(b"PK")
    (tmp_path / "empty.md").write_text("---\ntitle: E\n---\n \n", encoding="utf-8")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    (tmp_path / "bad.md").write_text("---\n: [unclosed\n---\nText", encoding="utf-8")
    (tmp_path / ".hidden.md").write_text("secret", encoding="utf-8")
    scan = scan_corpus(tmp_path)
    assert [d.doc_id for d in scan.documents] == ["b.txt", "sub/a.md"]
    assert scan.documents[0].text == "Beta text."  # the byte-order mark is not text
    warnings = "\n".join(scan.warnings)
    assert f"d.odt: only {supported_suffixes()} files are read" in warnings
    assert "c.pdf: it is not a readable PDF" in warnings
    assert "empty.md: it has no text" in warnings
    assert "latin1.txt: it is not valid UTF-8" in warnings
    assert "bad.md: invalid YAML front matter" in warnings
    assert ".hidden" not in warnings


def test_missing_corpus_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        scan_corpus(tmp_path / "nope")


def test_the_seed_articles_are_in_the_corpus_verbatim() -> None:
    docs = {d.doc_id: d for d in scan_corpus(CORPUS).documents}
    assert len(docs) == 3
    assert docs["lithuanian-troops-in-iraq-are-safe.md"].metadata["date"] == "2020-01-08"
    assert docs["denmark-additional-personnel-to-iraq.md"].metadata["source"] == "Rudaw"
    seed = SHARED / "corpus-seed"
    if not seed.is_dir():
        pytest.skip("the shared seed corpus is not beside this checkout")
    originals = [p.read_text(encoding="utf-8") for p in sorted(seed.glob("*.txt"))]
    for doc in docs.values():
        assert any(orig.endswith(doc.text) for orig in originals), doc.doc_id
