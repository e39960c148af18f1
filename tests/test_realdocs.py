"""The real documents end to end: indexed in place from ../shared/realdocs with the real
model, asked through the real service, cited by page (PDF) and section (HTML, DOCX)."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import SHARED

REALDOCS = SHARED / "realdocs"
pytestmark = pytest.mark.skipif(
    not REALDOCS.is_dir(), reason="the shared real documents are not beside this checkout"
)
FILES = (
    "pdf/libtasn1.pdf",
    "pdf/ch05-01-defining-structs.pdf",
    "html/ch10-02-traits.html",
    "docx/ch05-01-defining-structs.docx",
)


@pytest.fixture(scope="module")
def realdocs_settings(tmp_path_factory: pytest.TempPathFactory, embedder):  # type: ignore[no-untyped-def]
    """A corpus of four real files (a copy: the index test adds hostile ones) and its index."""
    from qa.config import Settings
    from qa.corpus import extraction_limits
    from qa.indexing import index_corpus
    from qa.service import chunk_settings

    root = tmp_path_factory.mktemp("realdocs")
    for name in FILES:
        (root / "corpus" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REALDOCS / name, root / "corpus" / name)
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index")
    stats, scan = index_corpus(
        settings.corpus_dir,
        index_dir=settings.index_dir,
        embedder=embedder,
        settings=chunk_settings(settings),
        limits=extraction_limits(settings),
    )
    assert stats.documents == 4 and not scan.skipped
    return settings


@pytest.fixture(scope="module")
def realdocs_service(realdocs_settings, embedder):  # type: ignore[no-untyped-def]
    from qa.service import QAService

    return QAService.from_settings(realdocs_settings, embedder)


@pytest.mark.parametrize(
    ("question", "doc_id", "answer", "page", "section"),
    [
        (
            "What does asn1Decoding generate?",
            "pdf/libtasn1.pdf",
            "generates an ASN.1 structure from a file",
            10,
            None,
        ),
        (
            "What does storing references to data owned by something else in a struct require?",
            "pdf/ch05-01-defining-structs.pdf",
            "requires the use of lifetimes",
            6,
            None,
        ),
        (
            "What are implementations of a trait on any type that satisfies the bounds called?",
            "html/ch10-02-traits.html",
            "are called blanket implementations",
            None,
            "Using Trait Bounds to Conditionally Implement Methods",
        ),
        (
            "What are structs that look similar to tuples called?",
            "docx/ch05-01-defining-structs.docx",
            "called tuple structs",
            None,
            "Creating Different Types with Tuple Structs",
        ),
    ],
)
def test_a_real_document_is_cited_by_page_and_section(  # type: ignore[no-untyped-def]
    realdocs_service, question: str, doc_id: str, answer: str, page: int | None, section: str | None
) -> None:
    result = realdocs_service.ask(question, k=5, filters={"doc_id": doc_id})
    hit = next(p for p in result.passages if answer in " ".join(p.chunk.text.split()))
    assert (hit.page, hit.section) == (page, section)  # one page, one heading per passage
    doc = realdocs_service.document(doc_id)
    assert doc.text[hit.chunk.start : hit.chunk.end] == hit.chunk.text
    if page is not None:  # the whole passage lies on its page
        (where,) = [p for p in doc.pages if p.page == page]
        assert where.start <= hit.chunk.start and hit.chunk.end <= where.end
    if result.answer is not None:
        assert result.answer.page == doc.page_at(result.answer.start)
        assert result.answer.section == doc.section_at(result.answer.start)
