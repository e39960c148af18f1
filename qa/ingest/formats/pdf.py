"""PDF: the text layer through pypdfium2 (the only import of it), page by page; a page
without a text layer but with an image on it (a scan) is rasterised and read by OCR
(qa.ingest.formats.ocr), so one file may mix both.

The document text is the pages' normalised text joined by a blank line, so a page break
is also a paragraph break for the chunker; `pages` says where each page lies. Title and
author come from the document information dictionary, when it has them.

Headings come from font sizes, as a reader sees them: the body size is the size most of
the text layer's characters are set in, and a short line set at least HEADING_RATIO times
larger is a heading, its level the rank of its size among the heading sizes (largest
first). A printed web page (h1 24 pt, h2 18.7 pt over 16 pt body) and a TeX manual
(chapter 17.2, section 14.3 over 10.9) both read this way, outline or not; a line repeated
on several pages (a running header) is not a heading.
"""

from __future__ import annotations

import bisect
import io
import re
from collections import Counter
from typing import Any

from qa.ingest.formats import Extracted, Limits
from qa.ingest.formats.normalize import hyphenated_words, normalize
from qa.text import DOT_LEADERS
from qa.types import PageRange, Section

PAGE_SEPARATOR = "\n\n"
#: A line set this much larger than the body text is a heading.
HEADING_RATIO = 1.15
MAX_HEADING_CHARS = 150
MAX_HEADING_LEVEL = 6
SIZE_SAMPLES = 5  # characters of a line whose font size is read
#: A large line found on this many pages is a running header or footer, not a heading.
RUNNING_PAGES = 3  # (counted as lines: a title set large three times is not a heading)
_METADATA_KEYS = {"Author": "author", "Subject": "subject", "Keywords": "keywords"}


def _open(data: bytes) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ValueError("it is password-protected: save a copy without a password") from exc
        raise ValueError(f"it is not a readable PDF ({exc})") from exc


def _read_page(pdf: Any, index: int) -> tuple[str, list[Line]]:
    """pdfium's text of one page (its i-th character is the page's i-th text character)
    and its lines with their font sizes."""
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            raw = str(textpage.get_text_range())
            return raw, _lines(textpage, raw)
        finally:
            textpage.close()
    finally:
        page.close()


Line = tuple[int, int, float, int]  # raw start, raw end, font size, characters


def _lines(textpage: Any, raw: str) -> list[Line]:
    """Each line of the page's raw text with the median font size of up to SIZE_SAMPLES of
    its visible characters, spread along it (a drop cap or an inline symbol does not make
    a line a heading, and a page costs a few calls per line, not one per character)."""
    import pypdfium2.raw as pdfium_c

    out: list[Line] = []
    start = 0
    for line in raw.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        visible = [i for i, ch in enumerate(body) if not ch.isspace()]
        if visible:
            step = max(1, len(visible) // SIZE_SAMPLES)
            sizes = sorted(
                pdfium_c.FPDFText_GetFontSize(textpage.raw, start + i) for i in visible[::step]
            )
            size = round(sizes[len(sizes) // 2], 1)
            out.append((start, start + len(body), size, len(visible)))
        start += len(line)
    return out


def _has_image(pdf: Any, index: int) -> bool:
    import pypdfium2.raw as pdfium_c

    page = pdf[index]
    try:
        return any(True for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))
    finally:
        page.close()


def needs_ocr(pdf: Any, index: int, raw: str) -> bool:
    """A page is read by OCR when it has no text layer and an image to read (a blank page
    or one of vector drawings only has nothing for OCR)."""
    return not raw.strip() and _has_image(pdf, index)


def ocr_page(pdf: Any, index: int, limits: Limits) -> Any:
    """OCR of page `index` (0-based) rasterised at OCR_DPI."""
    from qa.ingest.formats.ocr import MAX_OCR_SIDE, OCR_DPI, prepare, read_page

    page = pdf[index]
    try:
        # A page of poster size is drawn no larger than OCR reads (and memory allows).
        scale = min(OCR_DPI / 72, MAX_OCR_SIDE / max(1.0, *page.get_size()))
        image = page.render(scale=scale, grayscale=True, may_draw_forms=False).to_pil()
    finally:
        page.close()
    return read_page(prepare(image), languages=limits.ocr_languages, timeout_s=limits.timeout_s)


def ocr_unavailable(limits: Limits) -> str:
    """Why OCR cannot run here ("" when it can): off, or Tesseract or a language missing."""
    from qa.ingest.formats.ocr import check_engine

    if not limits.ocr:
        return "OCR is off (QA_OCR=off)"
    try:
        check_engine(limits.ocr_languages)
    except ValueError as exc:
        return str(exc)
    return ""


def _page_texts(pdf: Any, limits: Limits) -> tuple[list[str], list[list[Line]]]:
    """Each page's raw text: its text layer, or its OCR when it has none, and the text
    layer's lines with their font sizes (none on an OCR'd page). Without OCR (off, or not
    installed) such a page stays empty, and only a file with no text at all is refused,
    with OCR's reason: a PDF with one scanned page among text pages still reads."""
    read = [_read_page(pdf, i) for i in range(len(pdf))]
    raw_pages = [raw for raw, _ in read]
    scanned = [i for i, raw in enumerate(raw_pages) if needs_ocr(pdf, i, raw)]
    unavailable = ocr_unavailable(limits) if scanned else ""
    for i in [] if unavailable else scanned:
        raw_pages[i] = ocr_page(pdf, i, limits).raw
    if not any(raw.strip() for raw in raw_pages):
        if unavailable:
            raise ValueError(f"it has no text layer (a scanned PDF?) and {unavailable}")
        if scanned:
            raise ValueError("it has no text layer, and OCR found no text on its pages")
        raise ValueError("it has no text layer, and no page has an image for OCR to read")
    return raw_pages, [[] if i in scanned else lines for i, (_, lines) in enumerate(read)]


def join_pages(
    raw_pages: list[str], origins: list[list[int]] | None = None
) -> tuple[str, tuple[PageRange, ...]]:
    """Normalised pages joined by PAGE_SEPARATOR, with where each page lies; `origins`,
    when given, gets each page's `normalize` origin (raw index of every character)."""
    hyphenated = hyphenated_words("\n".join(raw_pages))
    parts: list[str] = []
    pages: list[PageRange] = []
    offset = 0
    for number, raw in enumerate(raw_pages, start=1):
        if parts:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        origin: list[int] = []
        text = normalize(raw, hyphenated=hyphenated, origin=origin)
        if origins is not None:
            origins.append(origin)
        parts.append(text)
        pages.append(PageRange(number, offset, offset + len(text)))
        offset += len(text)
    return "".join(parts), tuple(pages)


def heading_sizes(lines: list[list[Line]]) -> dict[float, int]:
    """Level of each font size that sets headings (see the module docstring)."""
    weight: dict[float, int] = {}
    for page in lines:
        for _, _, size, chars in page:
            weight[size] = weight.get(size, 0) + chars
    if not weight:
        return {}
    body = max(weight, key=weight.__getitem__)
    larger = sorted((s for s in weight if s >= body * HEADING_RATIO), reverse=True)
    return {size: min(rank, MAX_HEADING_LEVEL) for rank, size in enumerate(larger, start=1)}


_LEADERS = re.compile(DOT_LEADERS)


def _heading_like(title: str) -> bool:
    return (
        0 < len(title) <= MAX_HEADING_CHARS
        and any(c.isalpha() for c in title)
        and not _LEADERS.search(title)
    )


def find_sections(
    text: str, pages: tuple[PageRange, ...], lines: list[list[Line]], origins: list[list[int]]
) -> tuple[Section, ...]:
    """The headings of the document text: lines set in a heading size (`heading_sizes`),
    short, with a letter, and not repeated on RUNNING_PAGES pages."""
    levels = heading_sizes(lines)
    found: list[Section] = []
    for page, page_lines, origin in zip(pages, lines, origins, strict=True):
        for raw_start, raw_end, size, _ in page_lines:
            if size not in levels:
                continue
            a = page.start + bisect.bisect_left(origin, raw_start)
            b = page.start + bisect.bisect_left(origin, raw_end)
            while a < b and text[a].isspace():
                a += 1
            title = " ".join(text[a:b].split())
            if _heading_like(title):
                found.append(Section(a, levels[size], title))
    seen = Counter(section.title for section in found)
    return tuple(s for s in found if seen[s.title] < RUNNING_PAGES)


def _metadata(pdf: Any) -> tuple[str | None, dict[str, Any]]:
    info = pdf.get_metadata_dict()
    title = str(info.get("Title") or "").strip() or None
    meta = {ours: str(info[k]).strip() for k, ours in _METADATA_KEYS.items() if info.get(k)}
    return title, {k: v for k, v in meta.items() if v}


def extract(data: bytes, *, limits: Limits, fmt: str) -> Extracted:
    pdf = _open(data)
    try:
        count = len(pdf)
        if count > limits.max_pages:
            raise ValueError(f"it has {count:,} pages, over the limit of {limits.max_pages:,}")
        raw_pages, lines = _page_texts(pdf, limits)
        title, metadata = _metadata(pdf)
    finally:
        pdf.close()
    origins: list[list[int]] = []
    text, pages = join_pages(raw_pages, origins)
    sections = find_sections(text, pages, lines, origins)
    return Extracted(
        format=fmt, text=text, title=title, metadata=metadata, pages=pages, sections=sections
    )


# ----- page images -------------------------------------------------------------------------

MAX_RENDER_PIXELS = 1200  # the longer side of a page image, whatever the page's size
HIGHLIGHT = (255, 200, 0, 110)  # translucent amber over the cited characters


def char_indices(raw: str, page_text: str, hyphenated: frozenset[str]) -> list[int]:
    """pdfium's character index of each character of a page's document text. Raises
    ValueError when the page no longer reads as it did when it was indexed."""
    origin: list[int] = []
    if normalize(raw, hyphenated=hyphenated, origin=origin) != page_text:
        raise ValueError("the page's text differs from the indexed text: re-index the file")
    return origin


Box = tuple[float, float, float, float]  # left, bottom, right, top in PDF points


def _same_line(a: Box, b: Box) -> bool:
    """b continues a's line: they overlap vertically by half the lower one, b to the right."""
    overlap = min(a[3], b[3]) - max(a[1], b[1])
    return overlap >= 0.5 * min(a[3] - a[1], b[3] - b[1]) and b[0] >= a[0]


def _boxes(textpage: Any, indices: list[int]) -> list[Box]:
    """One rectangle per line run of the characters, from their own boxes (pdfium's
    merged rectangles break at ligatures, so they are not used)."""
    boxes: list[Box] = []
    for i in sorted(set(indices)):
        box: Box = tuple(textpage.get_charbox(i))
        if box[2] <= box[0]:
            continue  # characters pdfium generated (line ends) have no width
        if boxes and _same_line(boxes[-1], box):
            last = boxes[-1]
            boxes[-1] = (min(last[0], box[0]), min(last[1], box[1]), max(last[2], box[2]),
                         max(last[3], box[3]))  # fmt: skip
        else:
            boxes.append(box)
    return boxes


def render_page(
    data: bytes,
    *,
    page: int,
    page_text: str,
    span: tuple[int, int],
    hyphenated: frozenset[str],
    limits: Limits,
) -> bytes:
    """PNG of page `page` (1-based) with the characters of `span` (offsets into the page's
    document text) highlighted: from the text layer's character boxes, or on a page read
    by OCR, from the boxes of its words (OCR'd again, as at indexing)."""
    pdf = _open(data)
    try:
        if not 1 <= page <= len(pdf):
            raise ValueError(f"the document has no page {page}")
        pdf_page = pdf[page - 1]
        textpage = pdf_page.get_textpage()
        raw = str(textpage.get_text_range())
        width, height = pdf_page.get_size()
        if needs_ocr(pdf, page - 1, raw):
            size = (width, height)
            boxes = (
                _ocr_boxes(pdf, page - 1, page_text, span, hyphenated, limits, size)
                if span[0] < span[1]
                else []
            )
        else:
            indices = char_indices(raw, page_text, hyphenated)
            boxes = _boxes(textpage, indices[span[0] : span[1]])
        scale = min(2.0, MAX_RENDER_PIXELS / max(width, height))
        pixels = pdf_page.render(scale=scale, may_draw_forms=False, rev_byteorder=True).to_numpy()
    finally:
        pdf.close()
    return _png(_highlight(pixels, boxes, scale=scale, height=height))


def _ocr_boxes(
    pdf: Any,
    index: int,
    page_text: str,
    span: tuple[int, int],
    hyphenated: frozenset[str],
    limits: Limits,
    size: tuple[float, float],
) -> list[Box]:
    """The OCR word boxes of `span`, in PDF points (from the OCR image's pixels, y turned
    upwards)."""
    from qa.ingest.formats.ocr import ocr_boxes

    ocr = ocr_page(pdf, index, limits)
    width, height = size
    points = width / ocr.size[0]
    return [
        (left * points, height - bottom * points, right * points, height - top * points)
        for left, top, right, bottom in ocr_boxes(ocr, page_text, span, hyphenated)
    ]


def _highlight(pixels: Any, boxes: list[Box], *, scale: float, height: float) -> Any:
    """Blend the highlight colour into the boxes (PDF y grows upwards, image y downwards)."""
    import numpy as np

    rgb = np.ascontiguousarray(pixels[:, :, :3])
    colour = np.array(HIGHLIGHT[:3], dtype=np.float32)
    alpha = HIGHLIGHT[3] / 255
    for left, bottom, right, top in boxes:
        y0, y1 = max(0, int((height - top) * scale)), int((height - bottom) * scale) + 1
        x0, x1 = max(0, int(left * scale)), int(right * scale) + 1
        region = rgb[y0:y1, x0:x1].astype(np.float32)
        rgb[y0:y1, x0:x1] = (region * (1 - alpha) + colour * alpha).astype(np.uint8)
    return rgb


def _png(rgb: Any) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    # Fast compression: the image is served once, and level 1 is ~3x faster than 6 here.
    Image.fromarray(rgb, "RGB").save(out, "PNG", compress_level=1)
    return out.getvalue()
