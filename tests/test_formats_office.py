"""Slides, spreadsheets, EPUB and mail (#20) on real files made with the real libraries
(tests/officemaker.py), hostile ones of each kind, and the real service over HTTP."""

from __future__ import annotations

import warnings
from pathlib import Path
from urllib.parse import quote

import pytest

from qa.ingest.chunking import ChunkSettings, chunk_document, word_counter
from qa.ingest.corpus import document_from, scan_corpus
from qa.ingest.formats import Limits, extract
from qa.types import PageRange, Section
from tests.conftest import AUTH, SHARED, seed, serving
from tests.docmaker import make_docx, make_zip_bomb
from tests.officemaker import (
    make_climbing_zip,
    make_eml,
    make_epub,
    make_pptx,
    make_xlsx,
    xhtml,
)

DECK = [
    {
        "title": "Ownership rules",
        "boxes": [(5, 2, "Right column"), (0.5, 2, "Each value has an owner\nOne owner at a time")],
        "table": [["Operator", "Explanation"], ["..=", "Right-inclusive range literal"]],
        "notes": "Say the rules aloud.",
    },
    {
        "title": None,
        "boxes": [(1, 1, "A slide without a title")],
        "group": [(1, 4, "low"), (1, 3, "high")],
    },
]
WORKBOOK = {
    "Operators": [
        ["Operator", "Explanation"],
        ["..=", "Right-inclusive range literal"],
        [None, None],
        ["?", "Error propagation"],
    ],
    "Numbers": [["Name", None, "Value"], ["pi", "ignored?", 3.0], ["e", None, 2.5]],
}


def _reason(data: bytes, doc_id: str) -> str:
    with pytest.raises(ValueError) as info:
        extract(data, doc_id, limits=Limits())
    return str(info.value)


def _at(text: str, section: Section) -> str:
    return text[section.start : section.start + len(section.title)]


# ----- each reader ---------------------------------------------------------------------------


def test_a_slide_is_a_page_its_title_a_section_in_reading_order() -> None:
    got = extract(make_pptx(DECK, title="Rust deck"), "deck.pptx")
    assert got.format == "pptx" and got.title == "Rust deck"
    blocks = got.text.split("\n\n")
    assert blocks == [
        "Ownership rules",
        "Each value has an owner",
        "One owner at a time",
        "Right column",  # same top, further right: after the left box
        "Operator · Explanation",
        "Operator: ..= · Explanation: Right-inclusive range literal",
        "Speaker notes: Say the rules aloud.",
        "A slide without a title",
        "high",  # inside the group, top to bottom
        "low",
    ]
    first, second = got.pages
    assert got.text[first.start : first.end].startswith("Ownership rules")
    assert got.text[first.start : first.end].endswith("Say the rules aloud.")
    assert got.text[second.start : second.end] == "A slide without a title\n\nhigh\n\nlow"
    assert [(s.level, s.title) for s in got.sections] == [(1, "Ownership rules"), (1, "Slide 2")]
    assert _at(got.text, got.sections[0]) == "Ownership rules"
    assert got.sections[1].start == second.start


def test_a_sheet_is_a_section_and_each_row_carries_its_header() -> None:
    got = extract(make_xlsx(WORKBOOK, title="Cheat sheet"), "ops.xlsx")
    assert got.format == "xlsx" and got.title == "Cheat sheet"
    assert got.text.split("\n\n") == [
        "Operators",
        "Operator: ..= · Explanation: Right-inclusive range literal",
        "Operator: ? · Explanation: Error propagation",
        "Numbers",
        "Name: pi · Column B: ignored? · Value: 3",
        "Name: e · Value: 2.5",
    ]
    assert [s.title for s in got.sections] == ["Operators", "Numbers"]
    assert all(_at(got.text, s) == s.title for s in got.sections)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("ops.csv", b'Operator,Explanation\r\n..=,"Right-inclusive\nrange literal"\r\n'),
        ("ops.csv", b"Operator;Explanation\n..=;Right-inclusive range literal\n"),
        ("ops.tsv", b"\xef\xbb\xbfOperator\tExplanation\n..=\tRight-inclusive range literal\n"),
    ],
)
def test_a_csv_is_one_sheet_named_after_its_file(name: str, data: bytes) -> None:
    got = extract(data, name)
    assert got.text == f"{name}\n\nOperator: ..= · Explanation: Right-inclusive range literal"
    assert got.sections == (Section(0, 1, name),)


def test_an_epub_reads_its_spine_in_order_with_its_headings() -> None:
    chapters = [
        (
            "one.xhtml",
            xhtml("One", "<h1>Getting Started</h1><p>Install it.</p><h2>Hello</h2><p>Hi.</p>"),
        ),
        ("two.xhtml", xhtml("Interlude", "<nav>skip me</nav><p>A chapter without a heading.</p>")),
    ]
    data = make_epub(chapters, title="The Book", author="Ferris", date="2024-01-02", spine=[1, 0])
    got = extract(data, "book.epub")
    assert got.title == "The Book" and dict(got.metadata) == {
        "author": "Ferris",
        "date": "2024-01-02",
    }
    assert got.text == (
        "A chapter without a heading.\n\nGetting Started\n\nInstall it.\n\nHello\n\nHi."
    )
    assert [(s.level, s.title) for s in got.sections] == [
        (1, "Interlude"),
        (1, "Getting Started"),
        (2, "Hello"),
    ]
    assert all(_at(got.text, s) == s.title for s in got.sections[1:])


def test_a_mail_has_its_subject_sender_body_and_readable_attachments() -> None:
    docx = make_docx([("Budget", 1), ("The budget grows by ten percent.", None)])
    data = make_eml(
        subject="Budget plan",
        body="Please read the attached budget.\n",
        attachments=[("../../budget.docx", docx), ("photo.bin", b"\x00\x01")],
    )
    got = extract(data, "mail.eml")
    assert got.title == "Budget plan"
    assert got.metadata["from"] == "Ada Lovelace <ada@example.org>"
    assert got.metadata["to"] == "Team <team@example.org>"
    assert got.metadata["date"] == "Thu, 03 Dec 2026 10:00:00 +0000"
    assert got.metadata["attachments"] == ["budget.docx"]  # no folders; unread kinds left out
    assert got.text.endswith("Please read the attached budget.")
    assert got.attachments == (("budget.docx", docx),)


def test_a_mail_with_only_an_html_body_is_read_by_the_html_rules() -> None:
    html = "<html><body><nav>menu</nav><h1>Agenda</h1><p>We meet on Friday.</p></body></html>"
    message = make_eml(subject="Meeting", body="", html=html)
    got = extract(message.replace(b"text/plain", b"text/x-none"), "m.eml")
    assert got.text.endswith("Agenda\n\nWe meet on Friday.") and "menu" not in got.text
    assert [(s.title, _at(got.text, s)) for s in got.sections] == [("Agenda", "Agenda")]


def test_library_warnings_do_not_reach_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    import openpyxl

    real = openpyxl.load_workbook

    def warning_load(*args: object, **kwargs: object) -> object:
        warnings.warn("Data Validation extension is not supported", UserWarning, stacklevel=1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(openpyxl, "load_workbook", warning_load)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = extract(make_xlsx(WORKBOOK), "ops.xlsx")
    assert "Error propagation" in got.text


# ----- chunks and citations ------------------------------------------------------------------


def test_rows_are_cited_exactly_and_never_split_or_mixed_across_sheets() -> None:
    rows = [["Operator", "Explanation"]] + [[f"op{i}", f"meaning number {i}"] for i in range(300)]
    data = make_xlsx({"First": rows, "Second": rows[:5]})
    doc = document_from("ops.xlsx", extract(data, "ops.xlsx"), data=data)
    chunks = chunk_document(doc, count=word_counter, settings=ChunkSettings(max_tokens=60))
    assert len(chunks) > 10
    second = doc.sections[1].start
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        assert chunk.end <= second or chunk.start >= second  # one sheet per passage
        for line in chunk.text.split("\n\n"):  # whole rows only
            assert line in ("First", "Second") or line.startswith("Operator: op")
            assert line.count("Explanation:") <= 1
    assert doc.heading_path_at(chunks[-1].start) == ("Second",)


def test_a_slide_passage_lies_on_its_slide() -> None:
    data = make_pptx(DECK)
    doc = document_from("deck.pptx", extract(data, "deck.pptx"), data=data)
    for chunk in chunk_document(doc, count=word_counter, settings=ChunkSettings(max_tokens=20)):
        page = doc.page_at(chunk.start)
        where = next(p for p in doc.pages if p.page == page)
        assert where.start <= chunk.start and chunk.end <= where.end
    assert doc.page_at(doc.text.index("high")) == 2
    assert doc.heading_path_at(doc.text.index("Right column")) == ("Ownership rules",)


# ----- hostile files -------------------------------------------------------------------------


def _folder(root: Path) -> dict[str, bytes]:
    docx = make_docx([("Budget", 1), ("The budget grows by ten percent.", None)])
    files = {
        "deck.pptx": make_pptx(DECK),
        "ops.xlsx": make_xlsx(WORKBOOK),
        "ops.csv": b"Operator,Explanation\n..=,Right-inclusive range literal\n",
        "book.epub": make_epub(
            [("c.xhtml", xhtml("C", "<h1>Cargo</h1><p>Cargo builds.</p>"))], title="B"
        ),
        "mail.eml": make_eml(
            subject="Budget plan",
            body="Please read the attached budget.",
            attachments=[("budget.docx", docx), ("bomb.xlsx", make_zip_bomb(3 << 30))],
        ),
        "fake.pptx": b"plain text, not a zip",
        "fake.xlsx": b"plain text, not a zip",
        "fake.epub": b"plain text, not a zip",
        "climb.epub": make_climbing_zip("epub"),
        "climb.docx": make_climbing_zip("docx"),
        "long.csv": b"a,b\n" + b"x" * (10 << 20) + b",y\n",
    }
    root.mkdir()
    for name, data in files.items():
        (root / name).write_bytes(data)
    return files


def test_each_hostile_file_is_skipped_with_its_reason_and_the_rest_is_read(tmp_path: Path) -> None:
    _folder(tmp_path / "corpus")
    scan = scan_corpus(tmp_path / "corpus")
    assert sorted(d.doc_id for d in scan.documents) == [
        "book.epub",
        "deck.pptx",
        "mail.eml",
        "mail.eml#budget.docx",
        "ops.csv",
        "ops.xlsx",
    ]
    reasons = scan.skipped
    assert "not a PowerPoint file" in reasons["fake.pptx"]
    assert "not an Excel file" in reasons["fake.xlsx"]
    assert "not an EPUB book" in reasons["fake.epub"]
    assert "outside the archive ('../../evil.txt')" in reasons["climb.epub"]
    assert "outside the archive ('../../evil.txt')" in reasons["climb.docx"]
    assert "line 2 is 10,485,763 characters long" in reasons["long.csv"]
    assert "attached to mail.eml" in reasons["mail.eml#bomb.xlsx"]
    assert "a zip bomb" in reasons["mail.eml#bomb.xlsx"]
    assert len(scan.warnings) == len(reasons) == 7  # one line each
    assert sorted(p.name for p in tmp_path.rglob("evil*")) == []  # nothing written outside
    attached = next(d for d in scan.documents if d.doc_id == "mail.eml#budget.docx")
    assert attached.title == "budget.docx — in: Budget plan"
    assert attached.metadata["attached_to"] == "mail.eml"
    assert attached.format == "docx" and "ten percent" in attached.text


def test_an_unchanged_mail_keeps_its_attachments_without_reading_them(tmp_path: Path) -> None:
    _folder(tmp_path / "corpus")
    first = scan_corpus(tmp_path / "corpus")
    known = {d.doc_id: d for d in first.documents}
    again = scan_corpus(tmp_path / "corpus", known=known)
    assert {d.doc_id for d in again.documents} == set(known)
    assert again.reused == len(known)


# ----- the real service over HTTP ------------------------------------------------------------


slow = pytest.mark.slow  # the real model, the real app


@pytest.fixture(scope="module")
def office_client(tmp_path_factory: pytest.TempPathFactory, embedder):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("office")
    settings = seed(root, embedder)
    files = _folder(root / "office")
    for name, data in files.items():
        (settings.corpus_dir / name).write_bytes(data)
    from qa.ingest.chunking import chunk_settings
    from qa.ingest.indexing import update_index

    update_index(
        scan_corpus(settings.corpus_dir).documents,
        index_dir=settings.index_dir,
        embedder=embedder,
        settings=chunk_settings(settings),
    )
    with serving(settings, embedder) as client:
        yield client, files


@slow
def test_a_row_is_found_and_cited_on_its_own_through_the_service(office_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = office_client
    body = client.post(
        "/ask",
        json={
            "question": "Which operator is the right-inclusive range literal?",
            "k": 5,
            "filters": {"doc_id": "ops.xlsx"},
        },
    ).json()
    hit = body["passages"][0]
    doc = client.get("/documents/ops.xlsx").json()
    assert doc["text"][hit["start"] : hit["end"]] == hit["text"]
    assert hit["heading_path"] == ["Operators"]
    answer = body.get("answer") or body.get("withheld")
    assert answer["text"] == "Operator: ..= · Explanation: Right-inclusive range literal"
    assert doc["text"][answer["start"] : answer["end"]] == answer["text"]


@slow
def test_a_slide_is_cited_by_its_number(office_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = office_client
    body = client.post(
        "/ask",
        json={"question": "What did the speaker say aloud?", "filters": {"doc_id": "deck.pptx"}},
    ).json()
    hit = next(p for p in body["passages"] if "aloud" in p["text"])
    assert hit["page"] == 1 and hit["heading_path"] == ["Ownership rules"]


@slow
def test_an_attachment_is_its_own_document_and_its_original_is_its_bytes(office_client) -> None:  # type: ignore[no-untyped-def]
    client, files = office_client
    doc_id = quote("mail.eml#budget.docx", safe="")
    doc = client.get(f"/documents/{doc_id}").json()
    assert doc["title"] == "budget.docx — in: Budget plan"
    assert doc["metadata"]["attached_to"] == "mail.eml"
    original = client.get(f"/documents/{doc_id}/original")
    assert original.status_code == 200
    assert original.content.startswith(b"PK") and b"word/document.xml" in original.content
    mail = client.get("/documents/mail.eml/original")
    assert mail.content == files["mail.eml"]


@slow
@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("deck.pptx", "pptx"),
        ("ops.xlsx", "xlsx"),
        ("ops.csv", "csv"),
        ("book.epub", "epub"),
        ("mail.eml", "eml"),
    ],
)
def test_each_format_uploads(office_client, name: str, fmt: str) -> None:  # type: ignore[no-untyped-def]
    client, files = office_client
    response = client.post("/documents", headers=AUTH, files={"file": (f"up-{name}", files[name])})
    assert response.status_code == 201, response.text
    assert client.get(f"/documents/up-{name}").json()["format"] == fmt


@slow
@pytest.mark.parametrize(
    ("name", "status", "reason"),
    [
        ("fake.pptx", 422, "not a PowerPoint file"),
        ("fake.xlsx", 422, "not an Excel file"),
        ("fake.epub", 422, "not an EPUB book"),
        ("climb.epub", 422, "outside the archive"),
        ("climb.docx", 422, "outside the archive"),
        ("long.csv", 413, "accepts at most"),  # over QA_MAX_UPLOAD_BYTES before any reading
        ("wide.csv", 422, "line 2 is 2,097,155 characters long"),
    ],
)
def test_each_hostile_upload_gets_its_status_and_reason(
    office_client, name: str, status: int, reason: str
) -> None:  # type: ignore[no-untyped-def]
    client, files = office_client
    files = {**files, "wide.csv": b"a,b\n" + b"x" * (2 << 20) + b",y\n"}
    before = client.get("/health").json()["documents"]
    response = client.post("/documents", headers=AUTH, files={"file": (f"up-{name}", files[name])})
    assert response.status_code == status, response.text
    assert reason in response.json()["message"]
    assert client.get("/health").json()["documents"] == before


def test_pages_are_ranges_of_the_text() -> None:
    got = extract(make_pptx(DECK), "deck.pptx")
    assert got.pages == (
        PageRange(1, 0, got.pages[0].end),
        PageRange(2, got.pages[0].end + 2, len(got.text)),
    )


# ----- the eval's documents ------------------------------------------------------------------

needs_realdocs = pytest.mark.skipif(
    not (SHARED / "realdocs").is_dir(),
    reason="the shared real documents are not beside this checkout",
)


@needs_realdocs
def test_the_office_eval_questions_point_at_text_on_the_stated_slide(tmp_path: Path) -> None:
    import subprocess
    import sys

    from qa.eval.questionsets import load_jsonl, normalize_text

    repo = Path(__file__).resolve().parents[1]
    script = repo / "eval" / "make_office_docs.py"
    subprocess.run([sys.executable, str(script), str(tmp_path)], check=True, capture_output=True)
    scan = scan_corpus(tmp_path)
    assert scan.skipped == {}
    docs = {d.doc_id: d for d in scan.documents}
    questions = [
        q
        for q in load_jsonl(repo / "eval" / "realdocs-questions.jsonl")
        if q.tags[0] in {"pptx", "xlsx", "csv", "epub", "eml"}
    ]
    assert {q.tags[0] for q in questions} == {"pptx", "xlsx", "csv", "epub", "eml"}
    for q in questions:
        (answer,) = q.answers
        doc = docs[q.doc_id]
        assert normalize_text(doc.text).count(normalize_text(answer)) == 1, (q.qid, answer)
        if q.page is not None:
            where = doc.pages[q.page - 1]
            assert normalize_text(answer) in normalize_text(doc.text[where.start : where.end])


# ----- slide images --------------------------------------------------------------------------


def _amber(png: bytes) -> list[tuple[int, int]]:
    import io

    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    ys, xs = np.nonzero((r > 230) & (g > 200) & (g < 245) & (b < 180))
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def test_a_slide_image_highlights_the_cited_line_and_nothing_else() -> None:
    from qa.ingest.formats.slide_image import render_slide

    data = make_pptx(DECK)
    got = extract(data, "deck.pptx")
    page = got.pages[0]
    text = got.text[page.start : page.end]
    start = text.index("One owner at a time")
    span = (start, start + len("One owner at a time"))
    marked = _amber(render_slide(data, page=1, page_text=text, span=span, limits=Limits()))
    plain = _amber(render_slide(data, page=1, page_text=text, span=(0, 0), limits=Limits()))
    assert plain == [] and len(marked) > 500
    ys = sorted({y for _, y in marked})
    assert ys[-1] - ys[0] < 30  # one line high
    with pytest.raises(ValueError, match="not the indexed text"):
        render_slide(data, page=1, page_text=text + "x", span=(0, 0), limits=Limits())
    with pytest.raises(ValueError, match="no slide 3"):
        render_slide(data, page=3, page_text="", span=(0, 0), limits=Limits())


@slow
def test_a_slide_opens_as_a_page_image_over_http(office_client) -> None:  # type: ignore[no-untyped-def]
    client, _ = office_client
    doc = client.get("/documents/deck.pptx").json()
    start = doc["text"].index("Say the rules aloud.")
    response = client.get(
        f"/documents/deck.pptx/pages/1.png?start={start}&end={start + len('Say the rules aloud.')}"
    )
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert len(_amber(response.content)) > 300
    assert client.get("/documents/deck.pptx/pages/3.png").status_code == 404


def test_a_spine_that_points_outside_the_archive_is_refused_not_followed() -> None:
    chapter = ("c.xhtml", xhtml("C", "<p>Inside.</p>"))
    data = make_epub([chapter], title="B")
    climbing = make_epub([chapter], title="B", hrefs=["../../../c.xhtml"])
    assert extract(data, "b.epub").text == "Inside."
    assert "points outside the archive ('../../../c.xhtml')" in _reason(climbing, "b.epub")
    bomb = make_epub([chapter], title="B", extra={"OEBPS/big.bin": b"\0" * (3 << 20)})
    with pytest.raises(ValueError, match="a zip bomb"):
        extract(bomb, "b.epub", limits=Limits(max_inflated_bytes=1 << 20))


def test_a_mail_with_nothing_to_read_says_so() -> None:
    data = make_eml(subject="Empty", body="", attachments=[("photo.bin", b"\x00")])
    assert "no text body and no attachment qa reads" in _reason(data, "m.eml")
