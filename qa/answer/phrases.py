"""Pure phrase answers: for a question of no typed kind ("What did X found?", "What
does X require?"), the phrase of the answer sentence that reads as its answer.

Rules, not a model: the sentence is cut into runs of words that are not the
question's own, split at punctuation and at function words; the run nearest the
words it shares with the question wins (the classic alignment heuristic), helped
by what surrounds it: a noun phrase's opening word, one side of "X is Y" whose
other side holds the question's words, the slot a question ends in ("an example
of what?"), an item joined by "and" to the one "Other than X" names. The span
type, `Span`, is shared with qa.answer.short's typed answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from qa.text import STOPWORDS, tokenize

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    counted: bool = False  # a number followed by the thing the question counts


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
    word: str  # lower case, with ’ as '
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
                m.group(0).lower().replace("’", "'"),
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
        stop = t is not None and (t.word in _ENDS or t.word.endswith("ly") or _contracted(t))
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


def _contracted(t: _Token) -> bool:
    """A function word run into the next ("it’s", "we'll", "don't"): a stop word."""
    return "'" in t.word and (t.word.split("'")[0] in STOPWORDS or t.word.endswith("n't"))


def _expletive(r: tuple[int, int], tokens: list[_Token]) -> bool:
    """Whether the phrase is the adjective of "it is possible for/to/that ...", which
    says how things are, never what they are."""
    i, j = r
    if j - i != 1 or tokens[i].upper or j == len(tokens) or tokens[j].word not in _EXTRAPOSED:
        return False
    before = [t.word for t in tokens[max(0, i - 3) : i]]
    while before and (before[-1] in ("also", "not", "very") or before[-1].endswith("ly")):
        before.pop()
    return before[-1:] == ["it's"] or before[-2:] in (["it", "is"], ["it", "was"])


_EXTRAPOSED = frozenset(("for", "to", "that"))
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
    phrases = [r for r in _phrases(tokens) if not _expletive(r, tokens)]
    if not phrases:
        return None
    slot, head = slot_after(question), head_noun(question)
    other = _OTHER.search(question) is not None  # "Other than X, what ...?"
    i, j = max(phrases, key=lambda r: _score(r, tokens, anchors, slot, other))
    j = _with_head(j, tokens, head)
    start, end = tokens[i].start, tokens[j - 1].end
    return Span(start, end, sentence[start:end])
