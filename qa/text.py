"""Pure text rules that every stage shares: sentence boundaries and word stems.

Chunking packs sentences into chunks, the index stores a vector per sentence, BM25
and the answer rules compare stems, and the confidence matches names in any of their
forms. They all cut and stem text the same way because they all call this module.
A change to the sentence rules changes the chunks: bump `SPLITTER_VERSION` in
`qa.ingest.chunking` with it. A change to the word rules changes BM25: bump
`TOKENIZER_VERSION` here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import lru_cache

from qa.types import Span

_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st gen col lt sgt capt maj cmdr adm gov sen rep jr sr vs etc "
    "no nos fig vol inc ltd co corp dept approx est e.g i.e cf al".split()
)
# A full stop (or ! ? …) with optional closing quotes/brackets, followed by white space.
_SPACED_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)")
# "leadership.Minister" or "days.15 soldiers": news text often drops the space.
_GLUED_END = re.compile(r"(?<=[a-z]{2}[.!?])[\"'”’)\]]*(?=[A-Z0-9“\"])")
_PARAGRAPH = re.compile(r"\n[ \t\r\f\v]*\n|\n(?=[ \t]*(?:#{1,6} |[-*+] |\d+[.)] ))")


def _is_abbreviation(text: str, dot: int) -> bool:
    """True when the full stop at `dot` ends an abbreviation such as 'Dr.' or 'U.S.'."""
    if text[dot] != ".":
        return False
    word_start = dot
    while word_start > 0 and not text[word_start - 1].isspace():
        word_start -= 1
    word = text[word_start:dot].lstrip("(\"'“‘").lower()
    return word in _ABBREVIATIONS or bool(re.fullmatch(r"(?:[a-z]\.)*[a-z]", word))


def _boundaries(text: str) -> list[int]:
    cuts: set[int] = set()
    for m in _SPACED_END.finditer(text):
        if not _is_abbreviation(text, m.start()):
            cuts.add(m.end())
    cuts.update(m.end() for m in _GLUED_END.finditer(text))
    cuts.update(m.start() for m in _PARAGRAPH.finditer(text))
    return sorted(cuts)


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if start < end else None


def split_sentences(text: str, *, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of `text[start:end]`, trimmed of white space, in document offsets."""
    stop = len(text) if end is None else end
    piece = text[start:stop]
    spans: list[Span] = []
    prev = 0
    for cut in [*_boundaries(piece), len(piece)]:
        span = _trimmed(piece, prev, cut)
        if span is not None:
            spans.append(Span(span.start + start, span.end + start))
        prev = cut
    return spans


# Words

TOKENIZER_VERSION = 1

_WORD = re.compile(r"\w+", re.UNICODE)
# A short English stop list: words that match everywhere and rank nothing.
STOPWORDS = frozenset(
    "a about above after again against all am an and any are as at be because been before "
    "being below between both but by can could did do does doing down during each few for "
    "from further had has have having he her here hers him his how i if in into is it its "
    "itself just me more most my no nor not now of off on once only or other our ours out "
    "over own same she should so some such than that the their theirs them then there these "
    "they this those through to too under until up very was we were what when where which "
    "while who whom why will with would you your yours".split()
)


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(text: str) -> list[str]:
    return list(_stems(text))


@lru_cache(maxsize=4096)
def _stems(text: str) -> tuple[str, ...]:
    """tokenize, remembered: answering one question weighs each candidate sentence
    several times (word overlap, the short answer, the confidence)."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS]
    return tuple(_stemmer().stemWords(words))


def stems_at(text: str) -> list[tuple[int, str]]:
    """(offset, stem) of each word of `text` that `tokenize` keeps, stemmed in one call:
    the same stems as tokenizing word by word, without a call per word."""
    found = [(m.start(), m.group(0).lower()) for m in _WORD.finditer(text)]
    kept = [(at, w) for at, w in found if w not in STOPWORDS]
    stems: list[str] = _stemmer().stemWords([w for _, w in kept])
    return [(at, stem) for (at, _), stem in zip(kept, stems, strict=True)]


# A place and its people where neither word starts the other (Denmark and Danish); the
# rest (Lithuania and Lithuanian, Iraq and Iraqi) share their start.
_IRREGULAR_FORMS = (
    "denmark danish danes|france french|netherlands holland dutch|switzerland swiss|"
    "wales welsh|britain british britons|spain spanish spaniards|sweden swedish swedes|"
    "finland finnish finns|poland polish|turkey turkish turks|norway norwegian|"
    "greece greek|ireland irish|lebanon lebanese|belgium belgian|scotland scottish scots|"
    "england english|cyprus cypriot|philippines filipino"
)


@lru_cache(maxsize=1)  # stemmed when first asked, not when qa.text is imported
def _forms() -> dict[str, frozenset[str]]:
    """Each stem of _IRREGULAR_FORMS to the stems of its group."""
    groups = (frozenset(tokenize(words)) for words in _IRREGULAR_FORMS.split("|"))
    return {stem: group for group in groups for stem in group}


def same_name(a: str, b: str) -> bool:
    """Whether two stems name the same thing: equal, or one word's form of the other
    (Lithuania and Lithuanian, Canada and Canadian, Iraq and Iraqi, Denmark and Danish)."""
    if a == b or b in _forms().get(a, ()):
        return True
    shorter = min(len(a), len(b))
    common = len(os.path.commonprefix((a, b)))
    return common >= 4 and common >= shorter - 1


def named_in(stem: str, stems: Iterable[str]) -> bool:
    """Whether `stem` is among `stems` in one of its forms (see same_name)."""
    return any(same_name(stem, s) for s in stems)
