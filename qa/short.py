"""Pure short answers: what kind of answer a question wants (a number, a date, a person,
a place) and the span of a sentence that gives it.

Rules, not a model: the question's wording names the type ("how many", "when",
"who", "where", "what year"); a sentence offers spans of that type (numbers
with their unit or the thing counted, dates, runs of capitalised words); the
span nearest the words it shares with the question wins, and a span made of
the question's own words never does. "How many soldiers" prefers a number
followed by "soldiers".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from qa.lexical import STOPWORDS, tokenize

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

_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|"
    r"December|Jan\.|Feb\.|Aug\.|Sept?\.|Oct\.|Nov\.|Dec\.)"
)
_DATE = re.compile(
    rf"\b(?:\d{{1,2}}\s+)?{_MONTH}(?:\s+\d{{1,2}}(?:st|nd|rd|th)?)?(?:,?\s+\d{{3,4}})?\b|"
    r"\b\d{1,2}(?:st|nd|rd|th)\s+century\b|"
    r"\b(?:1[0-9]|20)\d{2}s?(?:\s*(?:–|-|to)\s*(?:1[0-9]|20)?\d{2})?\b"
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


def answer_kind(question: str) -> Kind | None:
    """The type of answer the question asks for; None for other questions."""
    for kind, pattern in _KINDS:
        if pattern.search(question):
            return kind
    return None


def counted_thing(question: str) -> str | None:
    """The stem of what "how many X" counts ("soldiers" -> "soldier")."""
    m = re.search(r"\bhow\s+(?:many|much)\s+(?:\w+\s+)??(\w+)", question, re.I)
    if m is None:
        return None
    stems = tokenize(m.group(1))
    return stems[0] if stems else None


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    counted: bool = False  # a number followed by the thing the question counts


def _number_spans(sentence: str, thing: str | None) -> list[Span]:
    out = []
    for m in _NUMBER.finditer(sentence):
        if _YEAR.fullmatch(m.group(0)):
            continue  # "since 2019" dates, it does not count
        end, counted = m.end(), False
        nxt = _WORD.match(sentence, end + 1) if sentence[end : end + 1] == " " else None
        if nxt is not None:
            word = nxt.group(0)
            counted = thing is not None and tokenize(word)[:1] == [thing]
            if word.lower() in _UNITS:  # "18 months"; the thing counted stays out
                end = nxt.end()
        out.append(Span(m.start(), end, sentence[m.start() : end], counted))
    return out


def candidate_spans(sentence: str, kind: Kind, *, thing: str | None = None) -> list[Span]:
    """Spans of `sentence` that could be an answer of `kind`."""
    if kind == "number":
        return _number_spans(sentence, thing)
    if kind == "date":
        return [Span(m.start(), m.end(), m.group(0)) for m in _DATE.finditer(sentence)]
    spans = []
    for m in _NAME.finditer(sentence):
        text = m.group(0).rstrip(".")
        # A capitalised function word is just the start of the sentence.
        if " " not in text and text.lower() in _OPENERS:
            continue
        spans.append(Span(m.start(), m.start() + len(text), text))
    return spans


def _new_to_question(span: Span, asked: set[str]) -> bool:
    words = tokenize(span.text)
    return bool(words) and not set(words) <= asked


def _distance(span: Span, anchors: list[int]) -> int:
    if not anchors:
        return 0
    return min(min(abs(a - span.start), abs(a - span.end)) for a in anchors)


def best_span(question: str, sentence: str, kind: Kind | None = None) -> Span | None:
    """The span of `sentence` that answers `question`, or None when the question is not
    a factoid one or the sentence offers nothing new of the right kind."""
    kind = kind or answer_kind(question)
    if kind is None:
        return None
    asked = set(tokenize(question))
    spans = [
        s
        for s in candidate_spans(sentence, kind, thing=counted_thing(question))
        if _new_to_question(s, asked)
    ]
    if not spans:
        return None
    anchors = [m.start() for m in _WORD.finditer(sentence) if set(tokenize(m.group(0))) & asked]
    return min(spans, key=lambda s: (not s.counted, _distance(s, anchors), s.start))
