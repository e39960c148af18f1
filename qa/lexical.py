"""The only import of bm25s: the lexical (BM25) half of hybrid retrieval.

Chunks are tokenised into lower-case English stems without stop words; the
index is rebuilt from the chunk table whenever the dense side changes (a
fraction of a second per 100k chunks: tokenising is cheap, embedding is not),
so a deleted document leaves nothing behind in either side.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

# What bm25s writes, and our own row count beside it: the files a save must fingerprint.
_BM25_FILES = (
    "params.index.json",
    "vocab.index.json",
    "data.csc.index.npy",
    "indices.csc.index.npy",
    "indptr.csc.index.npy",
)
FILES = tuple(f"lexical/{name}" for name in (*_BM25_FILES, "size.json"))
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


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its logger to DEBUG when imported and logs every build: noise on a
    # command line, so quieten it after the import, not before.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


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


@lru_cache(maxsize=1)  # stemmed when first asked, not when qa.lexical is imported
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


class LexicalIndex:
    """BM25 over the chunk table, row for row with the dense index."""

    def __init__(self, model: object, size: int) -> None:
        self._bm25 = model
        self.size = size

    @classmethod
    def build(cls, texts: Sequence[str]) -> LexicalIndex:
        model = _bm25s().BM25()
        if texts:
            model.index([tokenize(t) for t in texts], show_progress=False)
        return cls(model, len(texts))

    def scores(self, query: str, mask: np.ndarray | None = None) -> np.ndarray:
        """BM25 score of every row for `query` (0 where masked out or unmatched)."""
        tokens = tokenize(query)
        if not self.size or not tokens:
            return np.zeros(self.size, dtype=np.float32)
        weight = None if mask is None else mask.astype(np.float32)
        raw = self._bm25.get_scores(tokens, weight_mask=weight)  # type: ignore[attr-defined]
        return np.asarray(raw, dtype=np.float32)

    def rarity(self, tokens: Sequence[str]) -> list[float]:
        """Each token's BM25 inverse document frequency over the rows, divided by that of
        a token no row has: 1.0 for a word the corpus never uses, near 0 for one in every
        row. A share, so the number means the same in a corpus of any size."""
        if not self.size:
            return [1.0] * len(tokens)
        vocab: dict[str, int] = self._bm25.vocab_dict  # type: ignore[attr-defined]
        indptr = np.asarray(self._bm25.scores["indptr"])  # type: ignore[attr-defined]
        n = self.size
        top = math.log(1 + (n + 0.5) / 0.5)
        out = []
        for token in tokens:
            at = vocab.get(token)
            df = 0 if at is None else int(indptr[at + 1] - indptr[at])
            out.append(math.log(1 + (n - df + 0.5) / (df + 0.5)) / top)
        return out

    def save(self, folder: Path) -> None:
        target = folder / "lexical"
        target.mkdir()
        if self.size:
            self._bm25.save(str(target), show_progress=False)  # type: ignore[attr-defined]
        else:  # bm25s cannot save an empty index; an empty marker keeps the layout fixed
            for name in _BM25_FILES:
                (target / name).write_bytes(b"")
        (target / "size.json").write_text(json.dumps({"rows": self.size}))

    @classmethod
    def load(cls, folder: Path, rows: int, *, mmap: bool = False) -> LexicalIndex:
        bm25s = _bm25s()
        target = folder / "lexical"
        size = int(json.loads((target / "size.json").read_text())["rows"])
        if size != rows:
            raise ValueError(f"the lexical index has {size} rows for {rows} chunks")
        if not size:
            return cls.build([])
        # mmap: the score matrix stays in the page cache, shared by the processes mapping it.
        model = bm25s.BM25.load(str(target), show_progress=False, verbosity=0, mmap=mmap)
        return cls(model, size)
