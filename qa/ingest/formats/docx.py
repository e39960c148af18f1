"""Word (.docx): paragraphs and tables in body order through python-docx (the only
import of it), after checking the zip so a bomb is refused before anything inflates.

Each paragraph (and each table row, cells joined by a tab) is one paragraph of the text,
blank line separated; `Heading N` and `Title` styles are the sections; the title is the
core properties' title, else the first heading.
"""

from __future__ import annotations

import io
import re
from typing import Any

from qa.ingest.formats import Extracted, Limits
from qa.ingest.formats.archive import open_zip
from qa.ingest.formats.normalize import normalize
from qa.types import Section

_HEADING_STYLE = re.compile(r"^(?:heading\s*(\d)|title)$", re.I)


def check_zip(data: bytes, limits: Limits) -> None:
    """Refuse what is not a zip, would inflate past the limit, or names a member outside
    the archive, from the central directory alone (see qa.ingest.formats.archive)."""
    open_zip(data, limits, kind="a Word file (.docx)", required="word/document.xml").close()


def _heading_level(paragraph: Any) -> int | None:
    name = paragraph.style.name if paragraph.style is not None else ""
    match = _HEADING_STYLE.match(name or "")
    if not match:
        return None
    return int(match.group(1)) if match.group(1) else 1


def _blocks(document: Any) -> list[tuple[str, int | None]]:
    """(text, heading level or None) for each paragraph and table row, in body order."""
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    out: list[tuple[str, int | None]] = []
    for item in document.iter_inner_content():
        if isinstance(item, Paragraph):
            out.append((item.text, _heading_level(item)))
        elif isinstance(item, Table):
            for row in item.rows:
                out.append(("\t".join(cell.text for cell in row.cells), None))
    return out


def extract(data: bytes, *, limits: Limits, fmt: str) -> Extracted:
    check_zip(data, limits)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx raises many kinds on a damaged package
        raise ValueError(f"it is not a readable Word file ({exc})") from exc
    parts: list[str] = []
    sections: list[Section] = []
    offset = 0
    for raw, level in _blocks(document):
        text = normalize(raw).strip()
        if not text:
            continue
        if parts:
            offset += 2
        if level is not None:
            sections.append(Section(offset, level, text))
        parts.append(text)
        offset += len(text)
    title = (document.core_properties.title or "").strip() or None
    author = (document.core_properties.author or "").strip()
    return Extracted(
        format=fmt,
        text="\n\n".join(parts),
        title=title or (sections[0].title if sections else None),
        metadata={"author": author} if author else {},
        sections=tuple(sections),
    )
