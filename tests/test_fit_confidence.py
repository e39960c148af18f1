"""The near-topic questions eval/fit_confidence.py makes from dev questions, and the
confidence formula it fits against qa.answer.confidence's."""

from __future__ import annotations

import random
import zlib

import numpy as np

from qa.answer.confidence import FEATURES, Calibration, confidence
from qa.eval.questionsets import EvalQuestion, GoldSpan
from qa.types import Document
from tests.evalscripts import load_script

fit = load_script("fit_confidence")

ARTICLE = "Rollo signed the treaty with King Charles in 911. The Normans held Normandy."


def _doc(doc_id: str, text: str) -> Document:
    return Document(doc_id, doc_id, text, content_hash="x")


def test_a_swapped_name_is_one_the_article_never_uses() -> None:
    q = EvalQuestion("Who did Rollo sign the treaty with?", answers=("Charles",), qid="a")
    pool = ["Normans", "Lithuania", "Charles", "Denmark"]
    made = {fit.swapped_name(q, ARTICLE, pool, random.Random(seed)) for seed in range(20)}
    assert made == {
        "Who did Lithuania sign the treaty with?",
        "Who did Denmark sign the treaty with?",
    }
    # Without a name to swap, a number becomes one the article never gives.
    dated = EvalQuestion("What happened in 911?", answers=("treaty",), qid="b")
    for seed in range(20):
        changed = fit.swapped_name(dated, ARTICLE, pool, random.Random(seed))
        number = changed.removeprefix("What happened in ").removesuffix("?")
        assert number.isdigit() and number != "911" and number not in ARTICLE
    assert (
        fit.swapped_name(EvalQuestion("what now?", answers=("x",)), ARTICLE, pool, random.Random(0))
        is None
    )


def test_held_out_questions_lose_their_paragraph_and_every_copy_of_their_answer() -> None:
    text = "Alpha met Beta.\n\nGamma met Delta.\n\nEpsilon met Beta."
    # In "b.md" the paragraphs at 17 and 35 hash to the cut half, the one at 0 does not.
    assert [zlib.crc32(f"b.md:{at}".encode()) % 2 for at in (0, 17, 35)] == [0, 1, 1]
    spans = [GoldSpan("b.md", 0, 15), GoldSpan("b.md", 17, 33), GoldSpan("b.md", 35, 52)]
    questions = [
        EvalQuestion("Who met Beta?", answers=("Alpha",), gold=(spans[0],), qid="kept"),
        EvalQuestion("Who met Delta?", answers=("Gamma",), gold=(spans[1],), qid="cut"),
        # Its paragraph is cut, but "Beta" is still in the first one: not unanswerable.
        EvalQuestion("Who did Epsilon meet?", answers=("Beta",), gold=(spans[2],), qid="still"),
        EvalQuestion("Who met nobody?", unanswerable=True, gold=(spans[1],), qid="never"),
    ]
    (kept,), made = fit.held_out([_doc("b.md", text)], questions)
    assert "Alpha met Beta." in kept.text
    assert "Gamma" not in kept.text and "Epsilon" not in kept.text
    assert [(q.question, q.qid, q.unanswerable) for q in made] == [
        ("Who met Delta?", "cut~held", True)
    ]
    assert fit.fold_of("cut~held") == fit.fold_of("cut")  # it goes with its original


def test_the_fitted_formula_is_the_services() -> None:
    rng = np.random.default_rng(0)
    n = len(FEATURES)
    cal = Calibration(
        bias=-0.7,
        weights=tuple(rng.normal(size=n).round(3)),
        coverage=tuple(rng.normal(size=n).round(3)),
    )
    x = rng.normal(size=(6, n))
    assert np.allclose(fit.predict(cal, x), [confidence(row.tolist(), cal) for row in x])
