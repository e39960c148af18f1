"""Slides (.pptx) through python-pptx, the only import of it, after checking the zip.

- A slide is a page: `pages` holds one range per slide, page = slide number (hidden
  slides included, so numbers match the deck).
- The slide's title (its title placeholder) is its first paragraph and its section
  (level 1); a slide without a title gets the section "Slide N".
- The other shapes follow in reading order: top to bottom, then left to right, by their
  position on the slide; a group's shapes are read in the same order inside the group.
  A text frame gives one paragraph per paragraph of its text; a table one paragraph per
  row, each carrying its header row as a sheet row does ("Header: value · ...").
- Speaker notes close the slide, the first of their paragraphs marked "Speaker notes:".
- The title is the deck's title property, else the first slide's title.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from qa.ingest.formats import Extracted, Limits
from qa.ingest.formats.archive import open_zip
from qa.ingest.formats.normalize import normalize
from qa.ingest.formats.sheets import SEPARATOR, cell_text
from qa.types import PageRange, Section

NOTES_LABEL = "Speaker notes: "
MAX_GROUP_DEPTH = 32


@dataclass(frozen=True)
class Block:
    """One paragraph of a slide's text and the box of the shape it came from (EMU)."""

    text: str
    box: tuple[int, int, int, int]  # left, top, width, height
    title: bool = False


def _box(shape: Any) -> tuple[int, int, int, int]:
    return (shape.left or 0, shape.top or 0, shape.width or 0, shape.height or 0)


def _paragraphs(text_frame: Any) -> Iterator[str]:
    for paragraph in text_frame.paragraphs:
        text = normalize(paragraph.text.replace("\v", "\n")).strip()
        if text:
            yield text


def _table_rows(table: Any) -> Iterator[str]:
    header: list[str] | None = None
    for row in table.rows:
        cells = [cell_text(cell.text) for cell in row.cells]
        if not any(cells):
            continue
        if header is None:
            header = cells
            yield SEPARATOR.join(c for c in cells if c)
            continue
        names = [header[i] if i < len(header) else "" for i in range(len(cells))]
        yield SEPARATOR.join(
            f"{n}: {c}" if n else c for n, c in zip(names, cells, strict=True) if c
        )


def _shape_blocks(shapes: Any, skip: Any, depth: int = 0) -> Iterator[Block]:
    """Blocks of `shapes` in reading order (top, then left), groups recursed."""
    ordered = sorted(shapes, key=lambda s: ((s.top or 0), (s.left or 0)))
    for shape in ordered:
        if skip is not None and shape.shape_id == skip.shape_id:
            continue
        if shape.shape_type is not None and int(shape.shape_type) == 6:  # MSO_SHAPE_TYPE.GROUP
            if depth < MAX_GROUP_DEPTH:
                yield from _shape_blocks(shape.shapes, None, depth + 1)
            continue
        if getattr(shape, "has_table", False) and shape.has_table:
            for text in _table_rows(shape.table):
                yield Block(text, _box(shape))
        elif shape.has_text_frame:
            for text in _paragraphs(shape.text_frame):
                yield Block(text, _box(shape))


def slide_blocks(slide: Any) -> list[Block]:
    """The paragraphs of one slide in reading order, the title first, notes last."""
    title_shape = slide.shapes.title
    blocks: list[Block] = []
    if title_shape is not None and title_shape.has_text_frame:
        title = " ".join(_paragraphs(title_shape.text_frame))
        if title:
            blocks.append(Block(title, _box(title_shape), title=True))
    blocks.extend(_shape_blocks(slide.shapes, title_shape))
    if slide.has_notes_slide and slide.notes_slide.notes_text_frame is not None:
        notes = list(_paragraphs(slide.notes_slide.notes_text_frame))
        for i, text in enumerate(notes):
            blocks.append(Block(NOTES_LABEL + text if i == 0 else text, (0, 0, 0, 0)))
    return blocks


def open_deck(data: bytes, limits: Limits) -> Any:
    open_zip(
        data, limits, kind="a PowerPoint file (.pptx)", required="ppt/presentation.xml"
    ).close()
    import pptx

    try:
        return pptx.Presentation(io.BytesIO(data))
    except Exception as exc:  # python-pptx raises many kinds on a damaged package
        raise ValueError(f"it is not a readable PowerPoint file ({exc})") from exc


def extract(data: bytes, *, limits: Limits, fmt: str) -> Extracted:
    deck = open_deck(data, limits)
    if len(deck.slides) > limits.max_pages:
        raise ValueError(f"it has {len(deck.slides):,} slides, over {limits.max_pages:,}")
    parts: list[str] = []
    pages: list[PageRange] = []
    sections: list[Section] = []
    titles: list[str] = []
    offset = 0
    for number, slide in enumerate(deck.slides, 1):
        blocks = slide_blocks(slide)
        if not blocks:
            pages.append(PageRange(number, offset, offset))  # an empty slide keeps its number
            continue
        start = offset + 2 if parts else 0
        if blocks[0].title:
            titles.append(blocks[0].text)
        sections.append(Section(start, 1, blocks[0].text if blocks[0].title else f"Slide {number}"))
        for block in blocks:
            if parts:
                offset += 2
            parts.append(block.text)
            offset += len(block.text)
        pages.append(PageRange(number, start, offset))
    title = (deck.core_properties.title or "").strip()
    author = (deck.core_properties.author or "").strip()
    first_title = titles[0] if titles else None
    return Extracted(
        format=fmt,
        text="\n\n".join(parts),
        title=title or first_title,
        metadata={"author": author} if author else {},
        pages=tuple(pages),
        sections=tuple(sections),
    )
