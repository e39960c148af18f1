"""OCR: scanned PDF pages and images read by the real Tesseract, page by page, with their
word boxes highlighted on the page image; the hostile and the textless skipped with one
reason; OCR off or missing named as such.

The scans are made here from ../shared/realdocs (a Chromium-printed chapter rasterised at
150 dpi), so the words OCR must find are the text layer's. The fast tests need no engine;
the slow ones need `tesseract` (scripts/ensure-tesseract.sh installs it)."""

from __future__ import annotations

import collections
import io
import re
import shutil
import struct
import zlib
from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings
from qa.ingest.corpus import extraction_limits, scan_corpus
from qa.ingest.formats import Limits, extract
from qa.ingest.formats import ocr as ocr_module
from qa.ingest.formats.normalize import hyphenated_words
from qa.ingest.formats.worker import ExtractionWorker
from tests.conftest import AUTH, serving
from tests.docmaker import make_pdf
from tests.evalscripts import EVAL, load_script
from tests.test_formats import REALDOCS

BOX_PDF = REALDOCS / "pdf" / "ch15-01-box.pdf"
TITLE = "Using Box<T> to Point to Data on the Heap"
needs_tesseract = pytest.mark.skipif(
    shutil.which("tesseract") is None,
    reason="Tesseract is not installed: run bash scripts/ensure-tesseract.sh",
)
needs_realdocs = pytest.mark.skipif(not REALDOCS.is_dir(), reason="no ../shared/realdocs")


# ----- scans made from a real PDF -------------------------------------------------------------


def _page_image(index: int, *, crop: float = 1.0) -> Any:
    """Page `index` of the Box chapter at 150 dpi, its top `crop` share only (fewer words
    read faster), as a PIL image."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(BOX_PDF)
    image = pdf[index].render(scale=150 / 72).to_pil().convert("RGB")
    return image.crop((0, 0, image.width, int(image.height * crop)))


def _text_layer(index: int) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(BOX_PDF)
    return str(pdf[index].get_textpage().get_text_range())


def _encode(images: list[Any], kind: str) -> bytes:
    out = io.BytesIO()
    if kind == "PDF":
        images[0].save(out, "PDF", save_all=True, append_images=images[1:], resolution=150)
    else:
        images[0].save(out, kind, save_all=len(images) > 1, append_images=images[1:])
    return out.getvalue()


def _word_accuracy(reference: str, read: str) -> float:
    """Share of the reference's words (a multiset, case folded) that OCR read."""
    ref = collections.Counter(re.findall(r"\w+", reference.lower()))
    got = collections.Counter(re.findall(r"\w+", read.lower()))
    return sum((ref & got).values()) / sum(ref.values())


def _bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose header declares width x height pixels, in a few hundred bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 4096)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def _blank_png() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (400, 300), "white").save(out, "PNG")
    return out.getvalue()


# ----- fast: no engine needed ------------------------------------------------------------------


def test_tesseract_tsv_becomes_page_text_with_word_offsets_and_boxes() -> None:
    head = "\t".join(
        ["level", "page_num", "block_num", "par_num", "line_num", "word_num"]
        + ["left", "top", "width", "height", "conf", "text"]
    )
    rows = [
        (1, 1, 1, 1, 10, 10, 50, 12, "Boxes"),
        (1, 1, 1, 2, 70, 10, 40, 12, "allow"),
        (1, 1, 2, 1, 10, 30, 60, 12, "manip-"),
        (1, 1, 3, 1, 10, 50, 60, 12, "ulation"),
        (1, 2, 1, 1, 10, 90, 60, 12, "Next"),
        (1, 2, 1, 2, 80, 90, 10, 12, " "),  # an empty word is no word
    ]
    lines = [head] + [
        f"5\t1\t{b}\t{p}\t{ln}\t{w}\t{x}\t{y}\t{wd}\t{ht}\t95\t{t}"
        for b, p, ln, w, x, y, wd, ht, t in rows
    ]
    page = ocr_module.parse_tsv("\n".join(lines), size=(200, 120))
    assert page.raw == "Boxes allow\nmanip\ufffe\nulation\n\nNext"
    assert [page.raw[w.start : w.end] for w in page.words] == [
        "Boxes", "allow", "manip\ufffe", "ulation", "Next",
    ]  # fmt: skip
    assert page.words[1].box == (70, 10, 110, 22)
    # The broken word joins as pdfium's does; its boxes are both words' on their lines.
    boxes = ocr_module.ocr_boxes(page, "Boxes allow\nmanipulation\n\nNext", (12, 24), frozenset())
    assert boxes == [(10, 30, 70, 42), (10, 50, 70, 62)]


def test_languages_are_checked_and_each_names_its_package(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ocr_module.parse_languages("eng+deu, chi_sim") == ("eng", "deu", "chi_sim")
    assert ocr_module.package_of("chi_sim") == "tesseract-ocr-chi-sim"
    with pytest.raises(ValueError, match="not a Tesseract language"):
        ocr_module.parse_languages("eng;rm -rf")
    with pytest.raises(ValueError):
        Settings(ocr_languages="../eng")
    monkeypatch.setattr(ocr_module.shutil, "which", lambda _: "/usr/bin/tesseract")
    monkeypatch.setattr(ocr_module, "_installed_languages", lambda _: frozenset({"eng", "osd"}))
    with pytest.raises(ValueError) as missing:
        ocr_module.check_engine(("eng", "deu"))
    assert str(missing.value) == (
        "the OCR language deu (QA_OCR_LANGUAGES) is not installed: install the Debian "
        "package tesseract-ocr-deu"
    )


def test_without_tesseract_a_scan_is_skipped_with_the_package_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # the reader child finds no tesseract
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "photo.png").write_bytes(_blank_png())
    (corpus / "notes.md").write_text("Plain text needs no OCR.", encoding="utf-8")
    scan = scan_corpus(corpus)
    assert [d.doc_id for d in scan.documents] == ["notes.md"]
    assert scan.skipped == {
        "photo.png": "reading it needs OCR, and Tesseract is not installed: install the "
        "Debian packages tesseract-ocr and tesseract-ocr-eng"
    }


def test_ocr_off_skips_images_and_scans_with_its_own_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("QA_OCR", "off")
    limits = extraction_limits(Settings())
    assert limits.ocr is False
    with pytest.raises(
        ValueError, match=r"^an image is read by OCR, and OCR is off \(QA_OCR=off\)$"
    ):
        extract(_blank_png(), "photo.png", limits=limits)
    from PIL import Image

    scan_pdf = _encode([Image.new("RGB", (300, 300), "white")], "PDF")
    with pytest.raises(ValueError, match=r"no text layer \(a scanned PDF\?\) and OCR is off"):
        extract(scan_pdf, "scan.pdf", limits=limits)
    # A text page among scanned ones still reads, from its text layer.
    mixed = _merge(make_pdf([["A page with a text layer."]]), scan_pdf)
    assert extract(mixed, "mixed.pdf", limits=limits).text == "A page with a text layer.\n\n"


def test_a_png_declaring_30000_by_30000_pixels_is_refused_from_its_header() -> None:
    bomb = _bomb_png()
    assert len(bomb) < 2000
    with pytest.raises(ValueError) as refused:
        extract(bomb, "bomb.png")
    assert str(refused.value) == (
        "it declares 30,000 x 30,000 pixels, over the limit of 89,478,485 (a decompression bomb?)"
    )
    with pytest.raises(ValueError, match="not a readable image"):
        extract(b"\x89PNG\r\n\x1a\n not an image", "broken.png")


def _merge(*pdfs: bytes) -> bytes:
    import pypdfium2 as pdfium

    merged = pdfium.PdfDocument.new()
    for data in pdfs:
        merged.import_pages(pdfium.PdfDocument(data))
    out = io.BytesIO()
    merged.save(out)
    return out.getvalue()


# ----- slow: the real engine ---------------------------------------------------------------------


@pytest.mark.slow
@needs_tesseract
@needs_realdocs
def test_a_scanned_page_reads_as_its_text_layer() -> None:
    extracted = extract(_encode([_page_image(0)], "PNG"), "scan.png")
    assert extracted.format == "png" and len(extracted.pages) == 1
    assert extracted.text.startswith(TITLE)
    assert _word_accuracy(_text_layer(0), extracted.text) >= 0.97


@pytest.mark.slow
@needs_tesseract
@needs_realdocs
def test_a_pdf_mixing_a_text_page_and_a_scanned_page_reads_each_its_own_way() -> None:
    text_page = make_pdf([["Chapter fifteen is about smart pointers."]])
    mixed = _merge(text_page, _encode([_page_image(0, crop=0.3)], "PDF"))
    extracted = extract(mixed, "mixed.pdf")
    first, second = extracted.pages
    assert extracted.text[first.start : first.end] == "Chapter fifteen is about smart pointers."
    assert extracted.text[second.start : second.end].startswith(TITLE)


@pytest.mark.slow
@needs_tesseract
@needs_realdocs
def test_a_multi_page_tiff_is_one_document_with_a_page_per_frame() -> None:
    tiff = _encode([_page_image(0, crop=0.25), _page_image(1, crop=0.25)], "TIFF")
    extracted = extract(tiff, "scan.tif")
    assert extracted.format == "tiff" and [p.page for p in extracted.pages] == [1, 2]
    first, second = (extracted.text[p.start : p.end] for p in extracted.pages)
    assert first.startswith(TITLE)
    assert _word_accuracy(_text_layer(1)[: len(second)], second) > 0.8
    assert TITLE not in second


def _highlighted_rows(png: bytes, plain: bytes) -> tuple[int, int, int]:
    """The rows where the highlighted image differs from the plain one, and its height."""
    import numpy as np
    from PIL import Image

    a = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    b = np.asarray(Image.open(io.BytesIO(plain)).convert("RGB"), dtype=np.int16)
    rows = np.nonzero(np.abs(a - b).sum(axis=(1, 2)))[0]
    assert rows.size, "nothing was highlighted"
    return int(rows.min()), int(rows.max()), a.shape[0]


@pytest.mark.slow
@needs_tesseract
@needs_realdocs
@pytest.mark.parametrize("name", ["scan.pdf", "scan.png"])
def test_the_page_image_highlights_the_cited_words_from_their_boxes(name: str) -> None:
    """The scanned page's image through the bounded child, as the server draws it: the
    title cited lies in the band of rows that OCR boxed, the next paragraph does not."""
    image = _page_image(0, crop=0.4)
    data = _encode([image], "PDF" if name.endswith(".pdf") else "PNG")
    with ExtractionWorker() as worker:
        extracted = worker.extract(data, name)
        page_text = extracted.text[: extracted.pages[0].end]
        hyphenated = hyphenated_words(extracted.text)
        start = page_text.index(TITLE)
        end = start + len(TITLE)

        def draw(span: tuple[int, int]) -> bytes:
            return worker.render(
                data, page=1, page_text=page_text, span=span, hyphenated=hyphenated,
                fmt=extracted.format,
            )  # fmt: skip

        top, bottom, height = _highlighted_rows(draw((start, end)), draw((0, 0)))
        assert bottom - top < 0.15 * height  # one line of a 40% page crop: the title's
        # The title stands in the first quarter of the crop; the paragraph below it later.
        assert top < 0.35 * height
        after = page_text.index("The most straightforward")
        top2, _, _ = _highlighted_rows(draw((after, after + 30)), draw((0, 0)))
        assert top2 > bottom
        with pytest.raises(ValueError, match="differs from the indexed text"):
            worker.render(data, page=1, page_text="other text", span=(0, 5),
                          hyphenated=hyphenated, fmt=extracted.format)  # fmt: skip


@pytest.mark.slow
@needs_tesseract
@needs_realdocs
def test_qa_index_reads_scans_and_skips_the_hostile_and_the_textless(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "scan.png").write_bytes(_encode([_page_image(0, crop=0.2)], "PNG"))
    (corpus / "photo.jpg").write_bytes(_encode([_page_image(1, crop=0.2)], "JPEG"))
    (corpus / "bomb.png").write_bytes(_bomb_png())
    (corpus / "blank.png").write_bytes(_blank_png())
    (corpus / "notes.md").write_text("Notes without OCR.", encoding="utf-8")
    scan = scan_corpus(corpus, limits=Limits(), processes=2)
    assert [d.doc_id for d in scan.documents] == ["notes.md", "photo.jpg", "scan.png"]
    assert [d.format for d in scan.documents] == ["markdown", "jpeg", "png"]
    assert scan.documents[2].title == "scan" and scan.documents[2].text.startswith(TITLE)
    assert scan.skipped == {
        "blank.png": "OCR found no text in it",
        "bomb.png": "it declares 30,000 x 30,000 pixels, over the limit of 89,478,485 "
        "(a decompression bomb?)",
    }


@pytest.mark.slow
@needs_tesseract
@needs_realdocs
def test_an_uploaded_image_is_answered_and_its_page_highlighted(
    tmp_path: Path, fake_embedder: Any
) -> None:
    from tests.conftest import seed

    settings = seed(tmp_path, fake_embedder)
    png = _encode([_page_image(0, crop=0.3)], "PNG")
    with serving(settings, fake_embedder) as client:
        added = client.post("/documents", headers=AUTH, files={"file": ("scan.png", png)})
        assert added.status_code == 201, added.text
        doc = client.get("/documents/scan.png").json()
        assert doc["format"] == "png" and len(doc["pages"]) == 1
        original = client.get("/documents/scan.png/original")
        assert original.content == png and original.headers["content-type"] == "image/png"
        start = doc["text"].index(TITLE)
        page = client.get(f"/documents/scan.png/pages/1.png?start={start}&end={start + 20}")
        assert page.status_code == 200 and page.content[:8] == b"\x89PNG\r\n\x1a\n"
        for name, data, status, code, reason in (
            ("bomb.png", _bomb_png(), 422, "unreadable_document", "30,000 x 30,000 pixels"),
            ("blank.png", _blank_png(), 422, "unreadable_document", "OCR found no text"),
            ("fake.tiff", b"II*\0 not a tiff", 422, "unreadable_document", "not a readable"),
            ("anim.gif", b"GIF89a", 415, "unsupported_media_type", "cannot read .gif files"),
        ):
            response = client.post("/documents", headers=AUTH, files={"file": (name, data)})
            assert response.status_code == status, response.text
            assert response.json()["error"] == code and reason in response.json()["message"]
        assert client.get("/health").json()["documents"] == 3


@pytest.mark.slow
@needs_tesseract
@needs_realdocs
def test_the_scan_questions_point_at_ocr_text_on_the_stated_page(tmp_path: Path) -> None:
    """eval/make_scans.py makes the scans of the realdocs question set; each scan question's
    answer is in the OCR text once, on its page."""
    from qa.eval.questionsets import load_jsonl, normalize_text

    make_scans = load_script("make_scans")
    made = {p.name: p for p in make_scans.make_scans(tmp_path, REALDOCS)}
    questions = [
        q for q in load_jsonl(EVAL / "realdocs-questions.jsonl")
        if q.tags[0].startswith("scan-")
    ]  # fmt: skip
    assert {q.doc_id for q in questions} == set(made) and len(questions) >= 10
    scan = scan_corpus(tmp_path)
    assert not scan.skipped
    docs = {d.doc_id: d for d in scan.documents}
    for q in questions:
        doc, answer = docs[q.doc_id], normalize_text(q.answers[0])
        assert normalize_text(doc.text).count(answer) == 1, q.qid
        on = [p.page for p in doc.pages if answer in normalize_text(doc.text[p.start : p.end])]
        assert on == [q.page], q.qid
