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
from functools import lru_cache
from typing import Literal

from qa.lexical import STOPWORDS, stems_at, tokenize

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


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    counted: bool = False  # a number followed by the thing the question counts


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
        return phrase_span(question, sentence)
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


# ------------------------------------------------------------ any other question

_TOKEN = re.compile(r"\w+(?:[-'’.,/]\w+)*")
# Punctuation between two words that ends a phrase; a hyphen or an apostrophe does not.
_BREAK = re.compile(r"[,;:()\[\]\"“”—–!?]|\.\s")
# Function words that may stand inside a phrase ("analysis of algorithms and ...").
_INSIDE = frozenset("of and or the a an".split())
# Words that end a phrase like a stop word: pronouns, adverbs and common verbs.
_SPLIT = STOPWORDS - _INSIDE | frozenset(
    "us one also many much include includes included including take takes took taken make "
    "makes made tell tells told use uses used using refer refers referred mean means meant "
    "called known become becomes became say says said give gives given allow allows allowed "
    "contain contains contained require requires required may might must shall another "
    "however thus often usually".split()
)
# Adjectives that rank or sort what they qualify and are never the answer themselves:
# "important" of "many important complexity classes".
_VAGUE = frozenset(
    "important major main particular respective various several different certain specific "
    "famous notable significant numerous prominent".split()
)
_ENDS = _SPLIT | _VAGUE


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    word: str  # lower case
    cap: bool  # capitalised or a digit, not at the sentence's start
    upper: bool  # capitalised or a digit anywhere: a name, never a verb
    asked: bool  # a word the question shares with the sentence
    broken: bool  # punctuation (or the sentence's start) before it


def _tokens(sentence: str, asked: set[str]) -> list[_Token]:
    tokens: list[_Token] = []
    prev = 0
    for m in _TOKEN.finditer(sentence):
        stems = tokenize(m.group(0))
        gap = sentence[prev : m.start()]
        tokens.append(
            _Token(
                m.start(),
                m.end(),
                m.group(0).lower(),
                bool(tokens) and not m.group(0).islower(),
                not m.group(0).islower(),
                bool(stems) and set(stems) <= asked,
                not tokens or bool(_BREAK.search(gap)),
            )
        )
        prev = m.end()
    return tokens


def _phrases(tokens: list[_Token]) -> list[tuple[int, int]]:
    """Token ranges [i, j) free of the question's words, split at punctuation and at
    function words other than those that may stand inside a phrase, and trimmed of
    function words at both ends."""
    out: list[tuple[int, int]] = []
    run: list[int] = []
    for i, t in enumerate([*tokens, None]):
        stop = t is not None and (t.word in _ENDS or t.word.endswith("ly"))
        if t is None or t.broken or t.asked or stop:
            while run and (tokens[run[-1]].word in _INSIDE or _verb(tokens[run[-1]])):
                run.pop()
            while run and _verb(tokens[run[0]]) and len(run) > 1:
                run.pop(0)
            if run:
                out.append((run[0], run[-1] + 1))
            run = []
        if t is not None and not t.asked and not stop and (run or t.word not in _INSIDE):
            run.append(i)
    return out


# Words after which a noun phrase begins: determiners, prepositions, copulas.
_NP_BEFORE = frozenset(
    "the a an of in as by to for with from at on into via than is are was were be been "
    "include includes including called named known such its their his her this these".split()
)
_VERBISH = re.compile(r"\w+(?:ly|ed|ing)$")


def _verb(t: _Token) -> bool:
    """A lower-case word that reads as an adverb or a verb form ("usually", "stated")."""
    return not t.upper and bool(_VERBISH.match(t.word))


_PREPOSITIONS = frozenset("of in for to with by from at on into as than about like".split())


def slot_after(question: str) -> str | None:
    """The stem the answer follows when the question ends in its slot: "member of?",
    "an example of what?" -> "exampl"; None otherwise."""
    words = _WORD.findall(question)
    if not words or words[-1].lower() not in _PREPOSITIONS | {"what", "which", "whom"}:
        return None
    for word in reversed(words[:-1]):
        stems = tokenize(word)
        if stems:
            return stems[-1]
    return None


def _follows(i: int, tokens: list[_Token], slot: str | None) -> bool:
    return slot is not None and any(
        slot in tokenize(t.word) for t in tokens[max(0, i - 3) : i] if t.asked
    )


_COPULAS = frozenset("is are was were".split())
_DETERMINERS = frozenset("the a an".split())


def _copula_side(r: tuple[int, int], tokens: list[_Token]) -> bool:
    """Whether the phrase is one side of "X is Y" whose other side holds more of the
    question's words: "What is the central district?" of "Downtown is the central
    district" -> "Downtown"."""
    i, j = r[0], _with_head(r[1], tokens, set())  # "A Ferris device is ..."
    asked_before = sum(t.asked for t in tokens[:i])
    asked_after = sum(t.asked for t in tokens[j:])
    after = [t.word for t in tokens[j : j + 2]]
    copula = bool(after) and after[0] in _COPULAS and not tokens[j].broken
    if copula or (after == ["one", "of"] and tokens[j].broken):  # "Ostia, one of the ports"
        return asked_after > asked_before
    k = i - 1
    while k > 0 and tokens[k].word in _DETERMINERS and not tokens[k + 1].broken:
        k -= 1
    # "is the Bayeux Tapestry", not "is popular" (an adjective) nor "there is".
    noun = k < i - 1 or tokens[i].cap
    if k > 0 and tokens[k].word in _COPULAS and not tokens[k + 1].broken and noun:
        return tokens[k - 1].word != "there" and asked_before > asked_after
    return False


_OTHER = re.compile(r"\b(?:other|besides|apart from|aside from|in addition to)\b", re.I)
_AND_OR = frozenset(("and", "or"))


def _coordinated(r: tuple[int, int], tokens: list[_Token]) -> bool:
    """Whether "and"/"or" joins the phrase to one of the question's words: "Other than
    surf, what ...?" of "surf and skateboard culture" -> "skateboard"."""
    i, j = r
    while i > 0 and tokens[i - 1].word in _DETERMINERS:
        i -= 1
    before = i >= 2 and tokens[i - 1].word in _AND_OR and tokens[i - 2].asked
    after = j + 1 < len(tokens) and tokens[j].word in _AND_OR and tokens[j + 1].asked
    return before or after


def _score(
    r: tuple[int, int], tokens: list[_Token], anchors: list[int], slot: str | None, other: bool
) -> float:
    i, j = r
    near = sum(1.0 / (1 + (a - j if a >= j else i - a - 1)) for a in anchors)
    noun = (i > 0 and tokens[i - 1].word in _NP_BEFORE and not tokens[i].broken) or any(
        t.cap for t in tokens[i:j]
    )
    return (
        near
        + W_NP * noun
        + W_COPULA * _copula_side(r, tokens)
        + W_AFTER * _follows(i, tokens, slot)
        + W_OTHER * (other and _coordinated(r, tokens))
        - W_LEN * (j - i)
    )


# (A phrase of verbs alone never gets here: _phrases trims verb forms off both ends.)
W_NP, W_LEN, W_AFTER, W_COPULA, W_OTHER = 0.5, 0.1, 1.0, 1.0, 3.0
_HEAD = re.compile(
    r"\b(?:what|which)\s+(?:(?:type|kind|sort|form|types|kinds)\s+of\s+)?(\w+(?:[\s-]\w+)?)",
    re.I,
)


def head_noun(question: str) -> set[str]:
    """The stems of what "what/which X" asks for: "What type of Turing machine ..." ->
    {"ture", "machin"}; empty after a plain "what is"."""
    m = _HEAD.search(question)
    if m is None:
        return set()
    head: set[str] = set()
    for word in m.group(1).split():
        if word.lower() in _SPLIT or (word.islower() and _VERBISH.match(word)):
            break
        head.update(tokenize(word))
    return head


def _with_head(j: int, tokens: list[_Token], head: set[str]) -> int:
    """`j` moved past the question's head noun when it follows the phrase ("Decision
    problems" for "What kind of problems ...?"), and past the question's own words that
    the phrase qualifies, a compound noun's head ("Turing machine" for "What model of a
    machine ...?"), though not past a verb or a number."""
    while j < len(tokens) and not tokens[j].broken:
        t = tokens[j]
        if not set(tokenize(t.word)) & head and (not t.asked or _verb(t) or t.word[:1].isdigit()):
            break
        j += 1
    return j


def phrase_span(question: str, sentence: str) -> Span | None:
    """For a question of no typed kind ("What did X found?"): the phrase of `sentence`
    that is not the question's own words, nearest the words it shares with the question
    (the classic alignment heuristic), shorter phrases first among equals."""
    tokens = _tokens(sentence, set(tokenize(question)))
    anchors = [i for i, t in enumerate(tokens) if t.asked]
    phrases = _phrases(tokens)
    if not phrases:
        return None
    slot, head = slot_after(question), head_noun(question)
    other = _OTHER.search(question) is not None  # "Other than X, what ...?"
    i, j = max(phrases, key=lambda r: _score(r, tokens, anchors, slot, other))
    j = _with_head(j, tokens, head)
    start, end = tokens[i].start, tokens[j - 1].end
    return Span(start, end, sentence[start:end])
