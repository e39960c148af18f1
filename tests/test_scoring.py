from __future__ import annotations

import pytest

from qa.eval.scoring import (
    auroc,
    exact_match,
    expected_calibration_error,
    reliability,
    squad_normalize,
    token_f1,
    trade_off,
    trade_off_curve,
)


def test_squad_normalisation_is_the_official_one() -> None:
    assert squad_normalize("The  Normans, in France!") == "normans in france"
    assert squad_normalize("an Apple a day") == "apple day"
    assert squad_normalize("theory") == "theory"  # only whole-word articles go


def test_exact_match_and_f1_by_hand() -> None:
    assert exact_match("the 30 soldiers", ["30 soldiers", "thirty"]) == 1.0
    assert exact_match("30", ["30 soldiers"]) == 0.0
    # prediction "30 soldiers in iraq" vs gold "30 soldiers": common 2, P 2/4, R 2/2 -> F1 2/3
    assert token_f1("30 soldiers in Iraq", ["30 soldiers"]) == pytest.approx(2 / 3)
    # best over golds: vs "soldiers" P 1/4 R 1 -> 0.4; vs "in iraq" P 2/4 R 1 -> 2/3
    assert token_f1("30 soldiers in Iraq", ["soldiers", "in Iraq"]) == pytest.approx(2 / 3)
    assert token_f1("Denmark", ["Canada"]) == 0.0
    assert token_f1("the", ["a"]) == 1.0  # both normalise to nothing: the official rule


def test_reliability_bins_and_calibration_error_by_hand() -> None:
    conf = [0.05, 0.15, 0.85, 0.95, 1.0]
    correct = [False, True, True, True, False]
    bins = reliability(conf, correct, bins=2)
    assert [(b.low, b.high, b.count) for b in bins] == [(0.0, 0.5, 2), (0.5, 1.0, 3)]
    assert bins[0].confidence == pytest.approx(0.1) and bins[0].accuracy == 0.5
    assert bins[1].confidence == pytest.approx(0.9333333) and bins[1].accuracy == pytest.approx(
        2 / 3
    )
    # 2/5 * |0.5 - 0.1| + 3/5 * |2/3 - 0.9333|
    expected = 0.4 * 0.4 + 0.6 * (0.9333333 - 2 / 3)
    assert expected_calibration_error(conf, correct, bins=2) == pytest.approx(expected, abs=1e-6)
    assert expected_calibration_error([0.0, 1.0], [False, True]) == 0.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        reliability([1.5], [True])


def test_auroc_by_hand() -> None:
    assert auroc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auroc([0.1, 0.9], [True, False]) == 0.0
    # positives 0.5, 0.7; negatives 0.5, 0.2: pairs (0.5,0.5) tie 0.5, others win -> 3.5/4
    assert auroc([0.5, 0.7, 0.5, 0.2], [True, True, False, False]) == pytest.approx(0.875)
    assert auroc([0.5], [True]) is None


def test_trade_off_by_hand() -> None:
    conf = [0.9, 0.6, 0.3, 0.7, 0.2]
    correct = [True, False, True, False, False]
    unanswerable = [False, False, False, True, True]
    point = trade_off(conf, correct, unanswerable, threshold=0.5)
    # answerable: answered 0.9 (right) and 0.6 (wrong), abstained on 0.3
    assert point.answered_correctly == pytest.approx(1 / 3)
    assert point.answered == pytest.approx(2 / 3)
    assert point.abstained_unanswerable == pytest.approx(0.5)  # 0.2 abstained, 0.7 answered
    curve = trade_off_curve(conf, correct, unanswerable, steps=4)
    assert [p.threshold for p in curve] == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert curve[0].abstained_unanswerable == 0.0 and curve[-1].answered == 0.0
