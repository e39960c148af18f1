"""The rules that turn an extractor's raw text into document text.

- CRLF and lone CR become LF; form feeds become LF (pdfium ends lines with CRLF).
- pdfium marks a word broken across lines with U+FFFE where the hyphen was. The word is
  joined ("manip\\ufffeulation" -> "manipulation") unless the document spells the same
  word with a hyphen elsewhere ("unit-like"), where the hyphen is kept. Soft hyphens
  (U+00AD) are dropped: they only mark where a word may break.
- Typographic ligatures (U+FB00-U+FB06: "ﬁ", "ﬂ", ...) become their letters, so that
  "ﬁle" matches a question about a "file".
- Other control characters (C0 except tab and LF, DEL) are dropped.

Nothing else changes: no white-space folding, no Unicode normalisation beyond the
ligatures, so a page's text keeps the pdfium character order and each output character
can be traced back to the raw character it came from (`origin`), which the page renderer
uses to find the boxes of a cited span.
"""

from __future__ import annotations

import re
import unicodedata

_LIGATURES = {chr(c): unicodedata.normalize("NFKC", chr(c)) for c in range(0xFB00, 0xFB07)}
_LIGATURE_TABLE = str.maketrans(_LIGATURES)
_SPECIAL = re.compile(r"\r\n?|\ufffe(?:\r?\n)?|[\u00ad\x00-\x08\x0b-\x1f\x7f\ufb00-\ufb06]")
_HYPHENATED = re.compile(r"\w+(?:-\w+)+")
_WORD_BEFORE = re.compile(r"\w+\Z")
_WORD_AFTER = re.compile(r"\w+")


def hyphenated_words(text: str) -> frozenset[str]:
    """Lower-cased "a-b" pairs the text spells with a hyphen, for the U+FFFE rule."""
    pairs: set[str] = set()
    for match in _HYPHENATED.finditer(text.translate(_LIGATURE_TABLE)):
        parts = match.group().lower().split("-")
        pairs.update(f"{a}-{b}" for a, b in zip(parts, parts[1:], strict=False))
    return frozenset(pairs)


def _broken_word(raw: str, at: int, end: int, hyphenated: frozenset[str]) -> str:
    before = _WORD_BEFORE.search(raw, 0, at)
    after = _WORD_AFTER.match(raw, end)
    if before and after:
        pair = f"{before.group()}-{after.group()}".translate(_LIGATURE_TABLE).lower()
        if pair in hyphenated:
            return "-"
    return ""


def _replacement(raw: str, match: re.Match[str], hyphenated: frozenset[str]) -> str:
    token = match.group()
    if token[0] == "\r" or token == "\x0c":
        return "\n"
    if token[0] == "\ufffe":
        return _broken_word(raw, match.start(), match.end(), hyphenated)
    return _LIGATURES.get(token, "")


def normalize(
    raw: str, *, hyphenated: frozenset[str] = frozenset(), origin: list[int] | None = None
) -> str:
    """Document text of `raw`. With `origin`, it is filled with the index in `raw` of
    every output character (a ligature's letters all point at the ligature)."""
    out: list[str] = []
    last = 0
    for match in _SPECIAL.finditer(raw):
        rep = _replacement(raw, match, hyphenated)
        out.append(raw[last : match.start()])
        out.append(rep)
        if origin is not None:
            origin.extend(range(last, match.start()))
            origin.extend([match.start()] * len(rep))
        last = match.end()
    out.append(raw[last:])
    if origin is not None:
        origin.extend(range(last, len(raw)))
    return "".join(out)
