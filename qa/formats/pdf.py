"""PDF: the text layer through pypdfium2 (the only import of it), page by page.

The document text is the pages' normalised text joined by a blank line, so a page break
is also a paragraph break for the chunker; `pages` says where each page lies. Title and
author come from the document information dictionary, when it has them.
"""

from __future__ import annotations

from typing import Any

from qa.formats import Extracted, Limits
from qa.formats.normalize import hyphenated_words, normalize
from qa.types import PageRange

PAGE_SEPARATOR = "\n\n"
_METADATA_KEYS = {"Author": "author", "Subject": "subject", "Keywords": "keywords"}


def _open(data: bytes) -> Any:
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise ValueError("it is password-protected: save a copy without a password") from exc
        raise ValueError(f"it is not a readable PDF ({exc})") from exc


def raw_page_text(pdf: Any, index: int) -> str:
    """pdfium's text of one page: its i-th character is the page's i-th text character."""
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            return str(textpage.get_text_range())
        finally:
            textpage.close()
    finally:
        page.close()


def join_pages(raw_pages: list[str]) -> tuple[str, tuple[PageRange, ...]]:
    """Normalised pages joined by PAGE_SEPARATOR, with where each page lies."""
    hyphenated = hyphenated_words("\n".join(raw_pages))
    parts: list[str] = []
    pages: list[PageRange] = []
    offset = 0
    for number, raw in enumerate(raw_pages, start=1):
        if parts:
            parts.append(PAGE_SEPARATOR)
            offset += len(PAGE_SEPARATOR)
        text = normalize(raw, hyphenated=hyphenated)
        parts.append(text)
        pages.append(PageRange(number, offset, offset + len(text)))
        offset += len(text)
    return "".join(parts), tuple(pages)


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
        raw_pages = [raw_page_text(pdf, i) for i in range(count)]
        title, metadata = _metadata(pdf)
    finally:
        pdf.close()
    text, pages = join_pages(raw_pages)
    if not text.strip():
        raise ValueError("it has no text layer (a scanned PDF?): run it through OCR first")
    return Extracted(format=fmt, text=text, title=title, metadata=metadata, pages=pages)
