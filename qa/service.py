"""The library behind every edge (HTTP, CLI, evaluation): load once, then answer."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from qa.answer import AnswerSettings, Candidate, candidates, choose_answer, question_words
from qa.config import Settings, chunk_settings, retrieval_settings
from qa.embedding import Embedder, SentenceTransformerEmbedder
from qa.errors import DocumentNotFoundError
from qa.filters import validate
from qa.index import Index, read_manifest
from qa.indexing import expectation
from qa.retrieval import Query, RetrievalSettings, Retriever
from qa.types import AskResult, Document

log = logging.getLogger(__name__)


#: Makes the embedder a service or a `qa` command uses; tests pass their own.
EmbedderFactory = Callable[[Settings], Embedder]


def load_embedder(settings: Settings) -> Embedder:
    """The configured sentence-transformers model (the default factory)."""
    return SentenceTransformerEmbedder(settings.model, precision=settings.precision)


@dataclass(frozen=True)
class Health:
    documents: int
    chunks: int
    model: str


class QAService:
    """Answers questions over one index with the embedder that built it."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        index: Index,
        answer: AnswerSettings | None = None,
        retrieval: RetrievalSettings | None = None,
    ) -> None:
        self.embedder = embedder
        self.answer_settings = answer or AnswerSettings()
        self.retrieval_settings = retrieval or RetrievalSettings()
        self.retriever = Retriever(embedder=embedder, index=index, settings=self.retrieval_settings)
        _ = self.retriever.evidence  # built at start-up, not in the first request

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        embedder: Embedder | None = None,
        *,
        embedder_factory: EmbedderFactory = load_embedder,
    ) -> QAService:
        """Load the model and the index, checking that they belong together."""
        read_manifest(settings.index_dir)  # no index: say so before seconds of model loading
        embedder = embedder or embedder_factory(settings)
        # Memory-mapped: worker processes share one copy of the vectors in the page cache.
        expect = expectation(embedder, chunk_settings(settings))
        index = Index.load(settings.index_dir, expect, mmap=True)
        return cls(embedder=embedder, index=index, retrieval=retrieval_settings(settings))

    @property
    def index(self) -> Index:
        return self.retriever.index

    def enable_micro_batching(self, *, max_batch: int) -> None:
        """Encode concurrent questions together (the server does this; the CLI need not)."""
        from qa.batching import MicroBatchingEmbedder

        self.embedder = MicroBatchingEmbedder(self.embedder, max_batch=max_batch)
        self.swap_index(self.index)

    def close(self) -> None:
        close = getattr(self.embedder, "close", None)
        if close is not None:
            close()

    def swap_index(self, index: Index) -> None:
        """Serve `index` from now on. One reference assignment: a request sees the old
        index or the new one, never a mix."""
        # The sentence evidence depends on the index only: keep it when the index stays,
        # and build a new one here, on the swapping thread, not in the next request.
        evidence = self.retriever.evidence if index is self.index else None
        retriever = Retriever(
            embedder=self.embedder, index=index, settings=self.retrieval_settings, evidence=evidence
        )
        _ = retriever.evidence
        self.retriever = retriever

    def ask(
        self,
        question: str,
        *,
        k: int = 5,
        filters: Mapping[str, Any] | None = None,
        max_per_document: int | None = None,
    ) -> AskResult:
        retriever = self.retriever  # one index for the whole request, even across a swap
        query = Query(question.strip(), k, validate(filters or {}), max_per_document)
        vector = retriever.embed_question(query.text)
        passages = retriever.search(query, vector)
        found = candidates(passages, limit=self.answer_settings.passages)
        similarities = self.sentence_similarities(retriever, found, vector)
        answer, conf = choose_answer(
            query.text,
            found,
            similarities,
            passages,
            rarity=self.rarity(retriever, query.text),
            settings=self.answer_settings,
        )
        if answer is not None:
            doc = retriever.index.documents[answer.doc_id]
            answer = replace(
                answer, page=doc.page_at(answer.start), section=doc.section_at(answer.start)
            )
        return AskResult(
            question=query.text,
            answer=answer,
            passages=passages,
            answerable=answer is not None,
            confidence=conf,
        )

    @staticmethod
    def rarity(retriever: Retriever, question: str) -> dict[str, float]:
        """How rare each of the question's words is in the corpus (for the confidence)."""
        words = question_words(question)
        return dict(zip(words, retriever.index.lexical.rarity(words), strict=True))

    def sentence_similarities(
        self, retriever: Retriever, found: Sequence[Candidate], vector: np.ndarray
    ) -> np.ndarray:
        """Stored sentence vectors where the index has them (every index built by this
        version does); the model only for sentences it lacks."""
        sims = retriever.index.sentences.similarities(
            [(c.doc_id, c.start, c.end) for c in found], vector
        )
        missing = np.flatnonzero(np.isnan(sims))
        if len(missing):
            sims[missing] = self.embedder.encode([found[int(i)].text for i in missing]) @ vector
        return sims

    def documents(self) -> list[Document]:
        return sorted(self.index.documents.values(), key=lambda d: d.doc_id)

    def document(self, doc_id: str) -> Document:
        try:
            return self.index.documents[doc_id]
        except KeyError:
            raise DocumentNotFoundError(
                f"no document with id {doc_id!r}: GET /documents lists the ids"
            ) from None

    def health(self) -> Health:
        index = self.index
        return Health(
            documents=len(index.documents),
            chunks=len(index.chunks),
            model=self.embedder.identity.name,
        )
