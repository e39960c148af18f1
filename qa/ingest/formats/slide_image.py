"""A slide as an image, drawn here (no office suite needed), with a span highlighted.

Not a rendering of the slide's design: each text shape's paragraphs are drawn in the
shape's box, at the slide's proportions, wrapped to the box's width, in reading order,
and the speaker notes in a band below the slide. It shows where on the slide the cited
words are, and highlights exactly the cited characters, which are the characters the
slide's text was extracted from (`slides.slide_blocks`, the same reading as indexing;
the slide's text must still be the indexed text, or the drawing is refused).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

from qa.ingest.formats import Limits
from qa.ingest.formats.pdf import HIGHLIGHT
from qa.ingest.formats.slides import Block, open_deck, slide_blocks

WIDTH = 1280
FONT_PX = 18
LINE_PX = 24
MARGIN = 8
NOTES_BOX = (0, 0, 0, 0)


def _lines(text: str, width: float, font: Any) -> Iterator[tuple[int, str]]:
    """(offset in `text`, line) of `text` wrapped at spaces to `width` pixels."""
    offset = 0
    for hard in text.split("\n"):
        start, line = offset, ""
        position = offset
        for word in hard.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and font.getlength(candidate) > width:
                yield start, line
                start, line = position, word
            else:
                line = candidate
            position += len(word) + 1
        yield start, line
        offset += len(hard) + 1


def _layout(
    blocks: list[Block], scale: float, slide_h: int, font: Any
) -> tuple[list[tuple[int, int, int, str]], int]:
    """(text offset, x, y, line) of every wrapped line, and the image's height: each
    shape's paragraphs stacked in its box, the notes in a band below the slide."""
    drawn: list[tuple[int, int, int, str]] = []  # text offset, x, y, line
    cursors: dict[tuple[int, int, int, int], int] = {}
    notes_y = slide_h + MARGIN * 2
    offset = 0
    for block in blocks:
        notes = block.box == NOTES_BOX
        left, top, width, _height = block.box
        x = MARGIN if notes else int(left * scale) + MARGIN
        y = notes_y if notes else cursors.get(block.box, int(top * scale) + MARGIN)
        wrap = (WIDTH - 2 * MARGIN) if notes or not width else max(int(width * scale) - MARGIN, 80)
        for at, line in _lines(block.text, wrap, font):
            drawn.append((offset + at, x, y, line))
            y += LINE_PX
        if notes:
            notes_y = y
        else:
            cursors[block.box] = y + LINE_PX // 2
        offset += len(block.text) + 2
    return drawn, max(slide_h, notes_y) + MARGIN


def render_slide(
    data: bytes,
    *,
    page: int,
    page_text: str,
    span: tuple[int, int],
    limits: Limits,
    **_: Any,
) -> bytes:
    """PNG of slide `page` (1-based) with `span` (offsets into the slide's text) marked."""
    from PIL import Image, ImageDraw, ImageFont

    deck = open_deck(data, limits)
    if not 1 <= page <= len(deck.slides):
        raise ValueError(f"the deck has no slide {page}")
    blocks = slide_blocks(deck.slides[page - 1])
    if "\n\n".join(b.text for b in blocks) != page_text:
        raise ValueError("the slide's text is not the indexed text: run `qa index` again")
    scale = WIDTH / (deck.slide_width or 9_144_000)
    slide_h = int((deck.slide_height or 6_858_000) * scale)
    font = ImageFont.load_default(size=FONT_PX)
    drawn, height = _layout(blocks, scale, slide_h, font)
    image = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(image, "RGBA")
    draw.rectangle((0, 0, WIDTH - 1, slide_h), outline=(160, 160, 160))
    lo, hi = span
    for at, x, y, line in drawn:
        a, b = max(lo, at), min(hi, at + len(line))
        if a < b:
            x0 = x + font.getlength(line[: a - at])
            x1 = x + font.getlength(line[: b - at])
            draw.rectangle((x0, y - 2, x1, y + LINE_PX - 4), fill=tuple(HIGHLIGHT))
        draw.text((x, y), line, fill=(20, 20, 20), font=font)
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()
