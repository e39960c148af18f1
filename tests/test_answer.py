from __future__ import annotations

import math

import numpy as np

from qa.answer import (
    AnswerSettings,
    Calibration,
    candidates,
    choose_answer,
    confidence,
    features,
    lexical_overlap,
    sentence_scores,
)
from qa.types import Chunk, Passage, Scores

DOC = "Intro text. Denmark offered to lead the mission. Canada leads it now. Tail."


def passage(
    rank: int, start: int, end: int, dense: float = 0.7, lexical: float = 2.0, fused: float = 1.0
) -> Passage:
    return Passage(
        rank=rank,
        chunk=Chunk("d.md", start, end, DOC[start:end]),
        title="D",
        metadata={},
        scores=Scores(dense=dense, lexical=lexical, fused=fused),
    )


def test_candidates_are_unique_sentences_in_document_offsets() -> None:
    found = candidates([passage(1, 12, 70), passage(2, 0, 48)], limit=3)
    assert [DOC[c.start : c.end] for c in found] == [c.text for c in found]
    assert [c.text for c in found] == [
        "Denmark offered to lead the mission.",
        "Canada leads it now.",
        "Intro text.",
    ]
    assert [c.passage_rank for c in found] == [1, 1, 2]


def test_lexical_overlap_counts_content_words() -> None:
    assert lexical_overlap("Who offered to lead the mission?", DOC) == 1.0
    assert lexical_overlap("Which country leads?", "Denmark offered.") == 0.0
    # content words: country, offered, lead -> only "offered" present
    assert lexical_overlap("Which country offered to lead?", "Denmark offered.") == 1 / 3


def test_sentence_scores_combine_similarity_overlap_and_rank() -> None:
    found = candidates([passage(1, 12, 48), passage(2, 49, 70)], limit=2)
    settings = AnswerSettings(lexical_weight=0.15, rank_penalty=0.02)
    scores = sentence_scores("Who offered to lead?", found, np.array([0.5, 0.52]), settings)
    # "offered", "lead" both in sentence 1 -> +0.15; sentence 2 has neither, rank 2 -> -0.02
    assert np.allclose(scores, [0.65, 0.50])


def test_features_by_hand() -> None:
    ps = [
        passage(1, 12, 48, dense=0.6, lexical=3.0, fused=1.0),
        passage(2, 49, 70, dense=0.7, lexical=1.0, fused=0.4),
    ]
    got = features(ps, best_sentence=0.65)
    # dense top 0.6; log1p(max lexical 3) ; gap 1.0-0.4 ; dense argmax (1) != lexical argmax (0)
    assert np.allclose(got, [0.6, math.log1p(3.0), 0.6, 0.0, 0.65])


def test_choose_answer_abstains_below_the_threshold() -> None:
    found = candidates([passage(1, 12, 70)], limit=1)
    sims = np.array([0.9, 0.1])
    always = AnswerSettings(calibration=Calibration(bias=10.0, weights=(0, 0, 0, 0, 0)))
    never = AnswerSettings(calibration=Calibration(bias=-10.0, weights=(0, 0, 0, 0, 0)))
    answer = choose_answer("Who offered?", found, sims, [passage(1, 12, 70)], settings=always)
    assert answer is not None and answer.text == "Denmark offered to lead the mission."
    assert (answer.start, answer.end) == (12, 48)
    assert answer.confidence == round(1 / (1 + math.exp(-10)), 4)
    assert choose_answer("Who offered?", found, sims, [passage(1, 12, 70)], settings=never) is None
    assert choose_answer("q", [], np.zeros(0), []) is None


def test_confidence_is_the_logistic_of_the_weighted_sum() -> None:
    cal = Calibration(bias=-1.0, weights=(2.0, 0.0, 0.0, 0.0, 1.0))
    assert math.isclose(confidence([0.5, 9, 9, 9, 1.0], cal), 1 / (1 + math.exp(-1.0)))
    assert confidence([1e9, 0, 0, 0, 0], cal) == 1 / (1 + math.exp(-60))  # clamped, no overflow
