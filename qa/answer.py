"""Pure answer selection: the sentence of the top passages that best answers a question.

Sentences are scored by their similarity to the question under the same model,
plus a little lexical overlap and a small preference for higher-ranked
passages; the winner is cited by exact offsets into its document.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from qa.chunking import split_sentences
from qa.types import Answer, Passage

_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be by did do does for from has have how i in is it its of on or "
    "that the their there this to was were what when where which who whom whose why will "
    "with would".split()
)


@dataclass(frozen=True)
class AnswerSettings:
    passages: int = 3  # how many top passages the answer may come from
    lexical_weight: float = 0.15
    rank_penalty: float = 0.02
    # Below this dense score of the best passage, the corpus is taken not to answer.
    min_passage_score: float = 0.35
    # Logistic map from sentence score to a confidence in [0, 1].
    confidence_midpoint: float = 0.45
    confidence_slope: float = 12.0


@dataclass(frozen=True)
class Candidate:
    doc_id: str
    start: int
    end: int
    text: str
    passage_rank: int


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


def lexical_overlap(question: str, sentence: str) -> float:
    """Share of the question's content words that the sentence contains."""
    wanted = content_words(question)
    return len(wanted & content_words(sentence)) / len(wanted) if wanted else 0.0


def candidates(passages: Sequence[Passage], *, limit: int) -> list[Candidate]:
    """Sentences of the first `limit` passages, each once, in document offsets."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Candidate] = []
    for passage in passages[:limit]:
        chunk = passage.chunk
        for span in split_sentences(chunk.text):
            start, end = chunk.start + span.start, chunk.start + span.end
            key = (chunk.doc_id, start, end)
            if key not in seen:
                seen.add(key)
                out.append(
                    Candidate(
                        chunk.doc_id, start, end, chunk.text[span.start : span.end], passage.rank
                    )
                )
    return out


def confidence(score: float, settings: AnswerSettings) -> float:
    z = settings.confidence_slope * (score - settings.confidence_midpoint)
    return 1.0 / (1.0 + math.exp(-z))


def choose_answer(
    question: str,
    found: Sequence[Candidate],
    similarities: np.ndarray,
    *,
    settings: AnswerSettings = AnswerSettings(),
) -> Answer | None:
    """The best candidate as an Answer, or None when there is none."""
    if not found:
        return None
    scores = [
        float(sim)
        + settings.lexical_weight * lexical_overlap(question, c.text)
        - settings.rank_penalty * (c.passage_rank - 1)
        for c, sim in zip(found, similarities.tolist(), strict=True)
    ]
    best = max(range(len(found)), key=scores.__getitem__)
    winner = found[best]
    return Answer(
        text=winner.text,
        doc_id=winner.doc_id,
        start=winner.start,
        end=winner.end,
        confidence=round(confidence(scores[best], settings), 4),
    )


def is_answerable(passages: Sequence[Passage], settings: AnswerSettings) -> bool:
    return bool(passages) and passages[0].scores.dense >= settings.min_passage_score
