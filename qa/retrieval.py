"""Question to ranked Passages. The one place for ranking rules."""

from __future__ import annotations

import numpy as np

from qa.embedding import Embedder
from qa.index import Index
from qa.types import Passage, Scores


def passages_from_hits(index: Index, scores: np.ndarray, rows: np.ndarray) -> list[Passage]:
    """Turn one query's FAISS hits into ranked Passages with their citations."""
    out: list[Passage] = []
    for score, row in zip(scores.tolist(), rows.tolist(), strict=True):
        if row < 0:
            continue  # FAISS pads with -1 when the index holds fewer than k vectors
        chunk = index.chunks[row]
        doc = index.documents[chunk.doc_id]
        out.append(
            Passage(
                rank=len(out) + 1,
                chunk=chunk,
                title=doc.title,
                metadata=doc.metadata,
                scores=Scores(dense=float(score), lexical=None, fused=float(score)),
            )
        )
    return out


class Retriever:
    """Dense search over an index with the embedder that built it."""

    def __init__(self, *, embedder: Embedder, index: Index) -> None:
        self.embedder = embedder
        self.index = index

    def embed_question(self, question: str) -> np.ndarray:
        return np.asarray(self.embedder.encode([question])[0], dtype=np.float32)

    def search_vector(self, vector: np.ndarray, k: int) -> list[Passage]:
        scores, rows = self.index.search(vector[None, :], k)
        return passages_from_hits(self.index, scores[0], rows[0])
