"""Word (.docx): paragraphs and tables in body order through python-docx (the only
import of it), after checking the zip so a bomb is refused before anything inflates.

Each paragraph (and each table row, cells joined by a tab) is one paragraph of the text,
blank line separated; `Heading N` and `Title` styles are the sections; the title is the
core properties' title, else the first heading.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

from qa.ingest.formats import Extracted, Limits
from qa.ingest.formats.normalize import normalize
from qa.types import Section

MAX_MEMBERS = 10_000
_HEADING_STYLE = re.compile(r"^(?:heading\s*(\d)|title)$", re.I)


def check_zip(data: bytes, limits: Limits) -> None:
    """Refuse what is not a zip, or would inflate past the limit, from the central
    directory alone: its declared sizes bound what zipfile will inflate (it stops a
    member that inflates past its declared size)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise ValueError(f"it is not a Word file (.docx is a zip archive: {exc})") from exc
    if len(members) > MAX_MEMBERS:
        raise ValueError(f"its zip holds {len(members):,} files, over {MAX_MEMBERS:,}")
    inflated = sum(m.file_size for m in members)
    if inflated > limits.max_inflated_bytes:
        raise ValueError(
            f"it would inflate to {inflated:,} bytes, over the limit of "
            f"{limits.max_inflated_bytes:,} (a zip bomb?)"
        )
    if "word/document.xml" not in {m.filename for m in members}:
        raise ValueError("it is a zip but not a Word document (no word/document.xml)")


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
