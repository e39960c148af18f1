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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from qa.text import tokenize

# What bm25s writes, and our own row count beside it: the files a save must fingerprint.
_BM25_FILES = (
    "params.index.json",
    "vocab.index.json",
    "data.csc.index.npy",
    "indices.csc.index.npy",
    "indptr.csc.index.npy",
)
FILES = tuple(f"lexical/{name}" for name in (*_BM25_FILES, "size.json"))


def _bm25s() -> Any:
    import bm25s

    # bm25s sets its logger to DEBUG when imported and logs every build: noise on a
    # command line, so quieten it after the import, not before.
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


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
