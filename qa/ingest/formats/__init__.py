"""Bytes of a file to document text plus its layout, one module per format.

Each format module is the only import of its parsing library and is imported only when
a file of its format is read, so `import qa` stays light. Every module returns an
`Extracted`: the text that citations index into, the pages (PDF) and headings (HTML,
DOCX, Markdown) in offsets of that text, a title and metadata. Extraction is exact and
deterministic: the same bytes give the same text, so stored offsets stay valid.

Normalisation of extracted text (PDF, HTML, DOCX; `.md` and `.txt` are kept byte for
byte) is in `qa.ingest.formats.normalize`; a change of those rules or of a format's reading
bumps EXTRACTION_VERSION, which the index manifest records so a change asks for a
rebuild instead of mixing two extractions.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from qa.types import PageRange, Section

# 2: Markdown headings without markup, setext headings, the first heading as the title;
# OCR of scanned PDF pages and images (two branches that each made it 2); 3: slides,
# sheets, EPUB, mail; 4: PDF headings from font sizes; 5: a Markdown heading starts at
# its line, not its title (the passage opening a page sat under no heading), and keeps
# generics such as `Rc<T>` in its title.
EXTRACTION_VERSION = 5

#: File suffix to format name. `.md`/`.txt` are the text formats (front matter allowed).
FORMATS: Mapping[str, str] = {
    ".md": "markdown",
    ".txt": "text",
    ".pdf": "pdf",
    ".html": "html",
    ".htm": "html",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".csv": "csv",
    ".tsv": "tsv",
    ".epub": "epub",
    ".eml": "eml",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
}
TEXT_FORMATS = frozenset({"markdown", "text"})
#: Media type of each format's original file, for serving it back.
MEDIA_TYPES: Mapping[str, str] = {
    "markdown": "text/markdown; charset=utf-8",
    "text": "text/plain; charset=utf-8",
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "tsv": "text/tab-separated-values; charset=utf-8",
    "epub": "application/epub+zip",
    "eml": "message/rfc822",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "tiff": "image/tiff",
}
_MODULES: Mapping[str, str] = {
    "markdown": "qa.ingest.formats.text",
    "text": "qa.ingest.formats.text",
    "pdf": "qa.ingest.formats.pdf",
    "html": "qa.ingest.formats.html",
    "docx": "qa.ingest.formats.docx",
    "pptx": "qa.ingest.formats.slides",
    "xlsx": "qa.ingest.formats.sheets",
    "csv": "qa.ingest.formats.sheets",
    "tsv": "qa.ingest.formats.sheets",
    "epub": "qa.ingest.formats.epub",
    "eml": "qa.ingest.formats.mail",
    "png": "qa.ingest.formats.image",
    "jpeg": "qa.ingest.formats.image",
    "tiff": "qa.ingest.formats.image",
}


@dataclass(frozen=True)
class Extracted:
    """What one file holds: `text` plus layout in offsets of `text`."""

    format: str
    text: str
    title: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    pages: tuple[PageRange, ...] = ()
    sections: tuple[Section, ...] = ()
    #: Files carried inside this one (a mail's attachments), (name, bytes), each read as a
    #: document of its own by qa.ingest.attachments.
    attachments: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Limits:
    """Bounds on one file: its size, what a zip may inflate to, pages, and time (per
    file, and per page read by OCR); and whether OCR runs, in which languages."""

    max_file_bytes: int = 50 << 20
    max_inflated_bytes: int = 200 << 20
    max_pages: int = 5000
    timeout_s: float = 60.0
    ocr: bool = True
    ocr_languages: tuple[str, ...] = ("eng",)


def format_of(doc_id: str) -> str | None:
    """The format a document id's extension names, or None when it is not read."""
    return FORMATS.get(PurePosixPath(doc_id).suffix.lower())


def supported_suffixes() -> str:
    return ", ".join(sorted(FORMATS))


def extract(data: bytes, doc_id: str, *, limits: Limits = Limits()) -> Extracted:
    """Text and layout of one file, in this process. Raises ValueError with a reason a
    person can act on (the caller names the file)."""
    fmt = format_of(doc_id)
    if fmt is None:
        raise ValueError(f"only {supported_suffixes()} files are read")
    if len(data) > limits.max_file_bytes:
        raise ValueError(
            f"it is {len(data):,} bytes, over the limit of {limits.max_file_bytes:,} "
            "(QA_MAX_FILE_BYTES)"
        )
    module = importlib.import_module(_MODULES[fmt])
    # A module that names what it reads after the file (a CSV's sheet) is told its name.
    named = {"name": PurePosixPath(doc_id).name} if getattr(module, "TAKES_NAME", False) else {}
    result: Extracted = module.extract(data, limits=limits, fmt=fmt, **named)
    if not result.text.strip():
        raise ValueError("it has no text")
    return result


def render_page(fmt: str, data: bytes, **arguments: Any) -> bytes:
    """PNG of a page of a paged format's file (the format module's `render_page`)."""
    png: bytes = importlib.import_module(_MODULES[fmt]).render_page(data, **arguments)
    return png
