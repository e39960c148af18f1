"""Pure answer selection: the sentence of the top passages that best answers a question,
its short answer, and whether to give it.

Sentences are scored by their similarity to the question under the same model,
plus lexical overlap with the question, a small preference for higher-ranked
passages, and a bonus when they offer an answer of the kind asked for (a number
of the thing "how many" counts); the winner is cited by exact offsets into its
document, its short answer (qa.answer.short) too. Whether it is given depends on its
confidence (qa.answer.confidence) against the fitted threshold.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from qa.answer.confidence import (
    Calibration,
    Evidence,
    confidence,
    covered,
    features,
    pool_confidence,
    question_words,
)
from qa.answer.short import answer_kind, best_span, counted_thing
from qa.text import chunk_sentences, tokenize
from qa.types import Answer, Passage, ShortAnswer

_WORD = re.compile(r"\w+", re.UNICODE)
_STOPWORDS = frozenset(
    "a an and are as at be by did do does for from has have how i in is it its of on or "
    "that the their there this to was were what when where which who whom whose why will "
    "with would".split()
)


@dataclass(frozen=True)
class AnswerSettings:
    passages: int = 3  # how many top passages the answer may come from
    lexical_weight: float = 0.45  # tuned on SQuAD dev questions (0.3 ... 1.0)
    rank_penalty: float = 0.02
    # Chosen on SQuAD dev answers (accuracy 0.792 -> 0.804):
    kind_bonus: float = 0.05  # a sentence offering an answer of the kind asked for
    counted_bonus: float = 0.1  # ... a number of the very thing "how many" asks about
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


def _share(wanted: set[str], have: set[str]) -> float:
    return len(wanted & have) / len(wanted) if wanted else 0.0


def lexical_overlap(question: str, sentence: str) -> float:
    """Share of the question's content words that the sentence contains."""
    return _share(content_words(question), content_words(sentence))


def candidates(passages: Sequence[Passage], *, limit: int) -> list[Candidate]:
    """Sentences of the first `limit` passages, each once, in document offsets."""
    seen: set[tuple[str, int, int]] = set()
    out: list[Candidate] = []
    for passage in passages[:limit]:
        chunk = passage.chunk
        for span in chunk_sentences(chunk.text):
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


def overlap_with(question: str, rarity: Mapping[str, float]) -> Callable[[str], float]:
    """sentence -> how much of the question it holds: the mean of the share of the
    question's content words and the rarity-weighted share of its stems (a rare word
    found counts for more than a common one; dev answer accuracy 0.758 -> 0.792 against
    the plain share). The question's words are found once, not once per sentence."""
    words = question_words(question)
    wanted = content_words(question)

    def overlap(sentence: str) -> float:
        weighted = covered(words, rarity, set(tokenize(sentence)))
        return 0.5 * (weighted + _share(wanted, content_words(sentence)))

    return overlap


def sentence_overlap(question: str, sentence: str, rarity: Mapping[str, float]) -> float:
    return overlap_with(question, rarity)(sentence)


def sentence_scores(
    question: str,
    found: Sequence[Candidate],
    similarities: np.ndarray,
    settings: AnswerSettings,
    rarity: Mapping[str, float] | None = None,
) -> list[float]:
    kind = answer_kind(question)
    thing = counted_thing(question) if kind == "number" else None
    overlap = overlap_with(question, rarity or {})
    scores = []
    for c, sim in zip(found, similarities.tolist(), strict=True):
        score = (
            float(sim)
            + settings.lexical_weight * overlap(c.text)
            - settings.rank_penalty * (c.passage_rank - 1)
        )
        if kind is not None and (settings.kind_bonus or settings.counted_bonus):
            span = best_span(question, c.text, kind)
            if span is not None:
                score += settings.kind_bonus + settings.counted_bonus * (
                    span.counted and thing is not None
                )
        scores.append(score)
    return scores


@dataclass(frozen=True)
class Choice:
    """The best sentence, its short answer, and the confidence features behind them."""

    candidate: Candidate
    short: ShortAnswer | None
    features: list[float]


def assess(
    question: str,
    winner: Candidate,
    similarity: float,
    passages: Sequence[Passage],
    rarity: Mapping[str, float],
    short: ShortAnswer | None = None,
) -> Choice:
    """`winner` as the answer, with its confidence features. The short answer is `short`
    (the reader's span) or else qa.answer.short's span of the sentence; the features always use
    qa.answer.short's, as the calibration was fitted."""
    span = best_span(question, winner.text)
    typed = (
        None
        if span is None
        else ShortAnswer(span.text, winner.start + span.start, winner.start + span.end)
    )
    passage = next(p for p in passages if p.rank == winner.passage_rank)
    evidence = Evidence(
        question=question,
        sentence=winner.text,
        passage=passage.chunk.text,
        similarity=similarity,
        rarity=rarity,
        short_found=typed is not None,
        counted=span is not None and span.counted,
    )
    return Choice(winner, short or typed, features(passages, evidence))


def choose(
    question: str,
    found: Sequence[Candidate],
    similarities: np.ndarray,
    passages: Sequence[Passage],
    rarity: Mapping[str, float],
    settings: AnswerSettings = AnswerSettings(),
) -> Choice | None:
    """The best sentence among `found`, or None when there is none."""
    if not found or not passages:
        return None
    scores = sentence_scores(question, found, similarities, settings, rarity)
    best = max(range(len(found)), key=scores.__getitem__)
    return assess(question, found[best], float(similarities[best]), passages, rarity)


def sentence_of(passage: Passage, start: int, end: int) -> Candidate:
    """The sentence of `passage` that holds the document span [start, end), widened to
    the following sentences when the span runs past its end."""
    chunk = passage.chunk
    a, b = start - chunk.start, end - chunk.start
    spans = chunk_sentences(chunk.text)
    first = next((s for s in spans if s.start <= a < s.end), None)
    last = next((s for s in spans if s.start < b <= s.end), None)
    lo = first.start if first is not None else a
    hi = last.end if last is not None else b
    lo, hi = min(lo, a), max(hi, b)
    return Candidate(
        chunk.doc_id, chunk.start + lo, chunk.start + hi, chunk.text[lo:hi], passage.rank
    )


def decide(
    choice: Choice | None,
    settings: AnswerSettings = AnswerSettings(),
    probabilities: Sequence[float] = (),
) -> tuple[Answer | None, float]:
    """The Answer (None when the confidence is below the threshold) and the confidence,
    the built-in one pooled with `probabilities` (see `pool_confidence`)."""
    if choice is None:
        return None, 0.0
    builtin = confidence(choice.features, settings.calibration)
    conf = round(pool_confidence(builtin, probabilities), 4)
    if conf < settings.calibration.threshold:
        return None, conf
    return answer_of(choice, conf), conf


def answer_of(choice: Choice, conf: float) -> Answer:
    """`choice` as an Answer at confidence `conf`, whether given or withheld."""
    winner = choice.candidate
    return Answer(
        text=winner.text,
        doc_id=winner.doc_id,
        start=winner.start,
        end=winner.end,
        confidence=conf,
        short=choice.short,
    )


def choose_answer(
    question: str,
    found: Sequence[Candidate],
    similarities: np.ndarray,
    passages: Sequence[Passage],
    *,
    rarity: Mapping[str, float] | None = None,
    settings: AnswerSettings = AnswerSettings(),
) -> tuple[Answer | None, float]:
    """The best sentence as an Answer (None when the documents do not answer) and the
    confidence that it is right, which is reported either way."""
    choice = choose(question, found, similarities, passages, rarity or {}, settings)
    return decide(choice, settings)
