"""Tests for qa.eval.report: every expected number is worked out by hand in a comment."""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.eval.questionsets import (
    EvalQuestion,
    GoldSpan,
    in_split,
    load_dataset,
    load_jsonl,
    load_squad,
    normalize_text,
    slug,
)
from qa.eval.report import (
    EvalRecord,
    EvalReport,
    abstention_precision,
    abstention_recall,
    answer_contains_gold,
    evaluate,
    first_hit,
    format_table,
    hit_at_k,
    is_hit,
    ndcg_at_k,
    percentile,
    reciprocal_rank,
    record_from_result,
    relevances,
    summarize,
)
from qa.types import Answer, AskResult, Chunk, Document, Passage, Scores, ShortAnswer

REPO_ROOT = Path(__file__).resolve().parents[1]
SQUAD_SLICE = REPO_ROOT.parent / "shared" / "datasets" / "squad2-dev-3articles.json"
SEED_QUESTIONS = REPO_ROOT / "eval" / "seed-questions.jsonl"
CORPUS = REPO_ROOT / "corpus"

L3 = math.log2(3)  # discount of rank 2
L5 = math.log2(5)  # discount of rank 4


def q(*answers: str, gold: tuple[GoldSpan, ...] = ()) -> EvalQuestion:
    """An answerable question (or an unanswerable one when no answers are given)."""
    return EvalQuestion("Where?", answers=answers, unanswerable=not answers, gold=gold)


def passage(chunk: Chunk, rank: int = 1) -> Passage:
    return Passage(rank, chunk, "Title", {}, Scores(dense=0.5, lexical=None, fused=0.5))


# ---------------------------------------------------------------- hit@k


@pytest.mark.parametrize(
    ("rels", "k", "expected"),
    [
        ([0, 1, 0, 1], 1, 0.0),  # rank 1 is not relevant
        ([0, 1, 0, 1], 2, 1.0),  # rank 2 is
        ([0, 1, 0, 1], 10, 1.0),  # k beyond the list: the whole list counts
        ([0, 0, 1], 2, 0.0),  # the hit is at rank 3, outside the top 2
        ([True, False], 1, 1.0),  # booleans work as 0/1
        ([], 5, 0.0),  # nothing returned
        ([0, 0, 0], 3, 0.0),  # nothing relevant
    ],
)
def test_hit_at_k(rels: list[int], k: int, expected: float) -> None:
    assert hit_at_k(rels, k) == expected


@pytest.mark.parametrize("k", [0, -1])
def test_k_below_one_is_rejected(k: int) -> None:
    with pytest.raises(ValueError, match="k must be at least 1"):
        hit_at_k([1], k)
    with pytest.raises(ValueError, match="k must be at least 1"):
        reciprocal_rank([1], k=k)
    with pytest.raises(ValueError, match="k must be at least 1"):
        ndcg_at_k([1], k=k)


# ---------------------------------------------------------------- reciprocal rank


@pytest.mark.parametrize(
    ("rels", "k", "expected"),
    [
        ([0, 1, 0, 1], 10, 0.5),  # first hit at rank 2: 1/2
        ([1, 1], 10, 1.0),  # first hit at rank 1: 1/1
        ([0, 0, 0, 1], 10, 0.25),  # rank 4: 1/4
        ([0, 0, 1], 2, 0.0),  # rank 3 lies outside k=2
        ([0] * 9 + [1], 10, 0.1),  # rank 10: 1/10, just inside k
        ([0] * 10 + [1], 10, 0.0),  # rank 11: outside k
        ([0, 1], 100, 0.5),  # k larger than the list
        ([], 10, 0.0),  # empty list
        ([0, 0], 10, 0.0),  # no relevant passage
    ],
)
def test_reciprocal_rank(rels: list[int], k: int, expected: float) -> None:
    assert reciprocal_rank(rels, k=k) == expected


def test_first_hit_is_the_rank_of_the_first_relevant_passage() -> None:
    assert [first_hit(r) for r in ([0, 1, 1], [True], [0] * 11 + [1], [], [0, 0])] == [
        2,
        1,
        12,  # no cut-off: k is reciprocal_rank's
        0,
        0,
    ]


def test_reciprocal_rank_defaults_to_k_10() -> None:
    assert reciprocal_rank([0] * 10 + [1]) == 0.0  # rank 11 > 10
    assert reciprocal_rank([0] * 9 + [1]) == 0.1  # rank 10: 1/10


# ---------------------------------------------------------------- nDCG


@pytest.mark.parametrize(
    ("rels", "k", "expected"),
    [
        # DCG = 1/log2(3) + 1/log2(5); 2 relevant, so IDCG = 1/log2(2) + 1/log2(3) = 1 + 1/log2(3)
        ([0, 1, 0, 1], 10, (1 / L3 + 1 / L5) / (1 + 1 / L3)),  # = 0.6509...
        ([1, 0, 0], 10, 1.0),  # the one hit is first: DCG = IDCG = 1
        ([1, 1, 0], 10, 1.0),  # both hits first: DCG = IDCG = 1 + 1/log2(3)
        ([0, 0, 1], 10, 0.5),  # DCG = 1/log2(4) = 1/2; IDCG = 1
        # k=2 cuts the hit at rank 3 out of DCG (0); R = 1 so IDCG = 1: nDCG = 0
        ([0, 0, 1], 2, 0.0),
        # DCG@2 = 1 (rank 1 only); R = 3 capped at k = 2: IDCG = 1 + 1/log2(3)
        ([1, 0, 1, 1], 2, 1 / (1 + 1 / L3)),  # = 0.6131...
        ([0, 1], 100, 1 / L3),  # k larger than the list: DCG = 1/log2(3), IDCG = 1
        ([], 10, 0.0),  # empty list
        ([0, 0, 0], 10, 0.0),  # no relevant passage: 0, not 0/0
    ],
)
def test_ndcg_at_k(rels: list[int], k: int, expected: float) -> None:
    assert ndcg_at_k(rels, k=k) == pytest.approx(expected, rel=1e-12, abs=0)


def test_ndcg_numbers_written_out() -> None:
    # The same arithmetic with the logarithms evaluated: guards against a formula
    # that is wrong in the same way in both the code and the comment above.
    assert ndcg_at_k([0, 1, 0, 1]) == pytest.approx(0.650921, abs=1e-6)
    assert ndcg_at_k([1, 0, 1, 1], k=2) == pytest.approx(0.613147, abs=1e-6)
    assert ndcg_at_k([0, 1]) == pytest.approx(0.630930, abs=1e-6)


@given(st.lists(st.booleans(), max_size=30), st.integers(min_value=1, max_value=40))
def test_ranking_metrics_properties(rels: list[bool], k: int) -> None:
    ndcg = ndcg_at_k(rels, k=k)
    rr = reciprocal_rank(rels, k=k)
    hit = hit_at_k(rels, k)
    assert 0.0 <= ndcg <= 1.0 + 1e-12
    assert 0.0 <= rr <= hit  # a first hit at rank r gives 1/r <= 1
    assert (hit == 0.0) == (ndcg == 0.0) == (rr == 0.0)
    assert hit_at_k(rels, k + 1) >= hit
    # Moving every relevant passage to the front is the ideal ranking.
    assert ndcg_at_k(sorted(rels, reverse=True), k=k) == pytest.approx(1.0 if any(rels) else 0.0)


# ---------------------------------------------------------------- answers and relevance


@pytest.mark.parametrize(
    ("answer", "golds", "expected"),
    [
        ("Denmark sends a ship to the  Strait of\nHormuz.", ["strait of hormuz"], True),
        ("It is 285 people.", ["195", "285"], True),  # any gold answer counts
        ("Denmark", ["Danish"], False),
        ("", ["France"], False),
        (None, ["France"], False),  # an abstention is never a correct answer
        ("France", [], False),  # no gold answers: nothing to contain
    ],
)
def test_answer_contains_gold(answer: str | None, golds: list[str], expected: bool) -> None:
    assert answer_contains_gold(answer, golds) is expected


def test_normalize_text() -> None:
    assert normalize_text("  The\tStrait  of\n\nHORMUZ ") == "the strait of hormuz"


def test_is_hit_with_gold_span_needs_overlap_and_answer() -> None:
    text = "x" * 10 + " the Strait of Hormuz "
    question = q("Strait of  HORMUZ", gold=(GoldSpan("a.md", 100, 200),))
    assert is_hit(Chunk("a.md", 150, 250, text), question)  # overlaps [100, 200)
    assert is_hit(Chunk("a.md", 199, 300, text), question)  # shares character 199
    assert is_hit(Chunk("a.md", 0, 101, text), question)  # shares character 100
    assert not is_hit(Chunk("a.md", 200, 300, text), question)  # half-open: touches only
    assert not is_hit(Chunk("a.md", 0, 100, text), question)
    assert not is_hit(Chunk("b.md", 150, 250, text), question)  # another document
    assert not is_hit(Chunk("a.md", 150, 250, "no answer here"), question)


def test_is_hit_without_gold_spans_needs_only_the_answer() -> None:
    question = q("285")
    assert is_hit(Chunk("any.md", 0, 20, "send 285 personnel"), question)
    assert not is_hit(Chunk("any.md", 0, 20, "send 195 personnel"), question)


def test_unanswerable_question_has_no_hits() -> None:
    assert not is_hit(Chunk("a.md", 0, 5, "France"), q())


def test_relevances_of_passages_keep_their_order() -> None:
    chunks = [
        Chunk("d.md", 0, 5, "Paris"),
        Chunk("d.md", 5, 11, "France"),
        Chunk("d.md", 0, 1, "P"),
    ]
    flags = relevances([passage(c, i) for i, c in enumerate(chunks, 1)], q("france"))
    assert flags == (False, True, False)


# ---------------------------------------------------------------- percentile


@pytest.mark.parametrize(
    ("values", "pct", "expected"),
    [
        ([1.0, 2.0, 3.0, 4.0], 50, 2.5),  # position 3 * 0.5 = 1.5: 2 + 0.5 * (3 - 2)
        ([4.0, 1.0, 3.0, 2.0], 50, 2.5),  # order of the input does not matter
        ([1.0, 2.0, 3.0, 4.0], 95, 3.85),  # position 3 * 0.95 = 2.85: 3 + 0.85 * (4 - 3)
        ([1.0, 2.0, 3.0, 4.0], 0, 1.0),
        ([1.0, 2.0, 3.0, 4.0], 100, 4.0),
        ([10.0, 20.0, 30.0, 40.0, 50.0], 50, 30.0),  # position 2: exactly the middle value
        ([7.0], 95, 7.0),  # one value is every percentile
    ],
)
def test_percentile(values: list[float], pct: float, expected: float) -> None:
    assert percentile(values, pct) == pytest.approx(expected, rel=1e-12)


def test_percentile_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    with pytest.raises(ValueError, match="within"):
        percentile([1.0], 101)


@given(
    st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=50),
    st.floats(min_value=0, max_value=100),
)
def test_percentile_matches_numpy(values: list[float], pct: float) -> None:
    assert percentile(values, pct) == pytest.approx(
        float(np.percentile(values, pct)), rel=1e-9, abs=1e-6
    )


# ---------------------------------------------------------------- abstention


def test_abstention_precision_and_recall() -> None:
    abstained = [True, True, False, False]
    unanswerable = [True, False, True, True]
    # One correct abstention (the first question) out of 2 abstentions and 3 unanswerable.
    assert abstention_precision(abstained=abstained, unanswerable=unanswerable) == 0.5
    assert abstention_recall(abstained=abstained, unanswerable=unanswerable) == pytest.approx(
        1 / 3, rel=1e-12
    )


def test_abstention_metrics_are_none_without_a_denominator() -> None:
    # Never abstained: precision 0/0 is None; recall 0/2 = 0.
    assert abstention_precision(abstained=[False, False], unanswerable=[True, True]) is None
    assert abstention_recall(abstained=[False, False], unanswerable=[True, True]) == 0.0
    # Nothing unanswerable: recall 0/0 is None; precision 0/1 = 0.
    assert abstention_recall(abstained=[True, False], unanswerable=[False, False]) is None
    assert abstention_precision(abstained=[True, False], unanswerable=[False, False]) == 0.0
    assert abstention_precision(abstained=[], unanswerable=[]) is None


def test_abstention_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="2 abstention flags for 1 questions"):
        abstention_precision(abstained=[True, False], unanswerable=[True])


# ---------------------------------------------------------------- summarize


def _records() -> list[EvalRecord]:
    paris = EvalQuestion("Capital of France?", answers=("Paris",), unanswerable=False)
    return [
        # answerable, hits at ranks 2 and 4, right answer
        EvalRecord(paris, (False, True, False, True), "It is Paris.", False, 0.010),
        # answerable, hit at rank 1, wrong answer
        EvalRecord(paris, (True,), "It is Lyon.", False, 0.020),
        # answerable, only hit at rank 11; abstained, so wrong even with "Paris" in the text
        EvalRecord(paris, (False,) * 10 + (True,), "Paris", True, 0.030),
        # unanswerable, abstained: a correct abstention
        EvalRecord(EvalQuestion("Moon?", unanswerable=True), (), None, True, 0.040),
        # unanswerable, answered anyway: a missed abstention
        EvalRecord(EvalQuestion("Mars?", unanswerable=True), (False,), "Lyon", False, 0.050),
    ]


def test_summarize_by_hand() -> None:
    report = summarize(_records())
    assert (report.questions, report.answerable, report.unanswerable) == (5, 3, 2)
    # Ranking metrics average the 3 answerable questions only.
    assert report.hit_at_1 == pytest.approx(1 / 3)  # (0 + 1 + 0) / 3
    assert report.hit_at_3 == pytest.approx(2 / 3)  # (1 + 1 + 0) / 3
    assert report.hit_at_5 == pytest.approx(2 / 3)
    assert report.hit_at_10 == pytest.approx(2 / 3)  # rank 11 is still a miss
    assert report.mrr_at_10 == pytest.approx(0.5)  # (1/2 + 1/1 + 0) / 3
    # (0.6509... + 1 + 0) / 3: the third has R = 1 so IDCG = 1, DCG@10 = 0
    expected_ndcg = ((1 / L3 + 1 / L5) / (1 + 1 / L3) + 1 + 0) / 3
    assert report.ndcg_at_10 == pytest.approx(expected_ndcg, rel=1e-12)
    assert report.answer_accuracy == pytest.approx(1 / 3)  # only the first is right
    # Abstentions: questions 3 (wrong) and 4 (right); unanswerable: 4 and 5.
    assert report.abstention_precision == 0.5  # 1 / 2
    assert report.abstention_recall == 0.5  # 1 / 2
    # Latencies 10, 20, 30, 40, 50 ms: p50 at position 2 = 30;
    # p95 at position 4 * 0.95 = 3.8 = 40 + 0.8 * 10 = 48.
    assert report.latency_p50_ms == pytest.approx(30.0)
    assert report.latency_p95_ms == pytest.approx(48.0)


def test_summarize_nothing_gives_none() -> None:
    report = summarize([])
    assert report.to_dict() == {
        "hit_at_1": None,
        "hit_at_3": None,
        "hit_at_5": None,
        "hit_at_10": None,
        "mrr_at_10": None,
        "ndcg_at_10": None,
        "answer_accuracy": None,
        "abstention_precision": None,
        "abstention_recall": None,
        "exact_match": None,
        "f1": None,
        "calibration_error": None,
        "auroc": None,
        "latency_p50_ms": None,
        "latency_p95_ms": None,
        "questions": 0,
        "answerable": 0,
        "unanswerable": 0,
        "page_accuracy": None,
    }


def test_summarize_only_unanswerable() -> None:
    report = summarize(_records()[3:])
    assert report.hit_at_1 is None and report.answer_accuracy is None  # nothing to average
    assert report.abstention_precision == 1.0  # 1 abstention, correct
    assert report.abstention_recall == 0.5  # 1 of 2 unanswerable
    assert json.loads(json.dumps(report.to_dict()))["questions"] == 2


def test_record_latency_must_be_sane() -> None:
    with pytest.raises(ValueError, match="latency"):
        EvalRecord(q("a"), (), None, True, -0.1)
    with pytest.raises(ValueError, match="latency"):
        EvalRecord(q("a"), (), None, True, math.nan)


# ---------------------------------------------------------------- record_from_result, evaluate


def _ask_result(answer: Answer | None, *, answerable: bool) -> AskResult:
    chunks = [Chunk("d.md", 0, 4, "Lyon"), Chunk("d.md", 10, 15, "Paris")]
    passages = [passage(c, i) for i, c in enumerate(chunks, 1)]
    conf = 0.05 if answer is None else answer.confidence
    return AskResult("Capital?", answer, passages, answerable, confidence=conf)


def test_record_from_result() -> None:
    question = q("paris")
    answered = record_from_result(
        question,
        _ask_result(
            Answer("Paris", "d.md", 10, 15, 0.9, short=ShortAnswer("Paris", 10, 15)),
            answerable=True,
        ),
        latency_s=0.5,
    )
    assert answered == EvalRecord(
        question, (False, True), "Paris", False, 0.5, (None, None), confidence=0.9, short="Paris"
    )
    no_answer = record_from_result(question, _ask_result(None, answerable=False), latency_s=0.1)
    assert no_answer.abstained and no_answer.answer is None
    assert no_answer.confidence == 0.05  # kept when abstaining
    # An answer flagged as not answerable is an abstention too.
    flagged = _ask_result(Answer("Lyon", "d.md", 0, 4, 0.1), answerable=False)
    assert record_from_result(question, flagged, latency_s=0.1).abstained


def test_a_withheld_answer_is_judged_for_the_confidence_but_never_counts_as_given() -> None:
    """The answer withheld below the threshold is recorded, so that the trade-off at a
    lower threshold and the calibration see whether it was right; accuracy, exact match
    and F1 still count the abstention as no answer."""
    question = q("paris")
    held = replace(
        _ask_result(None, answerable=False),
        withheld=Answer("Paris", "d.md", 10, 15, 0.05, short=ShortAnswer("Paris", 10, 15)),
    )
    record = record_from_result(question, held, latency_s=0.1)
    assert record.abstained and record.answer == "Paris" and record.short == "Paris"
    report = summarize([record])
    assert report.answer_accuracy == 0.0 and report.exact_match == 0.0 and report.f1 == 0.0
    # Right but at confidence 0.05: the calibration error is 0.95.
    assert report.calibration_error == pytest.approx(0.95)


def test_evaluate_times_each_question_with_the_clock() -> None:
    ticks = iter([0.0, 0.25, 1.0, 1.5])
    asked: list[str] = []

    def ask(text: str) -> AskResult:
        asked.append(text)
        return _ask_result(None, answerable=False)

    questions = [EvalQuestion("One?", answers=("Lyon",)), EvalQuestion("Two?", unanswerable=True)]
    records = evaluate(questions, ask, clock=lambda: next(ticks))
    assert asked == ["One?", "Two?"]
    assert [r.latency_s for r in records] == [0.25, 0.5]  # 0.25 - 0, 1.5 - 1.0
    assert [r.relevances for r in records] == [(True, False), (False, False)]


# ---------------------------------------------------------------- format_table


def test_format_table() -> None:
    full = summarize(_records())
    empty = summarize([])
    table = format_table({"dense": full, "bm25": empty})
    assert table.splitlines() == [
        "metric                 dense  bm25",
        "--------------------  ------  ----",
        "hit@1                  0.333   n/a",
        "hit@3                  0.667   n/a",
        "hit@5                  0.667   n/a",
        "hit@10                 0.667   n/a",
        "MRR@10                 0.500   n/a",
        "nDCG@10                0.550   n/a",
        "answer accuracy        0.333   n/a",
        "abstention precision   0.500   n/a",
        "abstention recall      0.500   n/a",
        "exact match (SQuAD)    0.000   n/a",
        "token F1 (SQuAD)       0.167   n/a",
        "calibration error        n/a   n/a",  # these records carry no confidence
        "AUROC answerable         n/a   n/a",
        "latency p50 (ms)      30.000   n/a",
        "latency p95 (ms)      48.000   n/a",
        "questions                  5     0",
        "answerable                 3     0",
        "unanswerable               2     0",
    ]


def test_format_table_needs_a_report() -> None:
    with pytest.raises(ValueError, match="no reports"):
        format_table({})


def test_report_type_is_exported() -> None:
    assert isinstance(summarize([]), EvalReport)


# ---------------------------------------------------------------- EvalQuestion


def test_eval_question_needs_answers_or_unanswerable() -> None:
    with pytest.raises(ValueError, match="not both or neither"):
        EvalQuestion("Where?", answers=("here",), unanswerable=True)
    with pytest.raises(ValueError, match="not both or neither"):
        EvalQuestion("Where?")
    with pytest.raises(ValueError, match="blank"):
        EvalQuestion("Where?", answers=(" ",))
    with pytest.raises(ValueError, match="empty"):
        EvalQuestion("  ", unanswerable=True)


# ---------------------------------------------------------------- SQuAD loader


def _squad_file(tmp_path: Path) -> Path:
    data = {
        "version": "v2.0",
        "data": [
            {
                "title": "Tiny_Article",
                "paragraphs": [
                    {
                        "context": "Alpha beta.",
                        "qas": [
                            {
                                "id": "q1",
                                "question": "What is first?",
                                "answers": [
                                    {"text": "Alpha", "answer_start": 0},
                                    {"text": "Alpha", "answer_start": 0},
                                    {"text": "Alpha beta", "answer_start": 0},
                                ],
                                "is_impossible": False,
                            }
                        ],
                    },
                    {
                        "context": "Gamma delta.",
                        "qas": [
                            {
                                "id": "q2",
                                "question": "What is last?",
                                "answers": [],
                                "plausible_answers": [{"text": "delta", "answer_start": 6}],
                                "is_impossible": True,
                            },
                            {
                                "id": "q3",
                                "question": "What is third?",
                                "answers": [{"text": "Gamma", "answer_start": 0}],
                                "is_impossible": False,
                            },
                        ],
                    },
                ],
            },
            {
                "title": "Éclair Café",
                "paragraphs": [{"context": "Choux.", "qas": []}],
            },
        ],
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_load_squad_small(tmp_path: Path) -> None:
    documents, questions = load_squad(_squad_file(tmp_path))
    tiny, eclair = documents
    assert tiny.doc_id == "tiny-article.md" and tiny.title == "Tiny Article"
    # "Alpha beta." is 11 characters, then "\n\n", so the second paragraph starts at 13
    # and "Gamma delta." (12 characters) ends at 25.
    assert tiny.text == "Alpha beta.\n\nGamma delta."
    assert tiny.content_hash == hashlib.sha256(b"Alpha beta.\n\nGamma delta.").hexdigest()
    assert tiny.metadata == {"source": "SQuAD 2.0 dev"}
    assert (eclair.doc_id, eclair.title, eclair.text) == ("eclair-cafe.md", "Éclair Café", "Choux.")
    assert questions == [
        EvalQuestion(
            "What is first?",
            answers=("Alpha", "Alpha beta"),  # distinct, first-seen order
            gold=(GoldSpan("tiny-article.md", 0, 11),),
            qid="q1",
        ),
        EvalQuestion(  # plausible_answers are ignored
            "What is last?",
            unanswerable=True,
            gold=(GoldSpan("tiny-article.md", 13, 25),),
            qid="q2",
        ),
        EvalQuestion(
            "What is third?",
            answers=("Gamma",),
            gold=(GoldSpan("tiny-article.md", 13, 25),),
            qid="q3",
        ),
    ]
    assert load_dataset(_squad_file(tmp_path)) == (documents, questions)


def test_load_squad_malformed(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(
        json.dumps({"version": "v2.0", "data": [{"title": "T", "paragraphs": [{"qas": []}]}]}),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="article 1: missing key 'context'"):
        load_squad(path)
    path.write_text(json.dumps({"questions": []}), encoding="utf-8")
    with pytest.raises(ValueError, match="not SQuAD JSON"):
        load_squad(path)


def test_slug() -> None:
    assert slug("Computational_complexity_theory") == "computational-complexity-theory"
    assert slug("  Zenkevičius & Co. ") == "zenkevicius-co"


# ---------------------------------------------------------------- JSONL loader


def test_load_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "questions.jsonl"
    path.write_text(
        '{"question": "How many?", "answers": ["285", "285 military personnel"]}\n'
        "\n"
        "   \n"
        '{"id": "cook-1", "question": "How to boil an egg?", "unanswerable": true,'
        ' "tags": ["off-topic"]}\n'
        '{"question": "Who?", "answers": ["Kofod"], "unanswerable": false}\n',
        encoding="utf-8",
    )
    assert load_jsonl(path) == [
        EvalQuestion("How many?", answers=("285", "285 military personnel"), qid="line-1"),
        EvalQuestion("How to boil an egg?", unanswerable=True, qid="cook-1", tags=("off-topic",)),
        EvalQuestion("Who?", answers=("Kofod",), qid="line-5"),
    ]
    assert load_dataset(path) == (None, load_jsonl(path))


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('{"question": "Who?", "answers": ["x"]', "invalid JSON"),
        ('["Who?", "x"]', "expected a JSON object, got list"),
        ('{"answers": ["x"]}', "'question' must be a non-empty string"),
        ('{"question": "", "answers": ["x"]}', "'question' must be a non-empty string"),
        ('{"question": "Who?", "answers": "x"}', "'answers' must be a list of non-empty strings"),
        ('{"question": "Who?", "answers": [""]}', "'answers' must be a list of non-empty strings"),
        ('{"question": "Who?", "answers": [3]}', "'answers' must be a list of non-empty strings"),
        ('{"question": "Who?"}', "give either a non-empty 'answers' list"),
        ('{"question": "Who?", "answers": []}', "give either a non-empty 'answers' list"),
        ('{"question": "Who?", "answers": ["x"], "unanswerable": true}', "give either"),
        ('{"question": "Who?", "unanswerable": "yes"}', "'unanswerable' must be true or false"),
        ('{"question": "Who?", "answer": ["x"]}', "unknown key(s) 'answer'"),
        ('{"question": "Who?", "answers": ["x"], "id": 7}', "'id' must be a non-empty string"),
        ('{"question": "Who?", "answers": ["x"], "tags": "a"}', "'tags' must be a list"),
        ('{"question": "Again?", "answers": ["x"], "id": "one"}', "duplicate id 'one'"),
    ],
)
def test_load_jsonl_malformed_line_names_line_and_problem(
    tmp_path: Path, line: str, problem: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"id": "one", "question": "Ok?", "answers": ["x"]}\n\n' + line + "\n", encoding="utf-8"
    )
    with pytest.raises(ValueError) as raised:
        load_jsonl(path)
    assert f"{path}: line 3: " in str(raised.value)
    assert problem in str(raised.value)


def test_load_jsonl_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(ValueError, match="no questions found"):
        load_jsonl(path)
    with pytest.raises(ValueError, match="no questions found"):
        load_dataset(path)


def test_load_dataset_single_json_object_is_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text('{"question": "Who?", "answers": ["Kofod"]}', encoding="utf-8")
    assert load_dataset(path) == (None, [EvalQuestion("Who?", answers=("Kofod",), qid="line-1")])


# ---------------------------------------------------------------- the shared SQuAD slice


@dataclass(frozen=True)
class SquadSlice:
    raw: dict[str, Any]
    documents: list[Document]
    questions: list[EvalQuestion]


@pytest.fixture(scope="module")
def squad_slice() -> SquadSlice:
    if not SQUAD_SLICE.is_file():
        pytest.skip(f"shared dataset missing: expected {SQUAD_SLICE.name} in shared/datasets/")
    raw = json.loads(SQUAD_SLICE.read_text(encoding="utf-8"))
    documents, questions = load_squad(SQUAD_SLICE)
    return SquadSlice(raw, documents, questions)


def test_real_squad_slice_shape(squad_slice: SquadSlice) -> None:
    documents, questions = squad_slice.documents, squad_slice.questions
    assert [(d.doc_id, d.title) for d in documents] == [
        ("normans.md", "Normans"),
        ("computational-complexity-theory.md", "Computational complexity theory"),
        ("southern-california.md", "Southern California"),
    ]
    assert len(questions) == 950
    unanswerable = sum(question.unanswerable for question in questions)
    assert unanswerable == 477  # counted with a separate script: 112 + 221 + 144
    assert 0.4 < unanswerable / len(questions) < 0.6  # "about half"
    assert len({question.qid for question in questions}) == 950
    for document in documents:
        assert document.content_hash == hashlib.sha256(document.text.encode()).hexdigest()
        assert "\n\n\n" not in document.text  # no paragraph is blank


def test_real_squad_gold_spans_slice_back(squad_slice: SquadSlice) -> None:
    by_id = {d.doc_id: d for d in squad_slice.documents}
    loaded = iter(squad_slice.questions)
    checked = 0
    for article in squad_slice.raw["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                question = next(loaded)
                assert question.qid == qa["id"]
                (span,) = question.gold
                text = by_id[span.doc_id].text
                assert text[span.start : span.end] == paragraph["context"]
                if question.unanswerable:
                    assert question.answers == ()
                    continue
                _check_answers(question, qa["answers"], text, span)
                checked += 1
    assert checked == 473  # 950 - 477
    assert next(loaded, None) is None


def _check_answers(
    question: EvalQuestion, answers: list[dict[str, Any]], text: str, span: GoldSpan
) -> None:
    assert set(question.answers) == {answer["text"] for answer in answers}
    for answer in answers:
        # SQuAD's offsets are paragraph-relative; they shift by the span's start.
        start = span.start + answer["answer_start"]
        assert text[start : start + len(answer["text"])] == answer["text"]
        assert answer["text"] in text[span.start : span.end]
    # The paragraph itself, as a chunk, is a hit; the same chunk in another document is not.
    chunk = Chunk(span.doc_id, span.start, span.end, text[span.start : span.end])
    assert is_hit(chunk, question)
    assert not is_hit(Chunk("elsewhere.md", span.start, span.end, chunk.text), question)


# ---------------------------------------------------------------- the seed question set


def _corpus_bodies() -> dict[str, str]:
    """Each corpus file's body: the text after its YAML front matter."""
    bodies = {}
    for path in sorted(CORPUS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        _, front_matter, body = text.split("---\n", 2)
        assert "title:" in front_matter
        bodies[path.name] = body
    return bodies


def test_seed_questions_are_honest() -> None:
    if not CORPUS.is_dir():
        pytest.skip("the default corpus folder is missing")
    bodies = _corpus_bodies()
    questions = load_jsonl(SEED_QUESTIONS)
    answerable = [question for question in questions if not question.unanswerable]
    assert len(questions) >= 45
    assert len(answerable) >= 30
    assert len(questions) - len(answerable) >= 12
    for question in answerable:
        for answer in question.answers:
            assert any(answer in body for body in bodies.values()), (question.qid, answer)
    tags = [tag for question in questions for tag in question.tags]
    assert tags.count("paraphrase") >= 10
    assert tags.count("off-topic") >= 1 and tags.count("near-topic") >= 1


def test_page_accuracy_counts_the_first_hit_on_the_gold_page() -> None:
    from qa.eval.questionsets import _parse_jsonl

    lines = [
        '{"id": "a", "question": "q?", "answers": ["x"], "doc_id": "r.pdf", "page": 2}',
        '{"id": "b", "question": "q?", "answers": ["x"], "doc_id": "r.pdf", "page": 3}',
        '{"id": "c", "question": "q?", "answers": ["x"], "doc_id": "r.pdf", "page": 1}',
        '{"id": "d", "question": "q?", "answers": ["x"]}',
    ]
    a, b, c, d = _parse_jsonl("\n".join(lines), source="set")
    assert (a.doc_id, a.page, d.doc_id, d.page) == ("r.pdf", 2, "", None)
    assert is_hit(Chunk("pdf/r.pdf", 0, 1, "x"), a) and not is_hit(Chunk("pdf/s.pdf", 0, 1, "x"), a)
    records = [
        EvalRecord(a, (False, True), "x", False, 0.1, pages=(1, 2)),  # first hit on page 2: right
        EvalRecord(b, (True, True), "x", False, 0.1, pages=(2, 3)),  # first hit on page 2: wrong
        EvalRecord(c, (False, False), None, True, 0.1, pages=(1, 1)),  # no hit: not counted
        EvalRecord(d, (True,), "x", False, 0.1, pages=(None,)),  # no gold page: not counted
    ]
    assert summarize(records).page_accuracy == 0.5
    with pytest.raises(ValueError, match="'page' must be a page number >= 1, given with 'doc_id'"):
        _parse_jsonl('{"question": "q?", "answers": ["x"], "page": 2}', source="set")


def _scored(
    question: EvalQuestion, answer: str | None, conf: float, short: str | None = None
) -> EvalRecord:
    return EvalRecord(question, (), answer, answer is None, 0.0, confidence=conf, short=short)


def test_summarize_scores_short_answers_and_the_confidence() -> None:
    paris = EvalQuestion("Capital?", answers=("Paris",))
    rome = EvalQuestion("Italy's capital?", answers=("Rome",))
    moon = EvalQuestion("Capital of the Moon?", unanswerable=True)
    records = [
        _scored(paris, "The capital is Paris.", 0.9, short="Paris"),  # EM 1, F1 1, right
        _scored(rome, "The capital is Milan, not far from Rome.", 0.6),  # sentence vs gold
        _scored(moon, None, 0.2),  # abstained: nothing to be right about
    ]
    report = summarize(records)
    # F1 of "capital is milan not far from rome" (7 tokens) vs "rome": P 1/7, R 1 -> 0.25
    assert report.exact_match == pytest.approx(0.5)
    assert report.f1 == pytest.approx((1.0 + 0.25) / 2)
    # right: 0.9 yes, 0.6 yes (the sentence holds Rome), 0.2 no; bins 0.9, 0.6, 0.2
    assert report.calibration_error == pytest.approx((0.1 + 0.4 + 0.2) / 3)
    assert report.auroc == 1.0  # both answerable questions outscore the unanswerable one


def test_splits_halve_the_questions_by_a_hash_of_their_ids() -> None:
    questions = [EvalQuestion(f"question {i}?", ("a",), qid=f"q{i}") for i in range(200)]
    dev = [q.qid for q in questions if in_split(q, "dev")]
    test = [q.qid for q in questions if in_split(q, "test")]
    assert sorted(dev + test) == sorted(q.qid for q in questions) and not set(dev) & set(test)
    assert 70 < len(dev) < 130  # about half
    assert all(in_split(q, "all") for q in questions)
    # sha256("q0") is even or odd once and for all: the split never moves
    assert in_split(questions[0], "dev") == (int(hashlib.sha256(b"q0").hexdigest(), 16) % 2 == 0)


def test_a_question_set_can_name_each_questions_half(tmp_path: Path) -> None:
    # Fresh questions written for a final report go to "test" whatever their id hashes to.
    path = tmp_path / "set.jsonl"
    lines = [
        {"id": f"t{i}", "question": f"question {i}?", "answers": ["a"], "split": "test"}
        for i in range(20)
    ] + [{"id": "d0", "question": "q?", "answers": ["a"], "split": "dev"}]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    questions = load_jsonl(path)
    assert [q.qid for q in questions if in_split(q, "test")] == [f"t{i}" for i in range(20)]
    assert [q.qid for q in questions if in_split(q, "dev")] == ["d0"]
    path.write_text(json.dumps({"question": "q?", "answers": ["a"], "split": "train"}) + "\n")
    with pytest.raises(ValueError, match="'split' must be"):
        load_jsonl(path)
