from __future__ import annotations

import pytest

from qa.short import answer_kind, best_span, candidate_spans, counted_thing


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("How many soldiers does Lithuania deploy?", "number"),
        ("For how long did Denmark offer to lead?", "number"),
        ("What percentage of people voted?", "number"),
        ("When did the mission begin?", "date"),
        ("In what year was it founded?", "date"),
        ("Who is Denmark's foreign minister?", "person"),
        ("Where were the staff moved to?", "place"),
        ("Which country leads the mission?", "place"),
        ("Why did Lithuania pull its trainers out?", None),
    ],
)
def test_answer_kind(question: str, kind: str | None) -> None:
    assert answer_kind(question) == kind


def test_counted_thing_is_a_stem() -> None:
    assert counted_thing("How many soldiers does Lithuania deploy?") == "soldier"
    assert counted_thing("When did it start?") is None


def test_number_spans_keep_units_and_skip_years() -> None:
    sentence = "Since 2019 it sent 30 soldiers for 18 months and 1.5 million euros."
    texts = [s.text for s in candidate_spans(sentence, "number", thing="soldier")]
    assert texts == ["30", "18 months", "1.5 million"]
    counted = [s.counted for s in candidate_spans(sentence, "number", thing="soldier")]
    assert counted == [True, False, False]


def test_date_and_name_spans() -> None:
    sentence = "On 3 January 2020 General Qasem Soleimani died near Baghdad in the 1990s style."
    dates = [s.text for s in candidate_spans(sentence, "date")]
    assert dates == ["3 January 2020", "1990s"]
    names = [s.text for s in candidate_spans(sentence, "person")]
    assert (
        names == ["On", "General Qasem Soleimani", "Baghdad"] or "General Qasem Soleimani" in names
    )


def test_best_span_is_new_to_the_question_and_exact() -> None:
    sentence = "Canada leads the mission now, after Denmark offered to lead it."
    span = best_span("Which country leads the mission?", sentence)
    assert span is not None and span.text == "Canada"
    assert sentence[span.start : span.end] == span.text
    # Denmark is the question's own word: not an answer to it.
    assert best_span("Who did Denmark follow?", "Denmark followed.") is None
    assert best_span("Why did it happen?", sentence) is None


def test_seed_corpus_factoids(service) -> None:  # type: ignore[no-untyped-def]
    result = service.ask(
        "How many soldiers does Lithuania deploy to the Global Coalition against Daesh?"
    )
    answer = result.answer
    assert answer is not None and "30 soldiers" in answer.text
    assert answer.short is not None and answer.short.text == "30"
    text = service.document(answer.doc_id).text
    assert text[answer.short.start : answer.short.end] == "30"
    assert answer.start <= answer.short.start < answer.short.end <= answer.end
    assert 0.0 <= result.confidence <= 1.0 and answer.confidence == result.confidence


def test_the_prime_minister_of_denmark_is_not_in_the_documents(service) -> None:  # type: ignore[no-untyped-def]
    result = service.ask("Who is the Prime Minister of Denmark?")
    assert result.answer is None and not result.answerable
    assert 0.0 <= result.confidence < service.answer_settings.calibration.threshold
