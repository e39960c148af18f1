"""Domain types shared by every layer. Imports nothing from qa."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Document:
    """One source document. `text` is what every citation offset indexes into."""

    doc_id: str
    title: str
    text: str
    content_hash: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


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


@dataclass(frozen=True)
class Passage:
    """A ranked search hit with its citation into the source document."""

    rank: int
    chunk: Chunk
    title: str
    metadata: Mapping[str, Any]
    scores: Scores

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
