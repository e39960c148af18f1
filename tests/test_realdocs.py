"""The real documents end to end: indexed in place from ../shared/realdocs with the real
model, asked through the real service, cited by page (PDF) and section (HTML, DOCX)."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import AUTH, KEY, SHARED, serving
from tests.docmaker import make_encrypted_pdf

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
    from qa.ingest.chunking import chunk_settings
    from qa.ingest.corpus import extraction_limits
    from qa.ingest.indexing import index_corpus

    root = tmp_path_factory.mktemp("realdocs")
    for name in FILES:
        (root / "corpus" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REALDOCS / name, root / "corpus" / name)
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", api_key=KEY)
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
            "3.3 Invoking asn1Decoding",  # a heading by its font size (TeX's 14.3 pt)
        ),
        (
            "What does storing references to data owned by something else in a struct require?",
            "pdf/ch05-01-defining-structs.pdf",
            "requires the use of lifetimes",
            6,
            "Ownership of Struct Data",
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


def test_the_manuals_contents_and_index_rank_after_its_prose(realdocs_service) -> None:  # type: ignore[no-untyped-def]
    """The TeX manual's index entry "Supported ASN.1 types, list of . . . 2" scores best for
    this question; a passage that points at the answer is no answer, so prose comes first."""
    from qa.search.fields import is_navigation

    question = "Which ASN.1 option does libtasn1 not support?"
    retriever = realdocs_service.retriever
    ranked = retriever.rank(question, retriever.embed_question(question), 50, None)
    best = retriever.index.chunks[int(ranked.rows[int(ranked.fused.argmax())])]
    assert best.doc_id == "pdf/libtasn1.pdf" and is_navigation(best.text)
    result = realdocs_service.ask(question, k=5)
    assert result.passages and not any(is_navigation(p.chunk.text) for p in result.passages)
    assert "Index" not in " ".join(result.passages[0].heading_path or ())


# ----- over HTTP, against the real app -------------------------------------------------------


@pytest.fixture(scope="module")
def realdocs_client(realdocs_settings, embedder):  # type: ignore[no-untyped-def]
    with serving(realdocs_settings, embedder) as client:
        yield client


def _span(client, doc_id: str, page: int, phrase: str) -> tuple[int, int, dict]:  # type: ignore[no-untyped-def,type-arg]
    body = client.get(f"/documents/{doc_id}").json()
    where = body["pages"][page - 1]
    start = body["text"].index(phrase, where["start"])
    return start, start + len(phrase), body


def test_ask_cites_page_and_section_over_http(realdocs_client) -> None:  # type: ignore[no-untyped-def]
    response = realdocs_client.post(
        "/ask",
        json={
            "question": "What does asn1Decoding generate?",
            "filters": {"doc_id": "pdf/libtasn1.pdf"},
        },
    )
    assert response.status_code == 200
    body = response.json()
    first = body["passages"][0]
    assert (first["page"], first["section"]) == (10, "3.3 Invoking asn1Decoding")
    assert first["heading_path"] == ["Libtasn1", "3 Utilities", "3.3 Invoking asn1Decoding"]
    if body["answer"] is not None:
        assert body["answer"]["page"] == 10
    html = realdocs_client.post(
        "/ask",
        json={
            "question": "What are blanket implementations?",
            "filters": {"doc_id": "html/ch10-02-traits.html"},
        },
    ).json()
    assert all(p["page"] is None and p["section"] for p in html["passages"])


def test_documents_carry_their_format_and_pages(realdocs_client) -> None:  # type: ignore[no-untyped-def]
    pdf = realdocs_client.get("/documents/pdf/libtasn1.pdf").json()
    assert pdf["format"] == "pdf" and len(pdf["pages"]) == 36
    assert pdf["pages"][0]["page"] == 1 and pdf["pages"][1]["start"] == pdf["pages"][0]["end"] + 2
    html = realdocs_client.get("/documents/html/ch10-02-traits.html").json()
    assert (html["format"], html["pages"]) == ("html", None)


def test_the_original_comes_back_as_indexed_and_html_never_inline(realdocs_client) -> None:  # type: ignore[no-untyped-def]
    pdf = realdocs_client.get("/documents/pdf/libtasn1.pdf/original")
    assert (
        pdf.status_code == 200 and pdf.content == (REALDOCS / "pdf" / "libtasn1.pdf").read_bytes()
    )
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["x-content-type-options"] == "nosniff"
    html = realdocs_client.get("/documents/html/ch10-02-traits.html/original")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.headers["content-disposition"].startswith("attachment;")
    assert html.headers["x-content-type-options"] == "nosniff"
    assert html.headers["content-security-policy"] == "sandbox"
    missing = realdocs_client.get("/documents/pdf/nope.pdf/original")
    assert missing.status_code == 404 and missing.json()["error"] == "document_not_found"


def test_a_page_image_highlights_the_cited_span(realdocs_client) -> None:  # type: ignore[no-untyped-def]
    from PIL import Image

    start, end, _ = _span(realdocs_client, "pdf/libtasn1.pdf", 2, "a library for")
    url = "/documents/pdf/libtasn1.pdf/pages/2.png"
    shown = realdocs_client.get(url, params={"start": start, "end": end})
    plain = realdocs_client.get(url)
    assert shown.status_code == plain.status_code == 200
    assert shown.headers["content-type"] == "image/png"
    a = Image.open(io.BytesIO(shown.content)).convert("RGB")
    b = Image.open(io.BytesIO(plain.content)).convert("RGB")
    assert a.size == b.size and max(a.size) <= 1400
    changed = sum(
        1
        for x in range(0, a.width, 3)
        for y in range(0, a.height, 3)
        if a.getpixel((x, y)) != b.getpixel((x, y))
    )
    assert changed > 50  # the highlight, and only there: the same page otherwise


@pytest.mark.parametrize(
    ("url", "status", "code"),
    [
        ("/documents/pdf/libtasn1.pdf/pages/37.png", 404, "page_not_found"),
        ("/documents/html/ch10-02-traits.html/pages/1.png", 404, "page_not_found"),
        ("/documents/pdf/libtasn1.pdf/pages/2.png?start=50&end=10", 400, "invalid_span"),
        ("/documents/pdf/libtasn1.pdf/pages/2.png?start=5", 400, "invalid_span"),
        ("/documents/pdf/libtasn1.pdf/pages/2.png?start=0&end=99999999", 400, "invalid_span"),
        ("/documents/pdf/libtasn1.pdf/pages/2.png?start=0&end=10", 400, "invalid_span"),
        ("/documents/pdf/libtasn1.pdf/pages/0.png", 422, "invalid_request"),
    ],
)
def test_bad_page_requests_are_clear_errors(
    realdocs_client, url: str, status: int, code: str
) -> None:  # type: ignore[no-untyped-def]
    response = realdocs_client.get(url)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code and response.json()["message"]


@pytest.fixture
def upload_client(realdocs_settings, embedder, tmp_path: Path) -> Iterator:  # type: ignore[no-untyped-def,type-arg]
    """The real app on a copy of the realdocs corpus and index, for writes."""
    shutil.copytree(realdocs_settings.corpus_dir, tmp_path / "corpus")
    shutil.copytree(realdocs_settings.index_dir, tmp_path / "index")
    settings = realdocs_settings.model_copy(
        update={"corpus_dir": tmp_path / "corpus", "index_dir": tmp_path / "index"}
    )
    with serving(settings, embedder) as client:
        yield client, settings


def test_uploads_of_pdf_html_and_docx_are_answered_at_once_and_keep_their_original(
    upload_client,
) -> None:  # type: ignore[no-untyped-def]
    client, settings = upload_client
    box = (REALDOCS / "pdf" / "ch15-01-box.pdf").read_bytes()
    added = client.post(
        "/documents",
        headers=AUTH,
        files={"file": ("box.pdf", box, "application/pdf")},
        data={"doc_id": "up/box.pdf"},
    )
    assert added.status_code == 201, added.text
    assert added.json()["doc_id"] == "up/box.pdf" and added.json()["chunks"] > 5
    asked = client.post(
        "/ask",
        json={
            "question": "How do boxes enable recursive types?",
            "filters": {"doc_id": "up/box.pdf"},
        },
    ).json()
    assert asked["passages"][0]["page"] == 2
    assert client.get("/documents/up/box.pdf/original").content == box
    assert (settings.corpus_dir / "up" / "box.pdf").read_bytes() == box  # mirrored for qa index
    assert client.get("/documents/up/box.pdf/pages/2.png").status_code == 200
    page = (
        b"<html><head><title>Up</title><script>alert(1)</script></head>"
        b"<body><main><h1>Up</h1><p>Uploaded pages never run script.</p></main></body></html>"
    )
    assert (
        client.post(
            "/documents", headers=AUTH, files={"file": ("up.html", page, "text/html")}
        ).status_code
        == 201
    )
    served = client.get("/documents/up.html/original")
    assert served.content == page and served.headers["content-disposition"].startswith(
        "attachment;"
    )
    docx = (REALDOCS / "docx" / "ch10-02-traits.docx").read_bytes()
    assert (
        client.post("/documents", headers=AUTH, files={"file": ("t.docx", docx)}).status_code == 201
    )
    assert client.get("/documents/t.docx").json()["format"] == "docx"
    # Deleting drops the kept original too.
    assert client.delete("/documents/up/box.pdf", headers=AUTH).status_code == 200
    assert not any(
        p.name == __import__("hashlib").sha256(box).hexdigest()
        for p in (settings.index_dir / "originals").iterdir()
    )


@pytest.mark.parametrize(
    ("name", "data", "status", "code", "reason"),
    [
        ("locked.pdf", make_encrypted_pdf(), 422, "unreadable_document", "password-protected"),
        ("broken.pdf", b"%PDF-1.7 not really", 422, "unreadable_document", "not a readable PDF"),
        ("bomb.docx", b"PK\x03\x04 not a zip", 422, "unreadable_document", "not a Word file"),
        ("nav.html", b"<nav>Home</nav>", 422, "unreadable_document", "no main text"),
        ("sheet.ods", b"PK", 415, "unsupported_media_type", "cannot read .ods files"),
    ],
)
def test_bad_uploads_get_their_reason_and_lose_nothing(
    upload_client, name: str, data: bytes, status: int, code: str, reason: str
) -> None:  # type: ignore[no-untyped-def]
    client, _ = upload_client
    before = client.get("/health").json()["documents"]
    response = client.post("/documents", headers=AUTH, files={"file": (name, data)})
    assert response.status_code == status, response.text
    assert response.json()["error"] == code and reason in response.json()["message"]
    assert client.get("/health").json()["documents"] == before
