"""The optional reranker (QA_RERANKER): a local cross-encoder reads the question with each
of the top fused candidates and reorders them by its relevance probability.

A cross-encoder sees question and passage together, so it judges relevance better
than the embedding cosine and BM25 that found the candidates, at the price of one
model pass per candidate. This module is the only import of sentence-transformers'
CrossEncoder, and loads it (and torch) only when a reranker is configured.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from qa.config import Settings
from qa.errors import RerankerError
from qa.search.embedding import resolve_precision
from qa.search.model_folder import HeadSpec, ModelSource, checked_source, go_offline
from qa.types import Passage

WHAT = "cross-encoder (a sequence-classification model with one relevance label)"


@dataclass(frozen=True)
class RerankSettings:
    candidates: int = 20  # how many fused candidates the cross-encoder scores
    batch_size: int = 32
    precision: str = "auto"  # as QA_PRECISION: bf16 where the CPU computes it natively


class Reranker(Protocol):
    name: str
    settings: RerankSettings

    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray:
        """The probability, in [0, 1], that each text answers the question."""
        ...


def rerank(passages: Sequence[Passage], scores: np.ndarray, k: int) -> list[Passage]:
    """The k passages the reranker scores highest, ranked 1.. in that order, each with
    its score in `scores.rerank`; equal scores keep the fused order."""
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")[:k]
    return [
        replace(
            passages[int(i)],
            rank=rank,
            scores=replace(passages[int(i)].scores, rerank=float(scores[int(i)])),
        )
        for rank, i in enumerate(order, start=1)
    ]


RERANKER = HeadSpec(
    setting="QA_RERANKER",
    head="ForSequenceClassification",
    what=WHAT,
    labels=1,
    wrong_labels="{path} classifies into {labels} labels: a reranker gives one relevance "
    "score (num_labels=1), as the MS MARCO cross-encoders do",
    error=RerankerError,
)


def reranker_source(value: Path) -> ModelSource:
    """The checked folder of a QA_RERANKER value: a local folder or a Hugging Face name."""
    return checked_source(value, RERANKER)


class CrossEncoderReranker:
    """A local sentence-transformers CrossEncoder with one label, scores through a sigmoid."""

    def __init__(self, path: Path, settings: RerankSettings | None = None) -> None:
        self.settings = settings or RerankSettings()
        source = reranker_source(path)
        path, self.name, self.revision = source.path, source.name, source.revision
        self.precision = resolve_precision(self.settings.precision)
        go_offline()
        import torch
        from sentence_transformers import CrossEncoder

        try:
            # The sigmoid makes every model's score a probability, whatever activation
            # it was saved with: the confidence pools it as one.
            self._model = CrossEncoder(
                str(path), device="cpu", local_files_only=True, activation_fn=torch.nn.Sigmoid()
            )
        except Exception as exc:  # the libraries raise many types for a broken folder
            raise RerankerError(f"could not load the cross-encoder in {path}: {exc}") from exc
        if self.precision == "bf16":
            self._model.to(torch.bfloat16)
        self._lock = threading.Lock()  # torch modules are not safe to call from two threads

    def scores(self, question: str, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros(0, dtype=np.float32)
        pairs: list[Any] = [(question, t) for t in texts]
        with self._lock:
            out = self._model.predict(
                pairs, batch_size=self.settings.batch_size, show_progress_bar=False
            )
        return np.asarray(out, dtype=np.float32).reshape(len(texts))


def rerank_settings(settings: Settings) -> RerankSettings:
    return RerankSettings(candidates=settings.rerank_candidates, precision=settings.precision)
