"""`GET /documents/{id}/pages/{n}.png`: a page of a paged document as an image, with a span
of the document text highlighted. The checks and the call into the bounded renderer; no
web import (the route shapes the response)."""

from __future__ import annotations

from qa.errors import InvalidSpanError, PageNotFoundError, RenderError
from qa.ingest.formats.normalize import hyphenated_words
from qa.ingest.formats.worker import ExtractionWorker
from qa.types import Document, PageRange

# A text page draws in a tenth of a second; a scanned page or an image is OCR'd again to
# find its words' boxes (a second or two, then cached in the child).
RENDER_TIMEOUT_S = 30.0


def find_page(doc: Document, page: int) -> PageRange:
    if not doc.pages:
        raise PageNotFoundError(
            f"{doc.doc_id!r} is a {doc.format} document, which has no pages: its passages "
            "are cited by offset and section"
        )
    if not 1 <= page <= len(doc.pages):
        raise PageNotFoundError(f"{doc.doc_id!r} has pages 1 to {len(doc.pages)}, not page {page}")
    return doc.pages[page - 1]


def page_span(
    doc: Document, where: PageRange, start: int | None, end: int | None
) -> tuple[int, int]:
    """The span to highlight, in offsets of the page's text (empty for none). `start` and
    `end` are document offsets, as citations give them; the part on this page is shown."""
    if start is None and end is None:
        return 0, 0
    if start is None or end is None:
        raise InvalidSpanError("give both start and end (document offsets), or neither")
    if not 0 <= start <= end <= len(doc.text):
        raise InvalidSpanError(
            f"the span [{start}, {end}) is not within the document's text "
            f"(0 to {len(doc.text)}): use a citation's start and end"
        )
    if end <= where.start or start >= where.end:
        if start != end:
            raise InvalidSpanError(
                f"the span [{start}, {end}) is not on page {where.page} "
                f"([{where.start}, {where.end}))"
            )
    lo, hi = max(start, where.start), min(end, where.end)
    return (lo - where.start, hi - where.start) if lo < hi else (0, 0)


def page_image(
    doc: Document,
    original: bytes,
    *,
    page: int,
    start: int | None,
    end: int | None,
    renderer: ExtractionWorker,
) -> bytes:
    """PNG of page `page` with [start, end) highlighted, rendered in the bounded child."""
    where = find_page(doc, page)
    span = page_span(doc, where, start, end)
    try:
        return renderer.render(
            original,
            page=page,
            page_text=doc.text[where.start : where.end],
            span=span,
            hyphenated=hyphenated_words(doc.text),
            timeout_s=RENDER_TIMEOUT_S,
            fmt=doc.format,
        )
    except ValueError as exc:
        raise RenderError(f"page {page} of {doc.doc_id!r} could not be drawn: {exc}") from None
