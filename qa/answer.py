"""Pure answer selection: the sentence of the top passages that best answers a question,
and whether the documents answer it at all.

Sentences are scored by their similarity to the question under the same model,
plus lexical overlap with the question and a small preference for higher-ranked
passages; the winner is cited by exact offsets into its document.

The confidence is a logistic model over features of the retrieval (how close
the best passage is, how strongly BM25 matches, the gap to the next passage,
whether the dense and lexical rankings agree, and the best sentence's score).
Its weights and the abstention threshold were fitted on development data by
`eval/fit_confidence.py`, never on the test questions.
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

FEATURES = ("dense_top", "lexical_top", "gap", "agreement", "sentence")


@dataclass(frozen=True)
class Calibration:
    """Logistic weights over FEATURES, fitted by eval/fit_confidence.py."""

    bias: float = -15.9823
    weights: tuple[float, ...] = (10.0774, 12.7473, -3.7185, -2.7532, 9.4629)
    threshold: float = 0.5  # answer when confidence >= threshold


@dataclass(frozen=True)
class AnswerSettings:
    passages: int = 3  # how many top passages the answer may come from
    lexical_weight: float = 0.3  # tuned on SQuAD dev questions (answer accuracy 0.783)
    rank_penalty: float = 0.02
    calibration: Calibration = Calibration()


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


def sentence_scores(
    question: str, found: Sequence[Candidate], similarities: np.ndarray, settings: AnswerSettings
) -> list[float]:
    return [
        float(sim)
        + settings.lexical_weight * lexical_overlap(question, c.text)
        - settings.rank_penalty * (c.passage_rank - 1)
        for c, sim in zip(found, similarities.tolist(), strict=True)
    ]


def features(passages: Sequence[Passage], best_sentence: float) -> list[float]:
    """The numbers the confidence is computed from, in FEATURES order."""
    top = passages[0].scores
    lexical = [p.scores.lexical or 0.0 for p in passages]
    dense = [p.scores.dense for p in passages]
    gap = top.fused - passages[1].scores.fused if len(passages) > 1 else top.fused
    agree = float(int(np.argmax(dense)) == int(np.argmax(lexical))) if any(lexical) else 0.0
    return [top.dense, math.log1p(max(lexical)), gap, agree, best_sentence]


def confidence(values: Sequence[float], calibration: Calibration) -> float:
    z = calibration.bias + sum(w * x for w, x in zip(calibration.weights, values, strict=True))
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def choose_answer(
    question: str,
    found: Sequence[Candidate],
    similarities: np.ndarray,
    passages: Sequence[Passage],
    *,
    settings: AnswerSettings = AnswerSettings(),
) -> Answer | None:
    """The best sentence as an Answer, or None when the documents do not answer."""
    if not found or not passages:
        return None
    scores = sentence_scores(question, found, similarities, settings)
    best = max(range(len(found)), key=scores.__getitem__)
    conf = confidence(features(passages, scores[best]), settings.calibration)
    if conf < settings.calibration.threshold:
        return None
    winner = found[best]
    return Answer(
        text=winner.text,
        doc_id=winner.doc_id,
        start=winner.start,
        end=winner.end,
        confidence=round(conf, 4),
    )
