"""Question to ranked Passages: dense and BM25 search, fusion, and clean results.

The ranking rules live here as functions of arrays, so a test can check them
without a model: fusion (reciprocal rank or a convex mix of normalised scores),
the order (a table of contents or an index after every passage of prose, whatever
its scores: `qa.search.fields.is_navigation`) and selection (no two passages
overlap in one document; an optional cap per document).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from qa.config import Settings
from qa.search.embedding import Embedder
from qa.search.evidence import SentenceEvidence
from qa.search.fields import HeadingField, is_navigation
from qa.search.filters import matches
from qa.search.index import Index
from qa.types import Chunk, Passage, Scores

Method = Literal["hybrid", "dense", "lexical"]
Fusion = Literal["rrf", "convex"]


@dataclass(frozen=True)
class RetrievalSettings:
    method: Method = "hybrid"
    fusion: Fusion = "convex"
    # Convex beat RRF on SQuAD dev questions. The three weights below were chosen together
    # on the macro average of the dev halves of eval/suite.json (SQuAD, FastAPI docs, the
    # real PDF/HTML/Word chapters, the Rust book): eval/tune_fusion.py, README.
    dense_weight: float = 0.4  # convex fusion: the dense share of the chunk's own score
    # The best sentence's share of the fused score, and the dense share within it
    # (SQuAD dev: hit@1 0.833 -> 0.912, MRR@10 0.896 -> 0.948; see qa/search/evidence.py).
    sentence_weight: float = 0.7
    sentence_dense_share: float = 0.6
    # The share of BM25 over the chunk's title and heading path (qa.search.fields), added
    # to the fused score of hybrid convex search; 0 turns it off.
    heading_weight: float = 0.1
    # The weight of each candidate's document's best heading-field score among the
    # candidates (the document's title and sections as evidence for all its passages).
    document_weight: float = 0.1
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


def best_sentence(
    owners: np.ndarray, dense: np.ndarray, lexical: np.ndarray, chunks: int, *, dense_share: float
) -> np.ndarray:
    """Per candidate chunk, the best mix of dense and BM25 over its sentences.

    `owners[i]` is the candidate that sentence i belongs to; both signals are scaled
    to [0, 1] over all the candidates' sentences first. A candidate without
    sentences scores 0.
    """
    out = np.zeros(chunks, dtype=np.float32)
    if len(owners):
        joint = dense_share * minmax(dense) + (1 - dense_share) * minmax(lexical)
        np.maximum.at(out, owners, joint.astype(np.float32))
    return out


def fuse(
    dense: np.ndarray,
    lexical: np.ndarray,
    settings: RetrievalSettings,
    sentence: np.ndarray | None = None,
    heading: np.ndarray | None = None,
    documents: np.ndarray | None = None,
) -> np.ndarray:
    """Fused scores for candidates whose dense and BM25 scores are both known, and,
    in hybrid search, the best-sentence evidence of each (see `best_sentence`) and the
    BM25 score of each one's heading context (`HeadingField`), with its own weight, and
    the best of those over the candidates of the same document (`documents[i]` numbers
    candidate i's document), with another."""
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
    own = w * minmax(dense) + (1 - w) * minmax(lexical)
    fused = own
    if sentence is not None and len(sentence):
        s = settings.sentence_weight
        fused = (1 - s) * own + s * minmax(sentence)
    if heading is not None and len(heading):
        scaled = minmax(heading)
        fused = fused + settings.heading_weight * scaled
        if documents is not None and settings.document_weight:
            fused = fused + settings.document_weight * document_best(documents, scaled)
    return fused.astype(np.float32)


def document_best(documents: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per candidate, the highest value among the candidates of its document."""
    best = np.full(int(documents.max()) + 1 if len(documents) else 0, -np.inf, np.float32)
    np.maximum.at(best, documents, values.astype(np.float32))
    out: np.ndarray = best[documents]
    return out


def ranking_order(fused: np.ndarray, demoted: np.ndarray | None = None) -> np.ndarray:
    """Candidate positions, best fused score first (ties keep their order), with the
    `demoted` ones (navigation: contents and index pages) after all the others."""
    if demoted is None or not demoted.any():
        return np.argsort(-fused, kind="stable")
    return np.lexsort((-fused, demoted))


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
    sentence: np.ndarray | None = None
    heading: np.ndarray | None = None


class Retriever:
    """Hybrid search over an index with the embedder that built it."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        index: Index,
        settings: RetrievalSettings | None = None,
        evidence: SentenceEvidence | None = None,
    ) -> None:
        self.embedder = embedder
        self.index = index
        self.settings = settings or RetrievalSettings()
        self._evidence = evidence
        self._headings: HeadingField | None = None
        self._navigation: np.ndarray | None = None

    @property
    def headings(self) -> HeadingField:
        """BM25 over the chunks' title and heading paths, built on first use."""
        if self._headings is None:
            self._headings = HeadingField(self.index.documents, self.index.chunks)
        return self._headings

    @property
    def navigation(self) -> np.ndarray:
        """Per chunk, whether it is a table of contents or an index; built on first use."""
        if self._navigation is None:
            chunks = self.index.chunks
            self._navigation = np.fromiter(
                (is_navigation(c.text) for c in chunks), dtype=bool, count=len(chunks)
            )
        return self._navigation

    @property
    def evidence(self) -> SentenceEvidence:
        """Built on first use, once per index (a swap passes it on when the index stays)."""
        if self._evidence is None:
            self._evidence = SentenceEvidence(self.index)
        return self._evidence

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
            order = ranked.rows[ranking_order(ranked.fused, self.navigation[ranked.rows])]
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
        heads = self.heading_scores(text, mask)
        found = [dense_rows[0][dense_rows[0] >= 0].astype(np.int64), _top(bm25, depth)]
        if heads is not None:  # the best-titled sections are candidates too
            found.append(_top(heads, max(1, depth // 5)))
        rows = np.unique(np.concatenate(found))
        dense = index.vectors(rows.tolist()) @ vector if len(rows) else np.zeros(0, np.float32)
        lexical = bm25[rows] if len(rows) else np.zeros(0, np.float32)
        heading = heads[rows] if heads is not None else None
        sentence = self.sentence_evidence(rows, text, vector)
        documents = None
        if heading is not None and self.settings.document_weight:
            ids = [index.chunks[r].doc_id for r in rows.tolist()]
            documents = np.unique(np.array(ids, dtype=object), return_inverse=True)[1]
        fused = fuse(dense, lexical, self.settings, sentence, heading, documents)
        return Ranked(rows, dense, lexical, fused, sentence, heading)

    def heading_scores(self, text: str, mask: np.ndarray | None) -> np.ndarray | None:
        settings = self.settings
        if settings.method != "hybrid" or settings.fusion != "convex":
            return None
        if not (settings.heading_weight or settings.document_weight) or not len(self.index.chunks):
            return None
        scores = self.headings.scores(text)
        return scores if mask is None else np.where(mask, scores, 0.0).astype(np.float32)

    def sentence_evidence(
        self, rows: np.ndarray, text: str, vector: np.ndarray
    ) -> np.ndarray | None:
        settings = self.settings
        if (
            settings.method != "hybrid"
            or settings.fusion != "convex"
            or not settings.sentence_weight
        ):
            return None
        if self.evidence.empty:
            return None
        owners, dense, lexical = self.evidence.scores(rows, text, vector)
        return best_sentence(
            owners, dense, lexical, len(rows), dense_share=settings.sentence_dense_share
        )

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
                sentence=None if ranked.sentence is None else float(ranked.sentence[i]),
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
                    heading_path=doc.heading_path_at(chunk.start),
                )
            )
        return out


def _top(scores: np.ndarray, depth: int) -> np.ndarray:
    """The rows of the `depth` highest positive scores, in no order."""
    if not len(scores):
        return np.zeros(0, np.int64)
    top = np.argpartition(-scores, min(depth, len(scores)) - 1)[:depth]
    return top[scores[top] > 0].astype(np.int64)


def retrieval_settings(settings: Settings) -> RetrievalSettings:
    return RetrievalSettings(
        method=settings.retrieval,
        fusion=settings.fusion,
        dense_weight=settings.dense_weight,
        sentence_weight=settings.sentence_weight,
        heading_weight=settings.heading_weight,
        document_weight=settings.document_weight,
    )
