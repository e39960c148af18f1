"""No repeats in one reply: passages whose texts are the same or nearly so (one chapter
saved as PDF, HTML and Word; two versions of a file) are listed once, at the rank of the
best of them, and every other copy becomes an exact citation of its own in `also_in`.

Two texts are compared by their word 3-grams after folding case, compatibility forms
(NFKC: ligatures, full-width letters) and typographic quotes and dashes, so line breaks,
hyphenation at line ends, page breaks and white space, which differ between a PDF's text
layer and the same page as HTML, do not count. The measure is containment: the share of
the smaller text's 3-grams that the other has. Two extractions of one chapter are cut
into chunks at different places (a PDF page by page, HTML section by section), so a
passage of one is usually a part of a passage of the other, which containment scores
high and Jaccard does not.

`REPEAT_THRESHOLD` was chosen on ../shared/realdocs (`eval/measure_repeats.py` prints the
measurement): of each passage of a chapter kept in two formats and its best match in the
other, 0.974 reach 0.5 (0.924 reach 0.6); of different passages of one document 0.0030
do (0.0014 at 0.6: listings that repeat the same code), of passages of different
chapters 0.0001.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import replace
from functools import lru_cache

from qa.types import Citation, Passage

#: Containment at or above which two passages count as one text (see the module docstring).
REPEAT_THRESHOLD = 0.5
#: Passages fetched per passage asked for, so that k distinct texts usually remain after
#: merging (a chapter kept in three formats repeats each passage up to three times).
FETCH_FACTOR = 3
SHINGLE = 3

_WORD = re.compile(r"\w+")
_FOLD = str.maketrans({"’": "'", "‘": "'", "“": '"', "”": '"', "–": "-", "—": "-", "−": "-"})


def shingles(text: str, *, size: int = SHINGLE) -> frozenset[tuple[str, ...]]:
    """The text's word `size`-grams, folded (a text of fewer words is one gram)."""
    words = _WORD.findall(unicodedata.normalize("NFKC", text).translate(_FOLD).casefold())
    if len(words) < size:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


@lru_cache(maxsize=2048)
def _grams(text: str) -> frozenset[int]:
    """`shingles(text)` as hashes, remembered: a reply compares 3k passages, and the same
    passages come back question after question, so each is cut into grams once (about
    10 KB a passage; the hashes of 3 folded words collide with odds of one in 2**64)."""
    return frozenset(hash(gram) for gram in shingles(text))


def containment(a: frozenset[object], b: frozenset[object]) -> float:
    """The share of the smaller set that the other holds; 0.0 when either is empty."""
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def citation_of(passage: Passage) -> Citation:
    """`passage` as a citation: where its text lies, and under which page and headings."""
    return Citation(
        chunk=passage.chunk,
        title=passage.title,
        page=passage.page,
        section=passage.section,
        heading_path=passage.heading_path,
    )


def merge_repeats(
    passages: Sequence[Passage], k: int, *, threshold: float = REPEAT_THRESHOLD
) -> list[Passage]:
    """The first k distinct texts of `passages` (best first), renumbered from 1, each with
    the later passages that repeat it as `also_in`, in their order. A repeat is compared
    with the passage it would join, never with another repeat, so a chain of small
    differences cannot join two texts that differ much."""
    kept: list[Passage] = []
    grams: list[frozenset[int]] = []
    extra: list[list[Citation]] = []
    for passage in passages:
        mine = _grams(passage.chunk.text)
        same = next((i for i, g in enumerate(grams) if containment(mine, g) >= threshold), None)
        if same is not None:
            extra[same].append(citation_of(passage))
        elif len(kept) < k:
            kept.append(passage)
            grams.append(mine)
            extra.append([])
    return [
        replace(p, rank=rank, also_in=p.also_in + tuple(more))
        for rank, (p, more) in enumerate(zip(kept, extra, strict=True), start=1)
    ]


def distinct_search(
    search: Callable[[int], Sequence[Passage]], k: int, *, available: int
) -> list[Passage]:
    """k distinct texts from `search(n)` (the best n passages), asking for FETCH_FACTOR
    times k first and for more while repeats leave fewer than k and there are more."""
    fetch = max(k, FETCH_FACTOR * k)
    while True:
        found = search(fetch)
        merged = merge_repeats(found, k)
        if len(merged) >= k or len(found) < fetch or fetch >= available:
            return merged
        fetch *= 2
