"""qa.ingest.formats on real files: the shared real documents read in place, files made in the
test through the libraries themselves, and hostile files of every kind."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.ingest.formats import Limits, extract, format_of
from qa.ingest.formats.normalize import hyphenated_words, normalize
from qa.ingest.formats.text import markdown_sections
from qa.ingest.formats.worker import ExtractionWorker
from qa.types import Document, PageRange, Section
from tests.conftest import SHARED
from tests.docmaker import make_docx, make_encrypted_pdf, make_pdf, make_zip_bomb

REALDOCS = SHARED / "realdocs"
needs_realdocs = pytest.mark.skipif(
    not REALDOCS.is_dir(), reason="the shared real documents are not beside this checkout"
)


def _reason(data: bytes, doc_id: str, **limits: float) -> str:
    with pytest.raises(ValueError) as info:
        extract(data, doc_id, limits=Limits(**limits))  # type: ignore[arg-type]
    return str(info.value)


# ----- normalisation ---------------------------------------------------------------------


def test_normalisation_joins_broken_words_unless_the_document_hyphenates_them() -> None:
    raw = "manip\ufffeulation and unit\ufffelike; unit-like struct\r\nnext \ufb01le\x07 end\r"
    assert hyphenated_words(raw) == {"unit-like"}
    out = normalize(raw, hyphenated=hyphenated_words(raw))
    assert out == "manipulation and unit-like; unit-like struct\nnext file end\n"


@given(st.text(alphabet="ab -\r\n\ufffe\ufb01\x00\x07\u00ad", max_size=60))
def test_every_output_character_points_back_at_the_raw_character_it_came_from(raw: str) -> None:
    origin: list[int] = []
    out = normalize(raw, hyphenated=hyphenated_words(raw), origin=origin)
    assert len(origin) == len(out) and origin == sorted(origin)
    for i, ch in enumerate(out):
        src = raw[origin[i]]
        assert (
            src == ch
            or (src, ch) in {("\r", "\n"), ("\ufffe", "-"), ("\ufb01", "f")}
            or (src == "\ufb01" and ch == "i")
        )


# ----- layout lookups --------------------------------------------------------------------


def test_page_and_section_of_an_offset_come_from_the_layout() -> None:
    doc = Document(
        doc_id="r.pdf",
        title="r",
        text="x" * 30,
        content_hash="h",
        pages=(PageRange(1, 0, 10), PageRange(2, 12, 20), PageRange(3, 22, 30)),
        sections=(Section(5, 1, "Intro"), Section(15, 2, "Part")),
    )
    assert [doc.page_at(o) for o in (0, 9, 11, 12, 29)] == [1, 1, 1, 2, 3]
    assert [doc.section_at(o) for o in (0, 5, 14, 15, 29)] == [
        None,
        "Intro",
        "Intro",
        "Part",
        "Part",
    ]
    plain = Document(doc_id="a.md", title="a", text="x", content_hash="h")
    assert plain.page_at(0) is None and plain.section_at(0) is None


def test_markdown_headings_outside_code_fences_are_sections() -> None:
    text = "# Top\n\nBody\n\n```\n# not a heading\n```\n\n## Second ##\nmore"
    found = markdown_sections(text)
    assert [(s.level, s.title) for s in found] == [(1, "Top"), (2, "Second")]
    # Each starts at its line's "#", so a passage opening with the heading sits under it.
    assert [text[s.start :].split("\n")[0] for s in found] == ["# Top", "## Second ##"]


# ----- PDF -------------------------------------------------------------------------------


def test_a_pdf_made_by_pdfium_gives_its_pages_text_and_title() -> None:
    data = make_pdf([["First page line.", "Still page one."], ["Second page."]], title="Q3")
    got = extract(data, "reports/q3.pdf")
    assert got.format == "pdf" and got.title == "Q3"
    assert [got.text[p.start : p.end] for p in got.pages] == [
        "First page line.\nStill page one.",
        "Second page.",
    ]
    assert [p.page for p in got.pages] == [1, 2]


def test_a_pdfs_headings_are_its_lines_set_larger_than_the_body() -> None:
    body = [f"Body line {i} says something plain." for i in range(6)]
    pages: list[list[str | tuple[str, float]]] = [
        [("Running head", 14.0), ("User Guide", 24.0), *body, ("Installing it", 16.0), *body],
        [("Running head", 14.0), ("1 Setup . . . . . . . . 4", 16.0), *body],
        [("Running head", 14.0), ("Removing it", 16.0), ("12", 16.0), *body],
    ]
    got = extract(make_pdf(pages), "guide.pdf")
    assert [(s.level, s.title) for s in got.sections] == [
        (1, "User Guide"),
        (2, "Installing it"),
        (2, "Removing it"),
    ]  # not the running head (three pages), a contents line or a page number
    for section in got.sections:
        assert got.text[section.start : section.start + len(section.title)] == section.title
    assert got.sections[2].start >= got.pages[2].start  # on its own page
    plain = extract(make_pdf([body, body]), "plain.pdf")
    assert plain.sections == ()  # one size: no headings


@needs_realdocs
def test_real_pdfs_have_the_headings_of_their_html_and_their_tex_sections() -> None:
    name = "ch05-01-defining-structs"
    pdf = extract((REALDOCS / "pdf" / f"{name}.pdf").read_bytes(), f"{name}.pdf")
    html = extract((REALDOCS / "html" / f"{name}.html").read_bytes(), f"{name}.html")
    assert [s.title for s in pdf.sections] == [s.title for s in html.sections]
    # Levels rank the sizes used: the same outline, counted from 1 (the HTML's top is h2).
    shift = {h.level - p.level for p, h in zip(pdf.sections, html.sections, strict=True)}
    assert len(shift) == 1 and pdf.sections[0].level == 1
    tex = extract((REALDOCS / "pdf" / "libtasn1.pdf").read_bytes(), "libtasn1.pdf")
    levels = {s.title: s.level for s in tex.sections}
    assert levels["2 ASN.1 structure handling"] < levels["2.1 ASN.1 syntax"]
    assert levels["2.1 ASN.1 syntax"] < levels["asn1 parser2tree"]
    assert not any(". . ." in s.title for s in tex.sections)  # the contents are not headings
    syntax = next(s for s in tex.sections if s.title == "2.1 ASN.1 syntax")
    assert tex.text[syntax.start :].startswith("2.1 ASN.1 syntax\nThe parser is case sensitive")


@needs_realdocs
def test_each_real_pdf_page_is_the_normalised_text_layer_of_that_page() -> None:
    import pypdfium2 as pdfium

    for path in sorted((REALDOCS / "pdf").glob("*.pdf")):
        got = extract(path.read_bytes(), path.name)
        pdf = pdfium.PdfDocument(path.read_bytes())
        raws = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
        assert len(got.pages) == len(pdf) >= 7, path.name
        hyphenated = hyphenated_words("\n".join(raws))
        for page, raw in zip(got.pages, raws, strict=True):
            assert got.text[page.start : page.end] == normalize(raw, hyphenated=hyphenated)
        assert "\ufffe" not in got.text and "\r" not in got.text


@needs_realdocs
def test_the_tex_manual_joins_its_broken_words_and_keeps_real_hyphens() -> None:
    got = extract((REALDOCS / "pdf" / "libtasn1.pdf").read_bytes(), "libtasn1.pdf")
    assert len(got.pages) == 36
    assert "(DER) manipulation." in got.text and "manip" + "ulation" in got.text
    assert got.title is None  # TeX left the title empty: the file name stands in
    structs = extract((REALDOCS / "pdf" / "ch05-01-defining-structs.pdf").read_bytes(), "s.pdf")
    assert "Unit-like structs can be" in structs.text  # a hyphen at a line end, kept
    assert structs.title == "Defining and Instantiating Structs - The Rust Programming Language"


def test_hostile_pdfs_are_refused_with_a_reason() -> None:
    assert "password-protected" in _reason(make_encrypted_pdf(), "locked.pdf")
    assert "no text layer" in _reason(make_pdf([[], []]), "scan.pdf")
    good = make_pdf([["Some text."]])
    assert "not a readable PDF" in _reason(good[: len(good) // 3], "cut.pdf")
    assert "not a readable PDF" in _reason(b"%PDF-1.7\n" + b"\x00" * 100, "junk.pdf")
    assert "3 pages, over the limit of 2" in _reason(
        make_pdf([["a"], ["b"], ["c"]]), "x.pdf", max_pages=2
    )


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed() -> None:
    reason = _reason(b"x" * 5000, "big.txt", max_file_bytes=4096)
    assert "5,000 bytes, over the limit of 4,096 (QA_MAX_FILE_BYTES)" in reason


# ----- HTML ------------------------------------------------------------------------------


@needs_realdocs
def test_real_html_keeps_the_article_and_drops_the_book_chrome() -> None:
    path = REALDOCS / "html" / "ch05-01-defining-structs.html"
    html = path.read_text(encoding="utf-8")
    got = extract(path.read_bytes(), path.name)
    assert got.title == "Defining and Instantiating Structs - The Rust Programming Language"
    assert got.text.startswith("Defining and Instantiating Structs\n\nStructs are similar")
    for chrome in ("Keyboard shortcuts", "to navigate between chapters", "Ayu", "Coal"):
        assert chrome in html and chrome not in got.text
    headings = re.findall(r'<h[23] id="[^"]+"><a class="header" href="[^"]+">(.*?)</a>', html)
    assert [s.title for s in got.sections] == [re.sub(r"<[^>]+>", "", h) for h in headings]
    assert all(got.text[s.start : s.start + len(s.title)] == s.title for s in got.sections)
    assert "struct User {\n    active: bool," in got.text  # code keeps its lines


def test_html_without_main_text_is_refused() -> None:
    page = b"<html><head><title>T</title><script>x()</script></head><body><nav>Home</nav></body>"
    assert "no main text" in _reason(page, "empty.html")


def test_html_without_a_main_element_reads_the_body_and_its_first_heading() -> None:
    page = b"<body><header>Site</header><h1>Notes</h1><p>One\r\n two.</p><footer>c</footer>"
    got = extract(page, "n.htm")
    assert (got.text, got.title) == ("Notes\n\nOne two.", "Notes")


# ----- DOCX ------------------------------------------------------------------------------


@needs_realdocs
def test_real_docx_gives_its_paragraphs_and_heading_sections() -> None:
    path = REALDOCS / "docx" / "ch10-02-traits.docx"
    got = extract(path.read_bytes(), path.name)
    assert got.title == "Defining Shared Behavior with Traits"  # no core title: first heading
    assert got.sections[0] == Section(0, 2, "Defining Shared Behavior with Traits")
    assert "Defining a Trait" in [s.title for s in got.sections]
    assert all(got.text[s.start : s.start + len(s.title)] == s.title for s in got.sections)


def test_a_docx_made_by_python_docx_and_hostile_zips() -> None:
    made = extract(make_docx([("Intro", 1), ("Body text.", None)], title="Plan"), "p.docx")
    assert (made.text, made.title, made.sections) == (
        "Intro\n\nBody text.",
        "Plan",
        (Section(0, 1, "Intro"),),
    )
    assert "not a Word file" in _reason(b"plain text, not a zip", "fake.docx")
    assert "zip bomb" in _reason(make_zip_bomb(64 << 20), "bomb.docx", max_inflated_bytes=32 << 20)


# ----- the bounded worker ----------------------------------------------------------------


@needs_realdocs
def test_the_worker_stops_a_slow_extraction_and_reads_the_next_file() -> None:
    slow = (REALDOCS / "pdf" / "libtasn1.pdf").read_bytes()
    with ExtractionWorker(limits=Limits(timeout_s=0.005)) as worker:
        with pytest.raises(ValueError, match=r"took longer than 0.005 s \(QA_EXTRACT_TIMEOUT_S\)"):
            worker.extract(slow, "libtasn1.pdf")
        worker.limits = Limits(timeout_s=60)
        assert "Page two" in worker.extract(make_pdf([["One"], ["Page two"]]), "ok.pdf").text
        assert worker.started == 2
        assert worker.extract(b"Plain text.", "a.txt").text == "Plain text."  # in process


def test_the_format_of_an_id_is_its_extension() -> None:
    assert [format_of(i) for i in ("a/B.PDF", "x.htm", "y.docx", "z.md", "n.doc")] == [
        "pdf",
        "html",
        "docx",
        "markdown",
        None,
    ]


def test_documents_keep_their_path_as_id(tmp_path: Path) -> None:
    from qa.ingest.corpus import scan_corpus

    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "q3.pdf").write_bytes(make_pdf([["Revenue rose."], ["Costs fell."]]))
    scan = scan_corpus(tmp_path)
    (doc,) = scan.documents
    assert (doc.doc_id, doc.format, doc.title, len(doc.pages)) == ("reports/q3.pdf", "pdf", "q3", 2)


@needs_realdocs
def test_the_realdocs_question_set_points_at_text_on_the_stated_page() -> None:
    import json

    import pypdfium2 as pdfium

    from qa.eval.questionsets import load_jsonl, normalize_text

    path = Path(__file__).resolve().parents[1] / "eval" / "realdocs-questions.jsonl"
    # The office formats' questions are checked on files made for them (test_formats_office),
    # the scans' on scans made at test time (test_ocr).
    questions = [q for q in load_jsonl(path) if q.tags[0] in {"pdf", "html", "docx"}]
    assert len(questions) >= 30
    texts: dict[str, list[str]] = {}
    for q in questions:
        (answer,) = q.answers
        fmt = q.tags[0]
        if q.doc_id not in texts:
            data = (REALDOCS / fmt / q.doc_id).read_bytes()
            doc = extract(data, q.doc_id)
            texts[q.doc_id] = [normalize_text(doc.text)]
            if fmt == "pdf":  # the text layer of each page, as pdfium gives it
                pdf = pdfium.PdfDocument(data)
                raws = [pdf[i].get_textpage().get_text_range() for i in range(len(pdf))]
                words = hyphenated_words("\n".join(raws))
                texts[q.doc_id] += [normalize_text(normalize(r, hyphenated=words)) for r in raws]
        whole, *pages = texts[q.doc_id]
        assert whole.count(normalize_text(answer)) == 1, (q.qid, answer)
        if fmt == "pdf":
            on = [n for n, page in enumerate(pages, start=1) if normalize_text(answer) in page]
            assert on == [q.page], (q.qid, json.dumps(answer), on)


@needs_realdocs
def test_a_page_image_highlights_exactly_the_cited_characters() -> None:
    import io

    from PIL import Image

    data = (REALDOCS / "pdf" / "libtasn1.pdf").read_bytes()
    doc = extract(data, "libtasn1.pdf")
    page = doc.pages[1]
    text = doc.text[page.start : page.end]
    start = text.index("a library for")
    end = text.index("manipulation") + len("manipulation")  # across the broken word
    words = hyphenated_words(doc.text)
    with ExtractionWorker() as worker:
        png = worker.render(data, page=2, page_text=text, span=(start, end), hyphenated=words)
        plain = worker.render(data, page=2, page_text=text, span=(0, 0), hyphenated=words)
        with pytest.raises(ValueError, match="no page 37"):
            worker.render(data, page=37, page_text=text, span=(0, 1), hyphenated=words)
        with pytest.raises(ValueError, match="differs from the indexed text"):
            worker.render(data, page=3, page_text=text, span=(0, 1), hyphenated=words)
    image = Image.open(io.BytesIO(png)).convert("RGB")
    assert max(image.size) <= 1400 and image.size == Image.open(io.BytesIO(plain)).size
    amber = [
        (x, y)
        for x in range(0, image.width, 4)
        for y in range(0, image.height, 4)
        if image.getpixel((x, y))[2] < 200 < image.getpixel((x, y))[0]
    ]
    assert len(amber) > 200
    ys = [y for _, y in amber]
    # Three lines of the page (the sentence and the rest of the broken word), none elsewhere.
    assert max(ys) - min(ys) < image.height * 0.06
    assert all(image.getpixel((x, y)) == (255, 255, 255) for x in (5, 600) for y in (5, 300))


@needs_realdocs
def test_highlight_boxes_cover_whole_lines_across_ligatures() -> None:
    import pypdfium2 as pdfium

    from qa.ingest.formats.pdf import _boxes, char_indices

    data = (REALDOCS / "pdf" / "ch10-02-traits.pdf").read_bytes()
    doc = extract(data, "traits.pdf")
    page = doc.pages[-1]
    text = doc.text[page.start : page.end]
    start = text.index("would get an error")
    end = text.index("define the method.") + len("define the method.")
    textpage = pdfium.PdfDocument(data)[page.page - 1].get_textpage()
    indices = char_indices(textpage.get_text_range(), text, hyphenated_words(doc.text))
    (box,) = _boxes(textpage, indices[start:end])  # one line, one box
    first, last = textpage.get_charbox(indices[start]), textpage.get_charbox(indices[end - 1])
    assert box[0] == first[0] and box[2] == last[2]  # from "would" to the final full stop
