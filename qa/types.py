"""Domain types shared by every layer. Imports nothing from qa."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PageRange:
    """Where one page of a paged document lies in its text: [start, end), page 1-based."""

    page: int
    start: int
    end: int


@dataclass(frozen=True)
class Section:
    """A heading: its text starts at `start` in the document text; `level` 1 is the top."""

    start: int
    level: int
    title: str


@dataclass(frozen=True)
class Document:
    """One source document. `text` is what every citation offset indexes into.

    `format` names what the text was extracted from ("markdown", "text", "pdf", "html",
    "docx"); `pages` and `sections` are its layout, in offsets of `text`; `source_hash` is
    the SHA-256 of the original file's bytes, so an unchanged file is not read again.
    """

    doc_id: str
    title: str
    text: str
    content_hash: str
    metadata: Mapping[str, Any] = field(default_factory=dict)
    format: str = "text"
    pages: tuple[PageRange, ...] = ()
    sections: tuple[Section, ...] = ()
    source_hash: str = ""

    def page_at(self, offset: int) -> int | None:
        """The 1-based page that `offset` lies on (a page break counts to the page
        before it); None for a document without pages."""
        i = bisect_right(self.pages, offset, key=lambda p: p.start)
        return self.pages[max(i - 1, 0)].page if self.pages else None

    def section_at(self, offset: int) -> str | None:
        """The heading that `offset` sits under: the last one starting at or before it."""
        i = bisect_right(self.sections, offset, key=lambda s: s.start)
        return self.sections[i - 1].title if i else None

    def heading_path_at(self, offset: int) -> tuple[str, ...]:
        """The headings that `offset` sits under, outermost first: for each level, the
        last heading starting at or before `offset` that no later, higher heading closed.
        Every reader fills `sections` (Markdown and HTML headings, Word heading styles,
        the PDF outline, slide titles, sheet names, EPUB chapters), so this is the one
        place a chunk's heading path comes from, for retrieval and for the reply alike."""
        path: list[Section] = []
        for s in self.sections[: bisect_right(self.sections, offset, key=lambda s: s.start)]:
            while path and path[-1].level >= s.level:
                path.pop()
            path.append(s)
        return tuple(s.title for s in path)


@dataclass(frozen=True)
class Span:
    """A half-open character range [start, end) of a document's text."""

    start: int
    end: int


@dataclass(frozen=True)
class Chunk:
    """A passage of a document: `document.text[start:end] == text`, exactly."""

    doc_id: str
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Scores:
    """Why a passage ranked where it did. `lexical` is None for dense-only search."""

    dense: float
    lexical: float | None
    fused: float
    # The best sentence's evidence in [0, 1] (hybrid search over stored sentences).
    sentence: float | None = None
    # The optional cross-encoder's probability that the passage answers (QA_RERANKER).
    rerank: float | None = None


@dataclass(frozen=True)
class Citation:
    """Where a text lies in one document: `chunk` (doc_id, [start, end), its exact text),
    the document's title, and the page and headings it starts under."""

    chunk: Chunk
    title: str
    page: int | None = None
    section: str | None = None
    heading_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class Passage:
    """A ranked search hit with its citation into the source document."""

    rank: int
    chunk: Chunk
    title: str
    metadata: Mapping[str, Any]
    scores: Scores
    page: int | None = None  # 1-based page where the passage starts; None without pages
    section: str | None = None  # the heading the passage sits under
    # Every heading it sits under, outermost first (Document.heading_path_at).
    heading_path: tuple[str, ...] = ()
    # The other sources whose text is the same or nearly so (the same chapter as PDF and
    # HTML, two versions of a file), each cited exactly; see qa.search.repeats.
    also_in: tuple[Citation, ...] = ()

    @property
    def score(self) -> float:
        return self.scores.fused


@dataclass(frozen=True)
class ShortAnswer:
    """The words that answer a factoid question (a number, date, name or place): a span
    of the answer sentence, `document.text[start:end] == text` exactly."""

    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Answer:
    """The sentence that best answers a question, cited by exact offsets."""

    text: str
    doc_id: str
    start: int
    end: int
    confidence: float
    page: int | None = None
    section: str | None = None
    short: ShortAnswer | None = None


@dataclass(frozen=True)
class AskResult:
    question: str
    answer: Answer | None
    passages: list[Passage]
    answerable: bool
    # The probability that `answer` is right, in [0, 1], also when it abstained (then
    # it is below the threshold), so a client can apply a threshold of its own. The
    # service always sets it.
    confidence: float = 0.0
    # What `confidence` was pooled from: "builtin" (qa.answer.confidence's logistic model) and, when
    # those models are loaded, "reader" (p(answer)) and "reranker" (the answer's passage).
    confidence_parts: Mapping[str, float] = field(default_factory=dict)
    # When it abstained: the answer it would have given, for a client whose own threshold
    # is lower (and for evaluating every threshold); None when it answered.
    withheld: Answer | None = None
