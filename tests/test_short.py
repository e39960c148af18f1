from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qa.answer.phrases import head_noun, phrase_span, slot_after
from qa.answer.short import (
    answer_kind,
    best_span,
    candidate_spans,
    counted_thing,
)
from qa.text import stems_at, tokenize


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
        # The wording that comes first decides, within the last clause.
        ("Who was the leader when the Franks entered the Euphrates valley?", "person"),
        ("When time is required to sort integers, this represents what case complexity?", None),
        ("What was the name of the man who led the Franks?", None),
        ("In 1962, who wrote a paper on real-time computations?", "person"),
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
    # Neither "On" (the sentence's first word) nor "January" is a person.
    names = [s.text for s in candidate_spans(sentence, "person")]
    assert names == ["General Qasem Soleimani", "Baghdad"]


@pytest.mark.parametrize(
    ("sentence", "dates"),
    [
        ("The duchy was founded in 911 as a fiefdom.", ["911"]),
        ("Since 896, raids; until 911 by treaty.", ["896", "911"]),
        # A count, not a year: a noun or "of" follows, or it is a decimal or a share.
        ("They landed in 300 ships.", []),
        ("It ended in 450 of them, in 912.5 cases and in 250% of years.", []),
        ("It cost 911 pounds.", []),  # no "in", "since" ... before it
    ],
)
def test_a_three_digit_year_is_a_date_after_in_or_since(sentence: str, dates: list[str]) -> None:
    assert [s.text for s in candidate_spans(sentence, "date")] == dates


@pytest.mark.parametrize(
    ("sentence", "names"),
    [
        # A month or a weekday, where it stands alone or leads a run of capitals.
        ("The strike on January 3 killed Qasem Soleimani.", ["Qasem Soleimani"]),
        ("On Monday Paris met Rome.", ["Paris", "Rome"]),
        ("They met in Sept. Rome hosted them.", ["Rome"]),
        # A function word is stripped at the sentence's start only: "The Hague" stays.
        ("In Paris the envoy went to The Hague.", ["Paris", "The Hague"]),
        ("“However Smith said no.", ["Smith"]),
        ("Theresa May spoke.", ["Theresa May"]),
    ],
)
def test_name_spans_leave_out_calendar_words_and_openers(sentence: str, names: list[str]) -> None:
    spans = candidate_spans(sentence, "person")
    assert [s.text for s in spans] == names
    assert all(sentence[s.start : s.end] == s.text for s in spans)


def test_a_name_in_another_form_of_the_questions_own_is_no_answer() -> None:
    """ "Danish" and "Lithuanian" say again what a question about Denmark or Lithuania
    names; the person is the answer."""
    said = "“Danish leadership will help,” Danish foreign minister Jeppe Kofod said."
    span = best_span("Who is the Prime Minister of Denmark?", said)
    assert span is not None and span.text == "Jeppe Kofod"
    lt = best_span(
        "Who commands the troops of Lithuania?", "Lithuanian troops obey Colonel Vilkas."
    )
    assert lt is not None and lt.text == "Colonel Vilkas"


def test_best_span_is_new_to_the_question_and_exact() -> None:
    sentence = "Canada leads the mission now, after Denmark offered to lead it."
    span = best_span("Which country leads the mission?", sentence)
    assert span is not None and span.text == "Canada"
    assert sentence[span.start : span.end] == span.text
    # Denmark is the question's own word: not an answer to it.
    assert best_span("Who did Denmark follow?", "Denmark followed.") is None
    # A question of no typed kind gets a phrase, never the question's own words.
    why = best_span("Why does Canada lead the mission?", sentence)
    assert why is not None and why.text == "Denmark"


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


def test_number_leaves_out_a_unit_the_question_names() -> None:
    sentence = "The midway point lies around 11 miles (18 km) south of San Jose."
    span = best_span("How many miles south of San Jose is the midway point?", sentence)
    assert span is not None and span.text == "11"
    # Without the question's "miles" the unit is part of the number.
    assert candidate_spans(sentence, "number")[0].text == "11 miles"


def test_names_drop_the_possessive_and_centuries_are_dates() -> None:
    sentence = (
        "Earlier papers include Raymond Smullyan's study of rudimentary sets (1961), "
        "as well as Hisao Yamada's paper on real-time computations (1962)."
    )
    span = best_span("Who wrote a paper on real-time computations?", sentence)
    assert span is not None and span.text == "Hisao Yamada"
    sentence = "The Normans were the people who in the 10th and 11th centuries named Normandy."
    span = best_span("When were the Normans in Normandy?", sentence)
    assert span is not None and span.text == "10th and 11th centuries"


def test_a_typed_question_without_a_span_of_its_kind_has_none() -> None:
    # The confidence's "kind_missing" rests on this: no phrase stands in for a date.
    sentence = "Upper and lower bounds are usually stated using the big O notation."
    assert best_span("When were upper bounds stated?", sentence) is None


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        # Function words ("of", "and") stand inside a phrase, others end it.
        (
            "What does a big O notation hide?",
            "Upper and lower bounds are usually stated using the big O notation, which "
            "hides constant factors and smaller terms.",
            "constant factors and smaller terms",
        ),
        # Adverbs and verbs ("usually stated using") are no answer.
        (
            "What expression is generally used to convey upper or lower bounds?",
            "Upper and lower bounds are usually stated using the big O notation, which "
            "hides constant factors and smaller terms.",
            "big O notation",
        ),
        # The head noun the question asks for is kept after the phrase.
        (
            "IP and AM are most commonly defined by what type of proof system?",
            "Classes like IP and AM are defined using Interactive proof systems.",
            "Interactive proof systems",
        ),
        # Numbers keep their thousands separators.
        (
            "What is the population of the Greater Los Angeles Area?",
            "These are the Greater Los Angeles Area at 17,786,419, and San Diego at 5,105,768.",
            "17,786,419",
        ),
        (
            "What is Lithuania a member of?",
            "Working Group Membership: Lithuania is a member of the Communications Working Group.",
            "Communications Working Group",
        ),
        # "X is Y": the side of the copula the question's words are not on.
        (
            "What is the main obstacle to further growth?",
            "Driving north on the old road, the main obstacle to further growth is Mount Baker.",
            "Mount Baker",
        ),
        (
            "What is the nickname used to describe the city's software trade?",
            "The Silicon Hills is a nickname used as a descriptor for the city's software trade.",
            "Silicon Hills",
        ),
        # An apposition "X, one of the Ys" names X as what the question's Y is.
        (
            "What was the harbour called?",
            "Years later, Ostia, one of the busiest harbours of the coast, fell to the rebels.",
            "Ostia",
        ),
        # The question's own noun after the phrase is its compound's head and stays.
        (
            "How can the old reports be recast?",
            "In practice, the old reports can be recast as summary reports.",
            "summary reports",
        ),
        (
            "What is the term for a model of a general computing device?",
            "A Ferris device is a simple model of a general computing device.",
            "Ferris device",
        ),
        # An adjective that only ranks ("important") is no part of the answer.
        (
            "What can be measured by bounding the rainfall?",
            "Many important drought indices can be measured by bounding the rainfall.",
            "drought indices",
        ),
        # "Other than X": the phrase "and"/"or" joins to X.
        (
            "Besides the museum, what is the town proud of?",
            "The town is proud of its old museum and the harbour walls.",
            "harbour walls",
        ),
        (
            "Other than its mild winters, what is the valley popular for?",
            "Tourists visit the valley for its hot springs, and the valley is popular for its "
            "mild winters and nearby open lakes.",
            "nearby open lakes",
        ),
    ],
)
def test_phrase_span_of_a_question_of_no_kind(question: str, sentence: str, expected: str) -> None:
    assert answer_kind(question) is None
    span = phrase_span(question, sentence)
    assert span is not None and span.text == expected
    assert sentence[span.start : span.end] == expected
    assert best_span(question, sentence) == span


def test_phrase_span_is_none_when_the_sentence_is_all_question() -> None:
    assert phrase_span("What did Denmark offer?", "Denmark offered.") is None


def test_slot_after() -> None:
    assert slot_after("What is Lithuania a member of?") == "member"
    assert slot_after("A function problem is an example of what?") == "exampl"
    assert slot_after("What is Lithuania a member of, then") is None
    assert slot_after("What does a big O notation hide?") is None


def test_head_noun() -> None:
    assert head_noun("What type of Turing machine is capable of it?") == {"ture", "machin"}
    assert head_noun("Which newspaper defined southern California?") == {"newspap"}
    assert head_noun("What is the name of the castle?") == set()


def test_seed_corpus_phrase_answer_has_exact_offsets(service) -> None:  # type: ignore[no-untyped-def]
    result = service.ask("What working group is Lithuania a member of?")
    answer = result.answer
    assert answer is not None and "Communications Working Group" in answer.text
    assert answer.short is not None and "Communications" in answer.short.text
    text = service.document(answer.doc_id).text
    assert text[answer.short.start : answer.short.end] == answer.short.text
    assert answer.start <= answer.short.start < answer.short.end <= answer.end


def test_a_name_holding_the_question_words_loses_to_a_new_one() -> None:
    sentence = "In 1415, Duke Henry of Lancaster defeated King Louis VI at the Battle of Ardres."
    span = best_span("Where did Louis VI lose?", sentence)
    assert span is not None and span.text == "Battle of Ardres"


_PIECES = st.sampled_from(["a", "b", "X", " ", "é", "ß", "'", "-", ".", "1", "the ", "Armies "])


@given(st.lists(_PIECES, max_size=30).map("".join))
def test_stems_at_gives_the_stems_of_tokenize_at_each_words_offset(text: str) -> None:
    """The one-call stemming the short-answer anchors use keeps exactly the words that
    tokenize keeps, each stemmed the same, at the offset where the word starts."""
    found = stems_at(text)
    assert [stem for _, stem in found] == tokenize(text)
    for at, stem in found:
        assert tokenize(re.match(r"\w+", text[at:]).group(0)) == [stem]  # type: ignore[union-attr]


def test_a_yes_no_question_gets_no_phrase_but_a_which_question_does() -> None:
    """The sentence answers "Do boxes have overhead?"; no phrase of it does ("don’t" or
    "data" would mislead). "Is it A or B?" asks which, and gets the one the text says."""
    sentence = "Boxes don’t have performance overhead, other than storing their data on the heap."
    assert best_span("Do boxes have performance overhead?", sentence) is None
    assert best_span("Can't boxes have performance overhead?", sentence) is None
    span = best_span(
        "Is a problem instance typically characterized as abstract or concrete?",
        "In contrast, an instance of this problem is a rather concrete utterance.",
    )
    assert span is not None and span.text == "rather concrete"


def test_a_contracted_function_word_is_no_phrase() -> None:
    """ "It’s" and "we’ll" are "it is" and "we will": stop words, not answers."""
    sentence = "Then it’s the borrow checker that we’ll meet in Chapter 4."
    span = phrase_span("What will we meet in Chapter 4?", sentence)  # not "we’ll meet"
    assert span is not None and span.text == "borrow checker"


def test_the_adjective_of_an_extraposed_it_is_no_answer() -> None:
    """ "It’s also possible for X to ..., but to do so requires Y": "possible" says how
    things are, Y is what is required."""
    sentence = (
        "It’s also possible for structs to store references to data owned by something "
        "else, but to do so requires the use of lifetimes, a Rust feature."
    )
    question = "What does storing references to data owned by something else in a struct require?"
    span = best_span(question, sentence)
    assert span is not None and span.text == "lifetimes"
    assert sentence[span.start : span.end] == span.text
    # Not after "it is": an adjective may answer ("possible" of "What is the move?").
    assert phrase_span("What is the move?", "The only move possible for the king.") is not None
