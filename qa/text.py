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
# A full stop (or ! ? …) with optional closing quotes/brackets, followed by white space,
# but not by the " · " between the cells of a sheet's row: "Operator: ? · Explanation:
# Error propagation" is one row, so one sentence, whatever its cells end with.
_SPACED_END = re.compile(r"[.!?…]+[\"'”’)\]]*(?=\s)(?![^\S\n]*·)")
# "leadership.Minister" or "days.15 soldiers": news text often drops the space.
_GLUED_END = re.compile(r"(?<=[a-z]{2}[.!?])[\"'”’)\]]*(?=[A-Z0-9“\"])")
# An HTML tag in Markdown: not "a < b > c", nor generics such as Vec<String> or `Rc<T>`,
# glued to a word (closing tags count glued or not).
HTML_TAG = r"(?<![\w:])<[A-Za-z][\w:-]*(?:\s[^<>]*)?/?>|</[A-Za-z][\w:-]*\s*>"
# A table of contents' or an index's dot leaders: "2.1 Naming . . . . . . 4".
DOT_LEADERS = r"(?:\. ?){4,}"
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


# Lines that are not prose. A heading, a caption or a file name on a line of its own ends
# where its line ends, even when the extractor put no blank line after it (a PDF's text
# layer never does), so it never runs into the sentence after it. Runs of short labels
# (a figure's boxes read as text) are no sentence at all.
_ATX = re.compile(r"[ \t]{0,3}#{1,6}(?:[ \t]|$)")
_SETEXT = re.compile(r"[ \t]{0,3}(?:=+|-{2,})[ \t]*")
_CAPTION = re.compile(r"(?:Listing|Figure|Fig\.|Table|Example|Filename)(?: [\w.-]{1,12})?: ")
_NUMBERED = re.compile(r"(?:\d+(?:\.\d+)*\.?\s+)?")
_SMALL_WORDS = frozenset(
    "a an and as at but by for from in into nor of off on onto or over per so than that "
    "the to up upon via vs with without yet".split()
)
_SENTENCE_END = ".,;:!?"
# A label has none of these: code, prose and formulas do.
_NOT_IN_LABELS = frozenset(".,;:!?{}()[]=<>\"'`|\\&*+#$%@~^")
# A list of names or a field ("Twitter: @name, @name") is no heading.
_NOT_IN_HEADINGS = frozenset(",;:@")
MAX_HEADING_WORDS = 12
MAX_LABEL_WORDS = 2
MIN_LABEL_RUN = 3
# A longer line without a full stop at its end is the middle of a wrapped paragraph.
_WRAPPED_LINE = 60


_LINE = re.compile(r"[^\S\n]*(\S[^\n]*?)[^\S\n]*$", re.MULTILINE)


def _lines(text: str) -> list[Span]:
    """Each non-blank line of `text`, trimmed of white space."""
    return [Span(m.start(1), m.end(1)) for m in _LINE.finditer(text)]


def _adjacent(text: str, a: Span | None, b: Span | None) -> bool:
    """Whether line b follows line a with no blank line between them."""
    return a is not None and b is not None and text.count("\n", a.end, b.start) == 1


def is_heading_line(line: str) -> bool:
    """A short title-cased line without a sentence's end: "Storing Data on the Heap",
    "2.1 Naming". The small words of a title may be lower case, and so may one other
    word among three capitalised ones ("Clearer Trait Bounds with where Clauses")."""
    if len(line) > 80 or line[-1] in _SENTENCE_END:
        return False
    words = line.split()
    if not 1 <= len(words) <= MAX_HEADING_WORDS:
        return False
    if _NOT_IN_HEADINGS.intersection(line):  # "Twitter: @Lithuanian_MoD, @LithuaniaMFA"
        return False
    first = line[_NUMBERED.match(line).end() :]  # type: ignore[union-attr]
    if not first or not first[0].isupper():
        return False
    lower = sum(w[0].isalpha() and w[0].islower() and w.lower() not in _SMALL_WORDS for w in words)
    return lower == 0 or (lower == 1 and sum(w[0].isupper() for w in words) >= 3)


def is_label_line(line: str) -> bool:
    """A line of one or two short words and no punctuation: a box of a figure."""
    return (
        len(line) <= 24
        and len(line.split()) <= MAX_LABEL_WORDS
        and not _NOT_IN_LABELS.intersection(line)
    )


def _is_label_run(text: str, run: list[Span]) -> bool:
    """At least MIN_LABEL_RUN label lines, half of them single words (a table of two
    columns, "Hex 0xff / Octal 0o77", is not a figure)."""
    single = sum(len(text[s.start : s.end].split()) == 1 for s in run)
    return len(run) >= MIN_LABEL_RUN and 2 * single >= len(run)


def label_runs(text: str, lines: list[Span] | None = None) -> list[Span]:
    """Runs of consecutive label lines ("Cons / i32 / Box / usize", a figure's text read
    as lines): neither a sentence nor part of a passage. `lines`: `_lines(text)`."""
    runs: list[Span] = []
    run: list[Span] = []
    for line in [*(_lines(text) if lines is None else lines), None]:
        if line is not None and is_label_line(text[line.start : line.end]):
            if run and not _adjacent(text, run[-1], line):
                if _is_label_run(text, run):
                    runs.append(Span(run[0].start, run[-1].end))
                run = []
            run.append(line)
            continue
        if _is_label_run(text, run):
            runs.append(Span(run[0].start, run[-1].end))
        run = []
    return runs


def _starts_a_sentence(line: str) -> bool:
    return line[0].isupper() or line[0].isdigit() or line[0] in "\"'“‘(#"


def _line_cuts(text: str, lines: list[Span]) -> set[int]:
    """Where lines that are not prose start and end (see _ATX, _CAPTION, is_heading_line)."""
    cuts: set[int] = set()
    for i, line in enumerate(lines):
        here = text[line.start : line.end]
        if line.end - line.start > 80 and here[0] not in "#LFTE=-":
            continue  # a line of prose: no heading, and no ATX heading or caption either
        prev = lines[i - 1] if i and _adjacent(text, lines[i - 1], line) else None
        nxt = lines[i + 1] if i + 1 < len(lines) and _adjacent(text, line, lines[i + 1]) else None
        if _ATX.match(here) or _CAPTION.match(here):
            cuts.update((line.start, line.end))
        elif _SETEXT.fullmatch(here) and prev is not None:
            cuts.update((prev.start, line.end))
        elif is_heading_line(here):
            before = "" if prev is None else text[prev.start : prev.end]
            wrapped = (
                len(before) >= _WRAPPED_LINE
                and before[-1] not in _SENTENCE_END
                and not _CAPTION.match(before)
            )
            after = "" if nxt is None else text[nxt.start : nxt.end]
            if not wrapped and (not after or _starts_a_sentence(after)):
                cuts.update((line.start, line.end))
    return cuts


def _boundaries(text: str, lines: list[Span], labels: list[Span]) -> list[int]:
    cuts: set[int] = set()
    for m in _SPACED_END.finditer(text):
        if not _is_abbreviation(text, m.start()):
            cuts.add(m.end())
    cuts.update(m.end() for m in _GLUED_END.finditer(text))
    cuts.update(m.start() for m in _PARAGRAPH.finditer(text))
    cuts.update(_line_cuts(text, lines))
    cuts.update(at for run in labels for at in (run.start, run.end))
    return sorted(cuts)


def _trimmed(text: str, start: int, end: int) -> Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return Span(start, end) if start < end else None


def split_sentences(text: str, *, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans of `text[start:end]`, trimmed of white space, in document offsets.
    A heading, caption or file name on its own line is a sentence of its own; the lines of
    a label run (`label_runs`) are in no sentence."""
    stop = len(text) if end is None else end
    piece = text[start:stop]
    lines = _lines(piece)
    labels = label_runs(piece, lines)
    spans: list[Span] = []
    prev = 0
    for cut in [*_boundaries(piece, lines, labels), len(piece)]:
        span = _trimmed(piece, prev, cut)
        prev = cut
        if span is None or (labels and any(r.start <= span.start < r.end for r in labels)):
            continue
        spans.append(Span(span.start + start, span.end + start))
    return spans


@lru_cache(maxsize=4096)
def chunk_sentences(text: str) -> tuple[Span, ...]:
    """`split_sentences(text)`, remembered: answering splits the same retrieved chunks
    question after question (4,096 chunk texts, a few MB at most)."""
    return tuple(split_sentences(text))


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
