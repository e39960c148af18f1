from __future__ import annotations

import numpy as np

from qa.answer import AnswerSettings, candidates, choose_answer, confidence, lexical_overlap
from qa.types import Chunk, Passage, Scores

DOC = "Intro text. Denmark offered to lead the mission. Canada leads it now. Tail."


def passage(rank: int, start: int, end: int, dense: float = 0.7) -> Passage:
    return Passage(
        rank=rank,
        chunk=Chunk("d.md", start, end, DOC[start:end]),
        title="D",
        metadata={},
        scores=Scores(dense=dense, lexical=None, fused=dense),
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


def test_choose_answer_combines_similarity_overlap_and_rank() -> None:
    found = candidates([passage(1, 12, 70)], limit=1)
    sims = np.array([0.50, 0.52], dtype=np.float32)
    settings = AnswerSettings(lexical_weight=0.15, rank_penalty=0.02)
    answer = choose_answer("Who offered to lead?", found, sims, settings=settings)
    assert answer is not None
    # 0.50 + 0.15 * 2/2 beats 0.52 + 0.15 * 1/2 ("lead" occurs in "leads"? no: word match)
    assert answer.text == "Denmark offered to lead the mission."
    assert (answer.start, answer.end) == (12, 48)
    assert answer.confidence == round(confidence(0.65, settings), 4)


def test_no_candidates_no_answer() -> None:
    assert choose_answer("q", [], np.zeros(0)) is None


def test_confidence_is_a_monotone_map_into_0_1() -> None:
    s = AnswerSettings()
    values = [confidence(x, s) for x in (-1.0, 0.0, 0.45, 0.9, 2.0)]
    assert values == sorted(values) and values[2] == 0.5
    assert 0.0 < values[0] < 0.01 and 0.99 < values[-1] < 1.0
