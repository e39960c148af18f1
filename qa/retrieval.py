"""Question to ranked Passages: dense and BM25 search, fusion, and clean results.

The ranking rules live here as functions of arrays, so a test can check them
without a model: fusion (reciprocal rank or a convex mix of normalised scores)
and selection (no two passages overlap in one document; an optional cap per
document).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from qa.embedding import Embedder
from qa.filters import matches
from qa.index import Index
from qa.types import Chunk, Passage, Scores

Method = Literal["hybrid", "dense", "lexical"]
Fusion = Literal["rrf", "convex"]


@dataclass(frozen=True)
class RetrievalSettings:
    method: Method = "hybrid"
    fusion: Fusion = "convex"
    # Chosen on SQuAD dev questions (eval/fit_confidence.py): convex beat RRF there.
    dense_weight: float = 0.4  # convex fusion: the dense share of the fused score
    rrf_k: int = 60  # reciprocal-rank fusion: the usual damping constant
    candidates: int = 50  # taken from each side before fusion


@dataclass(frozen=True)
class Query:
    text: str
    k: int = 5
    filters: Mapping[str, Any] = field(default_factory=dict)
    max_per_document: int | None = None


# ----- pure ranking rules -----------------------------------------------------------------


def minmax(values: np.ndarray) -> np.ndarray:
    """Scale to [0, 1]; all-equal values map to 1 (they are all as good as the best)."""
    if values.size == 0:
        return values.astype(np.float32)
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-12:
        return np.ones_like(values, dtype=np.float32)
    return ((values - lo) / (hi - lo)).astype(np.float32)


def ranks(values: np.ndarray) -> np.ndarray:
    """1-based rank of each value, highest first (ties keep their order)."""
    out = np.empty(len(values), dtype=np.int64)
    out[np.argsort(-values, kind="stable")] = np.arange(1, len(values) + 1)
    return out


def fuse(dense: np.ndarray, lexical: np.ndarray, settings: RetrievalSettings) -> np.ndarray:
    """Fused scores for candidates whose dense and BM25 scores are both known."""
    if settings.method == "dense":
        return dense.astype(np.float32)
    if settings.method == "lexical":
        # BM25 decides; the dense score only breaks ties (both are in [0, 1] after scaling).
        return (minmax(lexical) + 1e-3 * minmax(dense)).astype(np.float32)
    if settings.fusion == "rrf":
        k = settings.rrf_k
        fused = 1.0 / (k + ranks(dense)) + 1.0 / (k + ranks(lexical))
        return fused.astype(np.float32)
    w = settings.dense_weight
    return (w * minmax(dense) + (1 - w) * minmax(lexical)).astype(np.float32)


def select(
    order: Sequence[int], chunks: Sequence[Chunk], k: int, max_per_document: int | None
) -> list[int]:
    """The first k rows of `order` that overlap no chosen passage of the same document
    and respect the per-document cap."""
    chosen: list[int] = []
    taken: dict[str, list[Chunk]] = {}
    for row in order:
        chunk = chunks[row]
        mine = taken.setdefault(chunk.doc_id, [])
        if max_per_document is not None and len(mine) >= max_per_document:
            continue
        if any(chunk.start < c.end and c.start < chunk.end for c in mine):
            continue
        mine.append(chunk)
        chosen.append(row)
        if len(chosen) == k:
            break
    return chosen


# ----- search over an index ---------------------------------------------------------------


@dataclass(frozen=True)
class Ranked:
    rows: np.ndarray
    dense: np.ndarray
    lexical: np.ndarray
    fused: np.ndarray


class Retriever:
    """Hybrid search over an index with the embedder that built it."""

    def __init__(
        self, *, embedder: Embedder, index: Index, settings: RetrievalSettings | None = None
    ) -> None:
        self.embedder = embedder
        self.index = index
        self.settings = settings or RetrievalSettings()

    def embed_question(self, question: str) -> np.ndarray:
        return np.asarray(self.embedder.encode([question])[0], dtype=np.float32)

    def allowed_rows(self, filters: Mapping[str, Any]) -> np.ndarray | None:
        if not filters:
            return None
        by_document = self.index.rows_by_document()
        rows = [
            r
            for d, doc in self.index.documents.items()
            if matches(doc, filters)
            for r in by_document.get(d, ())
        ]
        return np.array(sorted(rows), dtype=np.int64)

    def search(self, query: Query, vector: np.ndarray | None = None) -> list[Passage]:
        """Up to k passages; fewer only when fewer chunks match the filters."""
        vector = self.embed_question(query.text) if vector is None else vector
        allowed = self.allowed_rows(query.filters)
        available = len(self.index.chunks) if allowed is None else len(allowed)
        depth = max(self.settings.candidates, 4 * query.k)
        while True:
            ranked = self.rank(query.text, vector, depth, allowed)
            order = ranked.rows[np.argsort(-ranked.fused, kind="stable")]
            rows = select(order.tolist(), self.index.chunks, query.k, query.max_per_document)
            # De-duplication may leave fewer than k: look deeper while there is more.
            if len(rows) == query.k or depth >= available:
                return self.passages(rows, ranked)
            depth *= 4

    def rank(self, text: str, vector: np.ndarray, depth: int, allowed: np.ndarray | None) -> Ranked:
        """Candidates from both sides with both of their scores, and the fused score."""
        index = self.index
        _, dense_rows = index.search(vector[None, :], depth, allowed=allowed)
        mask = None
        if allowed is not None:
            mask = np.zeros(len(index.chunks), dtype=bool)
            mask[allowed] = True
        bm25 = index.lexical.scores(text, mask)
        top = np.argpartition(-bm25, min(depth, len(bm25)) - 1)[:depth] if len(bm25) else bm25
        lexical_rows = top[bm25[top] > 0] if len(bm25) else top.astype(np.int64)
        rows = np.unique(
            np.concatenate([dense_rows[0][dense_rows[0] >= 0], lexical_rows.astype(np.int64)])
        )
        dense = index.vectors(rows.tolist()) @ vector if len(rows) else np.zeros(0, np.float32)
        lexical = bm25[rows] if len(rows) else np.zeros(0, np.float32)
        return Ranked(rows, dense, lexical, fuse(dense, lexical, self.settings))

    def passages(self, rows: list[int], ranked: Ranked) -> list[Passage]:
        where = {int(r): i for i, r in enumerate(ranked.rows.tolist())}
        out: list[Passage] = []
        for rank, row in enumerate(rows, start=1):
            i = where[row]
            chunk = self.index.chunks[row]
            doc = self.index.documents[chunk.doc_id]
            scores = Scores(
                dense=float(ranked.dense[i]),
                lexical=float(ranked.lexical[i]),
                fused=float(ranked.fused[i]),
            )
            out.append(
                Passage(
                    rank=rank,
                    chunk=chunk,
                    title=doc.title,
                    metadata=doc.metadata,
                    scores=scores,
                    page=doc.page_at(chunk.start),
                    section=doc.section_at(chunk.start),
                )
            )
        return out
