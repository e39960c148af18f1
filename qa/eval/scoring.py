"""Pure answer-quality metrics: SQuAD exact match and token F1, and how well a
confidence separates, ranks and calibrates answers.

SQuAD scores use the official normalisation (lower case, no punctuation, no
articles a/an/the, whitespace collapsed) and take the best over the gold
answers. A confidence is judged against `correct` flags (the answer given was
right); expected calibration error uses equal-width bins over [0, 1].
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_ARTICLES = re.compile(r"\b(a|an|the)\b", re.UNICODE)
_PUNCTUATION = frozenset(string.punctuation)


def squad_normalize(text: str) -> str:
    """The official SQuAD answer normalisation."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised gold answer."""
    wanted = squad_normalize(prediction)
    return float(any(wanted == squad_normalize(g) for g in golds))


def _f1(prediction: str, gold: str) -> float:
    pred, true = squad_normalize(prediction).split(), squad_normalize(gold).split()
    if not pred or not true:
        return float(pred == true)  # the official rule: both empty is a match
    common = sum((Counter(pred) & Counter(true)).values())
    if not common:
        return 0.0
    precision, recall = common / len(pred), common / len(true)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, golds: Sequence[str]) -> float:
    """The best token-overlap F1 of the prediction against any gold answer."""
    return max((_f1(prediction, g) for g in golds), default=0.0)


@dataclass(frozen=True)
class Bin:
    """One bin of a reliability diagram: [low, high), its mean confidence and accuracy."""

    low: float
    high: float
    count: int
    confidence: float
    accuracy: float


def reliability(
    confidences: Sequence[float], correct: Sequence[bool], *, bins: int = 10
) -> list[Bin]:
    """Equal-width bins over [0, 1]; 1.0 falls in the last bin. Empty bins are left out."""
    if len(confidences) != len(correct):
        raise ValueError(f"{len(confidences)} confidences for {len(correct)} outcomes")
    grouped: list[list[tuple[float, bool]]] = [[] for _ in range(bins)]
    for c, ok in zip(confidences, correct, strict=True):
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"a confidence must lie in [0, 1], not {c}")
        grouped[min(int(c * bins), bins - 1)].append((c, ok))
    return [
        Bin(
            low=i / bins,
            high=(i + 1) / bins,
            count=len(g),
            confidence=sum(c for c, _ in g) / len(g),
            accuracy=sum(ok for _, ok in g) / len(g),
        )
        for i, g in enumerate(grouped)
        if g
    ]


def expected_calibration_error(
    confidences: Sequence[float], correct: Sequence[bool], *, bins: int = 10
) -> float:
    """Sum over bins of |accuracy - mean confidence|, weighted by the bin's share."""
    total = len(confidences)
    if not total:
        raise ValueError("calibration error of no answers")
    table = reliability(confidences, correct, bins=bins)
    return sum(b.count / total * abs(b.accuracy - b.confidence) for b in table)


def auroc(scores: Sequence[float], positive: Sequence[bool]) -> float | None:
    """Probability that a random positive outscores a random negative (ties count half);
    None without both classes."""
    pos = sorted(s for s, p in zip(scores, positive, strict=True) if p)
    neg = sorted(s for s, p in zip(scores, positive, strict=True) if not p)
    if not pos or not neg:
        return None
    wins, lo, hi = 0.0, 0, 0
    for s in pos:  # pos ascending: the counts below and at s only grow
        while lo < len(neg) and neg[lo] < s:
            lo += 1
        hi = max(hi, lo)
        while hi < len(neg) and neg[hi] <= s:
            hi += 1
        wins += lo + 0.5 * (hi - lo)
    return wins / (len(pos) * len(neg))


@dataclass(frozen=True)
class TradeOff:
    """What answering only at confidence >= threshold does."""

    threshold: float
    answered_correctly: float | None  # answerable questions answered, and right
    answered: float | None  # answerable questions answered at all
    abstained_unanswerable: float | None  # unanswerable questions abstained on


def trade_off(
    confidences: Sequence[float],
    correct: Sequence[bool],
    unanswerable: Sequence[bool],
    *,
    threshold: float,
) -> TradeOff:
    answerable = [
        (c, ok) for c, ok, u in zip(confidences, correct, unanswerable, strict=True) if not u
    ]
    impossible = [c for c, u in zip(confidences, unanswerable, strict=True) if u]

    def share(flags: list[bool]) -> float | None:
        return sum(flags) / len(flags) if flags else None

    return TradeOff(
        threshold=threshold,
        answered_correctly=share([c >= threshold and ok for c, ok in answerable]),
        answered=share([c >= threshold for c, _ in answerable]),
        abstained_unanswerable=share([c < threshold for c in impossible]),
    )


def trade_off_curve(
    confidences: Sequence[float],
    correct: Sequence[bool],
    unanswerable: Sequence[bool],
    *,
    steps: int = 20,
) -> list[TradeOff]:
    """`trade_off` at thresholds 0, 1/steps, ..., 1."""
    return [
        trade_off(confidences, correct, unanswerable, threshold=i / steps) for i in range(steps + 1)
    ]


def quality(
    *,
    predictions: Sequence[str],
    golds: Sequence[Sequence[str]],
    confidences: Sequence[float],
    right: Sequence[bool],
    answerable: Sequence[bool],
) -> dict[str, float | None]:
    """EM and F1 averaged over the questions with gold answers; the calibration error of
    the confidences against `right` (an unanswerable question's answer is never right);
    AUROC of the confidences, answerable against unanswerable."""
    scored = [(p, g) for p, g in zip(predictions, golds, strict=True) if g]
    truly = [ok and a for ok, a in zip(right, answerable, strict=True)]
    return {
        "exact_match": _mean([exact_match(p, g) for p, g in scored]),
        "f1": _mean([token_f1(p, g) for p, g in scored]),
        "calibration_error": (
            expected_calibration_error(confidences, truly) if confidences else None
        ),
        "auroc": auroc(confidences, answerable),
    }


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None
