"""Pure short answers: what kind of answer a question wants (a number, a date, a person,
a place) and the span of a sentence that gives it.

Rules, not a model: the question's wording names the type ("how many", "when",
"who", "where", "what year"); a sentence offers spans of that type (numbers
with their unit or the thing counted, dates, runs of capitalised words); the
span nearest the words it shares with the question wins, and a span made of
the question's own words never does. "How many soldiers" prefers a number
followed by "soldiers". Other questions get a phrase (qa.answer.phrases).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Literal

from qa.answer.phrases import Span, phrase_span
from qa.text import STOPWORDS, named_in, stems_at, tokenize

Kind = Literal["number", "date", "person", "place"]

_KINDS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    (
        "date",
        re.compile(
            r"\bwhen\b|\b(what|which|in what|in which)\s+(year|decade|century|month|day|date|"
            r"era|period)\b|\bwhat time\b",
            re.I,
        ),
    ),
    (
        "number",
        re.compile(
            r"\bhow\s+(many|much|long|far|old|large|big|tall|high|often|deep|wide)\b|"
            r"\b(what|which)\s+(percentage|percent|number|amount|proportion|population|size|"
            r"share|rate|fraction|total)\b",
            re.I,
        ),
    ),
    (
        "person",
        re.compile(r"\bwho(m|se)?\b|\b(what|which)\s+(person|man|woman|king|leader)\b", re.I),
    ),
    (
        "place",
        re.compile(
            r"\bwhere\b|\b(what|which|in what|in which)\s+(country|countries|city|cities|state|"
            r"region|place|location|continent|county|town|area|nation|province)\b",
            re.I,
        ),
    ),
)

_WH = re.compile(r"\b(what|which)\b", re.I)
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan\.|Feb\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
)
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}\s+)?{_MONTH}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{3,4}})?\b|"
    r"\b\d{1,2}(?:st|nd|rd|th)(?:\s+(?:and|or|to)\s+\d{1,2}(?:st|nd|rd|th))?\s+centur(?:y|ies)\b|"
    r"\b(?:1[0-9]|20)\d{2}s?(?:\s*(?:–|-|to)\s*(?:1[0-9]|20)?\d{2})?\b|"
    # A three-digit year after "in", "since" ...: "founded in 911 as a fiefdom", but not
    # a count of something ("in 300 ships").
    r"(?:(?<=\b[Ii]n )|(?<=\b[Ss]ince )|(?<=\b[Uu]ntil )|(?<=\b[Ff]rom )|(?<=\b[Aa]round ))"
    r"[1-9]\d{2}\b"
    r"(?![.,]\d|\s*%|\s+(?!(?:by|the|and|or|when|as|with|under|after|before|to|until|at|on|"
    r"in|AD|BC|CE|BCE)\b)[a-z])"
)
_NUMBER_WORDS = (
    "one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy "
    "eighty ninety hundred thousand million billion dozen dozens hundreds thousands millions"
)
_SCALE = r"(?:\s?(?:%|percent|per cent|million|billion|trillion|thousand|hundred))?"
_NUMBER = re.compile(
    rf"(?:[$£€]\s?)?\b\d[\d,]*(?:\.\d+)?\b{_SCALE}|\b(?:{'|'.join(_NUMBER_WORDS.split())})"
    rf"(?:[\s-](?:{'|'.join(_NUMBER_WORDS.split())}))*\b{_SCALE}",
    re.I,
)
_UNITS = frozenset(
    "years year months month weeks week days day hours hour minutes minute seconds km "
    "kilometres kilometers miles mile metres meters feet ft kg tonnes tons people percent "
    "square acres hectares times".split()
)
_CONNECTORS = r"(?:\s+(?:of|de|da|del|von|van|der|al|la|le|the|and|&)\s+|\s+|-)"
_NAME = re.compile(rf"\b[A-Z][\w'’.]*[\w’']?(?:{_CONNECTORS}[A-Z][\w'’.]*)*")
_WORD = re.compile(r"\w+")
_OPENERS = STOPWORDS | frozenset(
    "however since after before during although last overall according following also "
    "meanwhile today yesterday earlier later".split()
)
_YEAR = re.compile(r"(?:1[5-9]|20)\d{2}")
_CALENDAR = (
    rf"{_MONTH}|(?:Mon|Tues|Wednes|Thurs|Fri|Satur|Sun)day|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|"
    r"Sept?|Oct|Nov|Dec)\.?"
)
# A name's first word that is no part of it, with what follows it up to the next word:
# a month or a weekday anywhere, a function word at the sentence's start ("On Monday").
_CALENDAR_LEAD = re.compile(rf"(?:{_CALENDAR})(?:{_CONNECTORS}|$)")
_OPENER_LEAD = re.compile(rf"(?:{'|'.join(sorted(_OPENERS))})(?:{_CONNECTORS}|$)", re.I)


def _lead(text: str, *, first: bool) -> re.Match[str] | None:
    return _CALENDAR_LEAD.match(text) or (_OPENER_LEAD.match(text) if first else None)


@lru_cache(maxsize=64)  # asked once per candidate sentence of one question
def answer_kind(question: str) -> Kind | None:
    """The type of answer the question asks for; None for other questions. The wording
    that comes first decides ("Who was the leader when ...?" wants a person), within the
    question's last clause ("When X is done, what case is it?" wants no date)."""
    clause = question.rsplit(",", 1)[-1]
    if not any(p.search(clause) for _, p in _KINDS) and not _WH.search(clause):
        clause = question
    found = [(m.start(), kind) for kind, p in _KINDS if (m := p.search(clause)) is not None]
    what = _WH.search(clause)
    if what is not None and found and what.start() < min(found)[0]:
        return None  # "What case complexity does it take when ...?"
    return min(found)[1] if found else None


_AUXILIARY = re.compile(
    r"\s*(?:is|are|was|were|do|does|did|can|could|will|would|should|shall|has|have|had|may|"
    r"might|must)(?:n['’]t)?\b",
    re.I,
)


def yes_no(question: str) -> bool:
    """Whether the question asks yes or no ("Can X call Y?"); "Is it A or B?" asks which."""
    return _AUXILIARY.match(question) is not None and not re.search(r"\bor\b", question)


@lru_cache(maxsize=64)
def counted_thing(question: str) -> str | None:
    """The stem of what "how many X" counts ("soldiers" -> "soldier")."""
    m = re.search(r"\bhow\s+(?:many|much)\s+(?:\w+\s+)??(\w+)", question, re.I)
    if m is None:
        return None
    stems = tokenize(m.group(1))
    return stems[0] if stems else None


@lru_cache(maxsize=64)
def question_stems(question: str) -> frozenset[str]:
    """The question's stems, found once however many sentences are weighed against it."""
    return frozenset(tokenize(question))


def _number_spans(sentence: str, thing: str | None, asked: frozenset[str]) -> list[Span]:
    out = []
    for m in _NUMBER.finditer(sentence):
        if _YEAR.fullmatch(m.group(0)):
            continue  # "since 2019" dates, it does not count
        end, counted = m.end(), False
        nxt = _WORD.match(sentence, end + 1) if sentence[end : end + 1] == " " else None
        if nxt is not None:
            word = nxt.group(0)
            counted = thing is not None and tokenize(word)[:1] == [thing]
            # "18 months"; the thing counted, or a unit the question names, stays out
            if word.lower() in _UNITS and not set(tokenize(word)) & asked:
                end = nxt.end()
        out.append(Span(m.start(), end, sentence[m.start() : end], counted))
    return out


def candidate_spans(
    sentence: str, kind: Kind, *, thing: str | None = None, asked: frozenset[str] = frozenset()
) -> list[Span]:
    """Spans of `sentence` that could be an answer of `kind`; `asked` are the question's
    stems (a unit it names is no part of the answer: "How many miles" -> "11")."""
    if kind == "number":
        return _number_spans(sentence, thing, asked)
    if kind == "date":
        return [Span(m.start(), m.end(), m.group(0)) for m in _DATE.finditer(sentence)]
    spans = []
    for m in _NAME.finditer(sentence):
        text = re.sub(r"['’]s?$", "", m.group(0).rstrip("."))  # "Yamada's" -> "Yamada"
        # A capitalised function word is just the start of the sentence ("On Paris"); a
        # month or a day of the week is neither a person nor a place.
        start = m.start()
        while (lead := _lead(text, first=not sentence[:start].strip(" \"“‘'("))) is not None:
            start, text = start + lead.end(), text[lead.end() :]
        if text and text.lower() not in _OPENERS:
            spans.append(Span(start, start + len(text), text))
    return spans


def _new_to_question(span: Span, asked: frozenset[str]) -> bool:
    """Whether the span says something besides the question's own words, in any of their
    forms ("Danish" is no answer to a question about Denmark)."""
    words = tokenize(span.text)
    return any(w not in asked and not named_in(w, asked) for w in words)


def _distance(span: Span, anchors: list[int]) -> int:
    if not anchors:
        return 0
    return min(min(abs(a - span.start), abs(a - span.end)) for a in anchors)


def best_span(question: str, sentence: str, kind: Kind | None = None) -> Span | None:
    """The span of `sentence` that answers `question`, or None when the question is not
    a factoid one or the sentence offers nothing new of the right kind."""
    kind = kind or answer_kind(question)
    if kind is None:
        # "Do boxes have overhead?": the sentence is the answer, no phrase of it is.
        return None if yes_no(question) else phrase_span(question, sentence)
    asked = question_stems(question)
    spans = [
        s
        for s in candidate_spans(sentence, kind, thing=counted_thing(question), asked=asked)
        if _new_to_question(s, asked)
    ]
    if not spans:
        return None
    anchors = [at for at, stem in stems_at(sentence) if stem in asked]
    # A name that holds the question's own words ("King Harold II" asked of Harold II)
    # is the question's subject, not its answer, while another span is there.
    return min(
        spans,
        key=lambda s: (
            not s.counted,
            bool(set(tokenize(s.text)) & asked),
            _distance(s, anchors),
            s.start,
        ),
    )
