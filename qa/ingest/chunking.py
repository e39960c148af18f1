"""Pure chunking: text to sentence-aware chunks with exact character spans.

Every chunk is `text[start:end]` exactly, and the chunks of a document cover all
of its non-whitespace characters but the label runs of figures (`qa.text.label_runs`).
Token counts come from a caller-supplied counter (the model's tokenizer in production),
so no chunk is ever silently truncated by the model.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qa.config import Settings
from qa.text import label_runs, split_sentences
from qa.types import Chunk, Document, Span

#: Counts tokens for each string in a batch (without special tokens).
TokenCounter = Callable[[Sequence[str]], list[int]]

# Version of the splitting rules (the sentence rules in qa.text, the packing below);
# stored in the index manifest so a change of rules asks for a rebuild instead of
# mixing two chunkings.
SPLITTER_VERSION = 4  # 2: headings, captions and file names end at their line; label runs
# 3: a sheet row's cells (" · ") stay one sentence; 4: PDFs are cut at their headings too
# Formats whose documents are chunked section by section (see chunk_document).
SECTIONED_FORMATS = frozenset({"html", "docx", "pdf"})
SECTIONED_FORMATS |= {"epub", "eml", "xlsx", "csv", "tsv"}  # chapters, sheets (qa.ingest.formats)


def word_counter(texts: Sequence[str]) -> list[int]:
    """A tokenizer-free counter (one token per word or punctuation mark), for tests and tools."""
    return [len(re.findall(r"\w+|[^\w\s]", t)) for t in texts]


def _fit_by_chars(text: str, span: Span, max_tokens: int, count: TokenCounter) -> list[Span]:
    """Split one over-long word (no white space inside) into pieces that fit."""
    pieces: list[Span] = []
    start = span.start
    while start < span.end:
        size = span.end - start
        while size > 1 and count([text[start : start + size]])[0] > max_tokens:
            size = max(1, size // 2)
        pieces.append(Span(start, start + size))
        start += size
    return pieces


def _fit_by_words(text: str, span: Span, max_tokens: int, count: TokenCounter) -> list[Span]:
    """Split an over-long sentence at white space into pieces that fit the model."""
    words = [
        Span(m.start() + span.start, m.end() + span.start)
        for m in re.finditer(r"\S+", text[span.start : span.end])
    ]
    units: list[Span] = []
    for word, n in zip(words, count([text[w.start : w.end] for w in words]), strict=True):
        units.extend(_fit_by_chars(text, word, max_tokens, count) if n > max_tokens else [word])
    return [
        Span(units[a].start, units[b - 1].end) for a, b in _pack(text, units, max_tokens, 0, count)
    ]


def _units(text: str, max_tokens: int, count: TokenCounter) -> list[Span]:
    sentences = split_sentences(text)
    sizes = count([text[s.start : s.end] for s in sentences]) if sentences else []
    units: list[Span] = []
    for sentence, n in zip(sentences, sizes, strict=True):
        units.extend(
            _fit_by_words(text, sentence, max_tokens, count) if n > max_tokens else [sentence]
        )
    return units


def _pack(
    text: str, units: list[Span], max_tokens: int, overlap: int, count: TokenCounter
) -> list[tuple[int, int]]:
    """Greedy packing of consecutive units into [a, b) ranges that fit `max_tokens`,
    each starting with up to `overlap` tokens of whole units from the previous one."""
    sizes = count([text[u.start : u.end] for u in units]) if units else []
    ranges: list[tuple[int, int]] = []
    a = 0
    while a < len(units):
        b, total = a, 0
        while b < len(units) and (b == a or total + sizes[b] <= max_tokens):
            total += sizes[b]
            b += 1
        # Sums of parts can differ from the count of the joined text; check the real thing.
        while b - a > 1 and count([text[units[a].start : units[b - 1].end]])[0] > max_tokens:
            b -= 1
        ranges.append((a, b))
        if b == len(units):
            break
        nxt, carried = b, 0
        while nxt - 1 > a and carried + sizes[nxt - 1] <= overlap:
            nxt -= 1
            carried += sizes[nxt]
        a = nxt
    return ranges


@dataclass(frozen=True)
class ChunkSettings:
    max_tokens: int = 200
    overlap_tokens: int = 20


def remembering(count: TokenCounter) -> TokenCounter:
    """`count` that tokenises each distinct text once: packing asks again for the sizes of
    the sentences that splitting counted (tokenising was most of chunking's time)."""
    known: dict[str, int] = {}

    def counted(texts: Sequence[str]) -> list[int]:
        missing = list(dict.fromkeys(t for t in texts if t not in known))
        if missing:
            known.update(zip(missing, count(missing), strict=True))
        return [known[t] for t in texts]

    return counted


def _between_labels(text: str, units: list[Span]) -> list[list[Span]]:
    """`units` in groups that no label run (qa.text.label_runs) falls between, so that no
    chunk holds a figure's labels: they are left out, not rewritten."""
    ends = [run.end for run in label_runs(text)]
    groups: dict[int, list[Span]] = {}
    for unit in units:
        groups.setdefault(bisect_right(ends, unit.start), []).append(unit)
    return list(groups.values())


def chunk_text(
    doc_id: str, text: str, *, count: TokenCounter, settings: ChunkSettings = ChunkSettings()
) -> list[Chunk]:
    """Chunks of one document's text, each with exact [start, end) offsets into it."""
    count = remembering(count)
    return [
        Chunk(
            doc_id=doc_id,
            start=units[a].start,
            end=units[b - 1].end,
            text=text[units[a].start : units[b - 1].end],
        )
        for units in _between_labels(text, _units(text, settings.max_tokens, count))
        for a, b in _pack(text, units, settings.max_tokens, settings.overlap_tokens, count)
    ]


def chunk_document(
    doc: Document, *, count: TokenCounter, settings: ChunkSettings = ChunkSettings()
) -> list[Chunk]:
    """Chunks of a document. A paged document is chunked page by page, and an HTML, Word
    or PDF document (headings by font size: qa.ingest.formats.pdf) section by section, so
    every passage lies on one page and under one heading: its citation names them exactly,
    and one page image shows it whole. (Markdown and text keep the chunking they always
    had.)"""
    cuts = {p.start for p in doc.pages}
    if doc.format in SECTIONED_FORMATS:
        cuts.update(s.start for s in doc.sections)
    cuts.discard(0)
    if not cuts:
        return chunk_text(doc.doc_id, doc.text, count=count, settings=settings)
    chunks: list[Chunk] = []
    bounds = [0, *sorted(cuts), len(doc.text)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        for c in chunk_text(doc.doc_id, doc.text[start:end], count=count, settings=settings):
            chunks.append(Chunk(doc.doc_id, c.start + start, c.end + start, c.text))
    return chunks


def chunk_settings(settings: Settings) -> ChunkSettings:
    return ChunkSettings(max_tokens=settings.chunk_tokens, overlap_tokens=settings.chunk_overlap)
