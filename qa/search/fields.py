"""What retrieval reads of a chunk besides its exact text: its prose, and its place.

- `prose(text)`: the text with markup that is not words blanked out (HTML comments and
  tags, MkDocs `{ #anchor }` attribute lists and `{* include *}` lines, mdBook
  `{{#include ...}}` directives, admonition markers such as `/// tip` or `!!! note`, code
  fence lines, link targets and reference-link labels and definitions). A tag's
  `caption="..."` is prose and stays (mdBook's `<Listing caption="...">`). Every blanked
  character becomes a space (newlines stay), so the result has the length and the line
  structure of the text and every offset into it means the same: sentence spans pooled
  from the encoder's tokens and citations stay exact, since only what the model and BM25
  read changes, never `Chunk.text` or the document text.
- `heading_context(document, offset)`: "Title > Heading > Subheading", the document's
  title and `Document.heading_path_at(offset)`, the one place structure comes from.
- `encoder_text(document, chunk)`: what the encoder sees of a chunk: its heading context
  as a prefix ("Title > Heading: ") and its prose; and the prefix's length, by which the
  chunk's spans shift.
- `is_navigation(text)`: whether a chunk is a table of contents or an index (most of its
  lines are entries with dot leaders and a page number): it points at the text that
  answers, so retrieval ranks it after every passage of prose (qa.search.retrieval).
- `HeadingField`: BM25 over each chunk's heading context, a field of its own with its
  own weight in the fused score (qa.search.retrieval), so a question that names a section
  ("How do I read an environment variable?") finds the section titled so.

A change here changes the vectors and the BM25 rows: bump `RETRIEVAL_TEXT_VERSION`, which
the index manifest records so an old index asks for a rebuild.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from qa.search.lexical import LexicalIndex
from qa.text import DOT_LEADERS, HTML_TAG
from qa.types import Chunk, Document

RETRIEVAL_TEXT_VERSION = 4  # 3: mdBook directives, reference links, captions kept
# 4: Markdown's heading marks, bullets, quote marks, backticks and emphasis asterisks
_SEPARATORS = "-|:\u2013\u2014\u00b7"

# The prefix is cut to this many characters (about 30 tokens), so that a chunk of the
# largest size still fits the model's window with its prefix.
MAX_CONTEXT_CHARS = 120

_MARKUP = re.compile(
    "|".join(
        (
            r"<!--.*?(?:-->|\Z)",  # HTML comments, across lines
            HTML_TAG,
            r"&(?:[A-Za-z]+|#\d+);",  # HTML entities
            r"\{\*[^\n]*?\*\}",  # {* ../../docs_src/app.py hl[3] *}: MkDocs includes
            r"\{\{#[^{}\n]*\}\}",  # {{#include ../listings/x/src/main.rs:here}}: mdBook
            # [label]: target "title": a reference link's definition, the whole line
            r"^[ \t]{0,3}\[[^\]\n]+\]:[ \t]*\S+(?:[ \t]+(?:\"[^\"\n]*\"|'[^'\n]*'))?[ \t]*$",
            r"(?<=\])\[[^\[\]\n]*[A-Za-z][^\[\]\n]*\]",  # [text][label]: the label
            r"\{\s*[:#.][^{}\n]*\}",  # { #anchor } and { .class } attribute lists
            r"^[ \t]*(?:///|!!!|\?\?\?\+?)[ \t]*[\w-]*(?:[ \t]*\|)?",  # admonitions
            r"^[ \t]*(?:```|~~~)[^\n]*$",  # code fence lines and their info strings
            r"(?<=\])\([^()\s]*(?:\s+\"[^\"\n]*\")?\)",  # [text](target "title"): the target
            # Markdown's own marks around the words: "## " before a heading, a list's
            # bullet, a quote's ">", code spans' backticks and *emphasis* asterisks. BM25
            # never reads them; the encoder does, and they pull a passage's vector away
            # from the same words in plain text. Underscores stay: `snake_case`, `__init__`.
            r"^[ \t]{0,3}#{1,6}(?=[ \t]|$)",
            r"^[ \t]*[*+-](?=[ \t])",
            r"^[ \t]{0,3}>(?=[ \t]|$)",
            r"`+",
            r"(?<![\w*\\])\*{1,3}(?=[^\s*])|(?<=[^\s*])\*{1,3}(?![\w*])",
        )
    ),
    re.S | re.M,
)


_CAPTION = re.compile(r'\scaption="([^"]*)"')


def _blank(match: re.Match[str]) -> str:
    text = match.group(0)
    blank = re.sub(r"[^\n]", " ", text)
    caption = _CAPTION.search(text) if text.startswith("<") else None
    if caption is None:
        return blank
    a, b = caption.span(1)
    return blank[:a] + text[a:b] + blank[b:]


def prose(text: str) -> str:
    """`text` with its non-prose markup blanked: same length, same line breaks."""
    return _MARKUP.sub(_blank, text)


# "2.1 Naming . . . . . 4", "Supported ASN.1 types, list of . . . 2", "Preface .... xi"
_ENTRY = re.compile(DOT_LEADERS + r"\s*(?:\d+|[ivxlcdm]+)[ \t]*$", re.I | re.M)


def is_navigation(text: str) -> bool:
    """Whether at least half of the lines of `text` are contents or index entries."""
    if ". ." not in text and "...." not in text:  # the common case, without a scan
        return False
    entries = len(_ENTRY.findall(text))
    return entries > 0 and 2 * entries >= sum(1 for line in text.splitlines() if line.strip())


def heading_context(document: Document, offset: int) -> str:
    """The document's title and the headings `offset` sits under, outermost first,
    joined by " > " (the first heading is left out where it repeats the title)."""
    path = list(document.heading_path_at(offset))
    title = document.title.strip()
    if path and _titles(title, path[0].strip()):
        title, path = path[0].strip(), path[1:]
    return " > ".join(p for p in (title, *path) if p.strip())


def _titles(title: str, heading: str) -> bool:
    """Whether `heading` is the page's title: the same words, or those words and a
    site-wide suffix after a separator ("Method Syntax - The Rust Programming Language"),
    which would otherwise count as words of every page."""
    if not heading or not title.casefold().startswith(heading.casefold()):
        return False
    rest = title[len(heading) :].strip()
    return not rest or rest[0] in _SEPARATORS


def chunk_context(document: Document, chunk: Chunk) -> str:
    """The heading context of a chunk, where it starts: a chunk that opens with "# Title"
    sits under Title, since a Markdown section starts at its heading's line."""
    return heading_context(document, chunk.start)


def encoder_text(document: Document, chunk: Chunk) -> tuple[str, int]:
    """What the encoder reads of `chunk` and the length of the prefix before its prose."""
    context = chunk_context(document, chunk)[:MAX_CONTEXT_CHARS].strip()
    prefix = f"{context}: " if context else ""
    return prefix + prose(chunk.text), len(prefix)


class HeadingField:
    """BM25 over the chunks' heading contexts: each distinct context is one row, so a
    long section's chunks share one row and its score."""

    def __init__(self, documents: dict[str, Document], chunks: Sequence[Chunk]) -> None:
        rows: dict[str, int] = {}
        owner = np.zeros(len(chunks), dtype=np.int64)
        for i, chunk in enumerate(chunks):
            context = chunk_context(documents[chunk.doc_id], chunk)
            owner[i] = rows.setdefault(context, len(rows))
        self._owner = owner
        self.lexical = LexicalIndex.build(list(rows))

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of each chunk's heading context for `query`."""
        if not len(self._owner):
            return np.zeros(0, dtype=np.float32)
        return self.lexical.scores(query)[self._owner]
