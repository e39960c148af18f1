"""Pure confidence: how likely the chosen answer is to be right.

A logistic model over features that mean the same in any corpus: cosines,
shares of the question's words (weighted by their rarity in the corpus) that
the answer's sentence and passage contain, whether the question's names,
numbers and rarest words are there at all (a near-topic question that the
documents do not answer usually lacks one), whether a factoid question found an
answer of its kind (a number of the very thing "how many" counts), and what
SQuAD 2.0's adversarial unanswerable questions change in a sentence that
answers a similar question (a negation, a name or number the sentence lacks,
two words turned round, a word turned into its opposite). Its weights and the
abstention threshold were fitted on development data by
`eval/fit_confidence.py`, never on the test questions. With the optional models
(qa.search.rerank, qa.answer.reader) it is pooled with their probabilities
(`pool_confidence`); that pooling was not fitted.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from qa.answer.short import answer_kind, counted_thing
from qa.text import named_in, tokenize
from qa.types import Passage

_WORD = re.compile(r"\w+", re.UNICODE)

FEATURES = (
    "dense_top",  # cosine of the question with the best passage
    "sentence",  # cosine of the question with the answer sentence
    "covered_sentence",  # rarity-weighted share of the question's words in the sentence
    "covered_passage",  # ... in the answer's passage
    "missing_distinctive",  # share of names and numbers of the question the passage lacks
    "unknown_distinctive",  # ... that the whole corpus never mentions
    "kind_missing",  # a factoid question whose sentence offers no answer of its kind
    "gap",  # fused-score lead of the best passage over the next
    "agreement",  # dense and BM25 rank the same passage first
    # What SQuAD 2.0's unanswerable questions change in a sentence that answers a similar
    # one: a negation, a name or number, the order of two words; the sentence, not just
    # its passage, has to hold what the question asks about.
    "negated",  # the question says not, never, no ...
    "missing_distinctive_sentence",  # share of the question's names and numbers it lacks
    "missing_number",  # share of the question's numbers absent from the sentence's
    "reordered",  # two adjacent question words that the sentence has the other way round
    "uncovered_sentence",  # share of the question's topic words absent from the sentence
    "any_missing_sentence",  # the sentence lacks one of the question's names or numbers
    "any_unknown",  # the corpus never mentions one of them
    "uncounted",  # "how many X": the sentence's number counts something else
    "opposed",  # the sentence has the opposite of a question's word (least / most)
)
# Words of a question's form rather than its topic: absent from the evidence, they say
# nothing about whether it answers.
_QUESTION_FORM = frozenset(tokenize("many much long far old often called named name type kind"))
_DISTINCTIVE = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][\w'-]*|\b\d[\d,.]*\b")
_NEGATION = re.compile(r"\b(?:not|never|no|none|nor|cannot|without|neither)\b|n't\b", re.I)
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NUMBER_WORD = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|hundred|"
    r"thousand|million|billion|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|"
    r"half|halves|thirds|quarters?)\b",
    re.I,
)
# Opposites SQuAD 2.0's writers swap into a question; a word and its negated form
# (dependent / independent) count too.
_OPPOSITES = tuple(
    tuple(pair.split("/"))
    for pair in (
        "most/least first/last best/worst largest/smallest biggest/smallest highest/lowest "
        "major/minor before/after maximum/minimum upper/lower increase/decrease "
        "increased/decreased north/south east/west northern/southern eastern/western "
        "early/late earliest/latest earlier/later old/new oldest/newest older/newer "
        "more/less more/fewer larger/smaller higher/lower longer/shorter longest/shortest "
        "above/below inside/outside import/export imports/exports imported/exported "
        "win/lose won/lost victory/defeat rise/fall rose/fell strong/weak strongest/weakest "
        "common/rare ancient/modern medieval/modern always/never all/none begin/end "
        "began/ended start/end started/ended open/closed public/private male/female"
    ).split()
)
_NEGATING = ("in", "un", "non", "dis", "im", "ir", "il")
_ORDER_WINDOW = 3  # words of the sentence within which a question's word pair is sought


@dataclass(frozen=True)
class Calibration:
    """A logistic model over FEATURES, fitted by eval/fit_confidence.py on the SQuAD
    development half: sigmoid(bias + min(weights . x, coverage . x)). Two directions,
    each already scaled: `weights` tells answerable questions from SQuAD 2.0's
    adversarial unanswerable ones (a detail changed in words copied from the text),
    `coverage` tells them from questions whose evidence lacks what they ask about
    (asked of another corpus, a name swapped, the answering paragraph held out). The
    answer must pass both; the common scale makes the value the chance that the answer
    is right. An empty `coverage` leaves `weights` alone."""

    bias: float = -1.9547
    weights: tuple[float, ...] = (
        1.5577,
        1.6826,
        0.0,
        0.2837,
        -1.01,
        -0.2491,
        -0.2401,
        0.0,
        0.1371,
        -1.2049,
        -0.3302,
        -0.8316,
        -0.3464,
        0.0,
        -1.0965,
        -0.1443,
        -0.3125,
        -0.9032,
    )
    coverage: tuple[float, ...] = (
        1.4048,
        1.5682,
        1.2305,
        1.7394,
        -1.1201,
        -0.0705,
        -0.5405,
        0.4438,
        0.6745,
        -0.087,
        -0.4265,
        -0.1695,
        -0.1602,
        -0.8884,
        -1.5358,
        -0.0508,
        -0.3468,
        0.0,
    )
    # Answer when confidence >= threshold: the highest that keeps 97% of the dev half's
    # right answers (eval/fit_confidence.py says why not more).
    threshold: float = 0.18


@dataclass(frozen=True)
class Evidence:
    """What the answer rests on, for the confidence features."""

    question: str
    sentence: str
    passage: str
    similarity: float
    rarity: Mapping[str, float]  # of each question word (qa.search.lexical.LexicalIndex.rarity)
    short_found: bool
    counted: bool = False  # the short answer is a number of the thing "how many" asks about


def covered(words: Sequence[str], rarity: Mapping[str, float], present: set[str]) -> float:
    total = sum(rarity.get(w, 1.0) for w in words)
    return sum(rarity.get(w, 1.0) for w in words if w in present) / total if total else 0.0


def question_words(question: str) -> list[str]:
    """The question's topic words as BM25 stems, each once, in order."""
    return [w for w in dict.fromkeys(tokenize(question)) if w not in _QUESTION_FORM]


@lru_cache(maxsize=64)  # asked three times per answer: of the passage, sentence, corpus
def distinctive_terms(question: str) -> tuple[frozenset[str], frozenset[str]]:
    """The question's names (as BM25 stems) and numbers: capitalised words other than a
    sentence's first, and numerals."""
    names: set[str] = set()
    numbers: set[str] = set()
    for m in _DISTINCTIVE.finditer(question):
        found = _NUMBER.findall(m.group(0))
        if found:
            numbers.update(found)
        else:
            names.update(t for t in tokenize(m.group(0)) if len(t) > 1)  # not a possessive's s
    return frozenset(names), frozenset(numbers)


def _names_found(names: frozenset[str], present: set[str]) -> int:
    return sum(1 for n in names if n in present or named_in(n, present))


def distinctive_unknown(question: str, rarity: Mapping[str, float]) -> float:
    """Share of the question's names and numbers that no passage of the corpus contains
    (rarity 1): "How many soldiers does Latvia send?" over a corpus that never names Latvia."""
    names, numbers = distinctive_terms(question)
    stems = {s for s in names | numbers if s in rarity}
    return sum(1 for s in stems if rarity[s] >= 1.0) / len(stems) if stems else 0.0


def distinctive_missing(question: str, passage: str, present: set[str] | None = None) -> float:
    """Share of the question's names and numbers that `passage` (or a sentence) does not
    contain; a name counts as there in another of its forms (Lithuanian for Lithuania,
    Danish for Denmark). `present` is the passage's stems, when the caller has them."""
    names, numbers = distinctive_terms(question)
    if not names and not numbers:
        return 0.0
    found = _names_found(names, set(tokenize(passage)) if present is None else present)
    found += len(numbers & set(_NUMBER.findall(passage)))
    return 1.0 - found / (len(names) + len(numbers))


def numbers_missing(question: str, sentence: str) -> float:
    """Share of the question's numbers that are not among the sentence's numbers: "a
    magnitude 8.7 event" against a sentence that gives 8.0."""
    wanted = _numbers(question)
    return len(wanted - _numbers(sentence)) / len(wanted) if wanted else 0.0


def _numbers(text: str) -> set[str]:
    return set(_NUMBER.findall(text)) | {w.group(0).lower() for w in _NUMBER_WORD.finditer(text)}


def reordered(question: str, sentence: str) -> bool:
    """Whether two adjacent topic words of the question occur in the sentence only the
    other way round (within a few words): "Automobile State Association" asked of "State
    Automobile Association"."""
    words = tokenize(sentence)
    near = {(a, b) for i, a in enumerate(words) for b in words[i + 1 : i + 1 + _ORDER_WINDOW]}
    asked = tokenize(question)
    return any((b, a) in near and (a, b) not in near for a, b in itertools.pairwise(asked))


def opposed(question: str, sentence: str) -> bool:
    """Whether the sentence has the opposite of one of the question's words and not the
    word itself: "least well known" asked of "the most well-known", "dependent" of
    "independent"."""
    asked = set(_WORD.findall(question.lower()))
    have = set(_WORD.findall(sentence.lower()))
    for a, b in _OPPOSITES:
        for mine, theirs in ((a, b), (b, a)):
            if mine in asked and theirs in have and mine not in have and theirs not in asked:
                return True
    only_theirs = have - asked
    return any(_negated_in(w, only_theirs) for w in asked - have)


def _negated_in(word: str, words: set[str]) -> bool:
    """Whether `words` holds `word` with a negating prefix ("dependent", "independent")
    or without one ("independent", "dependent"); the word without it has 5 letters or
    more."""
    for prefix in _NEGATING:
        if len(word) >= 5 and prefix + word in words:
            return True
        rest = word[len(prefix) :]
        if word.startswith(prefix) and len(rest) >= 5 and rest in words:
            return True
    return False


def uncovered(words: Sequence[str], present: set[str]) -> float:
    """Share of `words` absent from `present`, each word counting the same."""
    return sum(1 for w in words if w not in present) / len(words) if words else 0.0


def features(passages: Sequence[Passage], evidence: Evidence) -> list[float]:
    """The numbers the confidence is computed from, in FEATURES order."""
    top = passages[0].scores
    lexical = [p.scores.lexical or 0.0 for p in passages]
    dense = [p.scores.dense for p in passages]
    gap = top.fused - passages[1].scores.fused if len(passages) > 1 else top.fused
    agree = float(int(np.argmax(dense)) == int(np.argmax(lexical))) if any(lexical) else 0.0
    words = question_words(evidence.question)
    in_sentence = set(tokenize(evidence.sentence))
    in_passage = set(tokenize(evidence.passage)) | in_sentence
    kind = answer_kind(evidence.question)
    kind_missing = kind is not None and not evidence.short_found
    uncounted = (
        kind == "number"
        and evidence.short_found
        and not evidence.counted
        and counted_thing(evidence.question) is not None
    )
    missing_sentence = distinctive_missing(evidence.question, evidence.sentence, in_sentence)
    unknown = distinctive_unknown(evidence.question, evidence.rarity)
    return [
        top.dense,
        evidence.similarity,
        covered(words, evidence.rarity, in_sentence),
        covered(words, evidence.rarity, in_passage),
        distinctive_missing(evidence.question, evidence.passage, in_passage),
        unknown,
        float(kind_missing),
        gap,
        agree,
        float(_NEGATION.search(evidence.question) is not None),
        missing_sentence,
        numbers_missing(evidence.question, evidence.sentence),
        float(reordered(evidence.question, evidence.sentence)),
        uncovered(words, in_sentence),
        float(missing_sentence > 0),
        float(unknown > 0),
        float(uncounted),
        float(opposed(evidence.question, evidence.sentence)),
    ]


def confidence(values: Sequence[float], calibration: Calibration) -> float:
    z = sum(w * x for w, x in zip(calibration.weights, values, strict=True))
    if calibration.coverage:
        z = min(z, sum(w * x for w, x in zip(calibration.coverage, values, strict=True)))
    z += calibration.bias
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, z))))


def pool_confidence(builtin: float, probabilities: Sequence[float]) -> float:
    """The built-in confidence pooled with the optional models' probabilities: the mean
    of their log-odds (a logarithmic opinion pool with equal weights). It stays in
    (0, 1), equals `builtin` without models, moves the same way as each probability,
    and a model can at most halve the distance to its own verdict: the models' scores
    were never fitted on this service's questions, so none decides alone."""
    if not probabilities:
        return builtin
    eps = 1e-6
    logits = [
        math.log(p / (1 - p))
        for p in (min(max(x, eps), 1 - eps) for x in (builtin, *probabilities))
    ]
    return 1.0 / (1.0 + math.exp(-sum(logits) / len(logits)))
