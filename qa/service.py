"""The library behind every edge (HTTP, CLI, evaluation): load once, then answer."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from qa.answer.confidence import confidence, question_words
from qa.answer.reader import (
    ExtractiveReader,
    Reader,
    ReadSpan,
    reader_settings,
    reader_source,
)
from qa.answer.selection import (
    AnswerSettings,
    Candidate,
    Choice,
    answer_of,
    assess,
    candidates,
    choose,
    decide,
    sentence_of,
)
from qa.config import Settings
from qa.errors import DocumentNotFoundError
from qa.ingest.chunking import chunk_settings
from qa.ingest.indexing import expectation
from qa.search.batching import MicroBatchingEmbedder
from qa.search.embedding import Embedder, SentenceTransformerEmbedder, resolve_model_source
from qa.search.filters import validate
from qa.search.index import Index, read_manifest
from qa.search.repeats import distinct_search
from qa.search.rerank import (
    CrossEncoderReranker,
    Reranker,
    rerank,
    rerank_settings,
    reranker_source,
)
from qa.search.retrieval import Query, RetrievalSettings, Retriever, retrieval_settings
from qa.types import Answer, AskResult, Document, Passage, ShortAnswer

log = logging.getLogger(__name__)


#: Makes the embedder a service or a `qa` command uses; tests pass their own.
EmbedderFactory = Callable[[Settings], Embedder]


def load_embedder(settings: Settings) -> Embedder:
    """The configured sentence-transformers model (the default factory)."""
    return SentenceTransformerEmbedder(settings.model, precision=settings.precision)


def check_models(settings: Settings, *, embedder: bool = True, optional: bool = True) -> None:
    """Find every model the settings name (a Hugging Face name is fetched into the cache
    here when missing and online) and check its folder, before any loads: a wrong one is
    one clear error in milliseconds, not after seconds of loading the others."""
    if embedder:
        resolve_model_source(settings.model)
    if optional and settings.reranker is not None:
        reranker_source(settings.reranker)
    if optional and settings.reader is not None:
        reader_source(settings.reader)


def load_models(settings: Settings) -> tuple[Reranker | None, Reader | None]:
    """The optional reranker and reader that the settings name (torch loads only then)."""
    reranker: Reranker | None = None
    reader: Reader | None = None
    if settings.reranker is not None:
        reranker = CrossEncoderReranker(settings.reranker, rerank_settings(settings))
    if settings.reader is not None:
        reader = ExtractiveReader(settings.reader, reader_settings(settings))
    return reranker, reader


@dataclass
class AskTrace:
    """What one question cost, stage by stage, and whether it was answered: filled by
    `QAService.ask` for the edge that opened it (the HTTP metrics), recorded nowhere else."""

    stages: dict[str, float] = field(default_factory=dict)  # stage -> seconds
    answered: bool | None = None


#: The trace of the request being served, opened by the HTTP edge; None (the default)
#: records nothing. A context variable, so that each request sees its own even when the
#: service runs on a worker thread (which runs in a copy of the request's context).
ask_trace: ContextVar[AskTrace | None] = ContextVar("qa_ask_trace", default=None)


@dataclass(frozen=True)
class Health:
    documents: int
    chunks: int
    model: str
    reranker: str | None = None  # the optional models' folder names, when loaded
    reader: str | None = None


def _trace(clock: list[float], *, answered: bool) -> None:
    """Record the stages of one question in the open trace, if the edge opened one."""
    trace = ask_trace.get()
    if trace is None:
        return
    clock.append(time.perf_counter())
    trace.stages.update(
        {stage: clock[i + 1] - clock[i] for i, stage in enumerate(("encode", "search", "answer"))}
    )
    trace.answered = answered


class QAService:
    """Answers questions over one index with the embedder that built it."""

    def __init__(
        self,
        *,
        embedder: Embedder,
        index: Index,
        answer: AnswerSettings | None = None,
        retrieval: RetrievalSettings | None = None,
        reranker: Reranker | None = None,
        reader: Reader | None = None,
    ) -> None:
        self.embedder = embedder
        self.reranker = reranker
        self.reader = reader
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
        models: tuple[Reranker | None, Reader | None] | None = None,
    ) -> QAService:
        """Load the model and the index, checking that they belong together. Pass the
        `embedder` and the optional `models` to share them between services (one per
        collection) rather than load them again."""
        read_manifest(settings.index_dir)  # no index: say so before seconds of model loading
        # A wrong or missing model, too (those this call is to load).
        check_models(
            settings,
            embedder=embedder is None and embedder_factory is load_embedder,
            optional=models is None,
        )
        embedder = embedder or embedder_factory(settings)
        # Memory-mapped: worker processes share one copy of the vectors in the page cache.
        expect = expectation(embedder, chunk_settings(settings))
        index = Index.load(settings.index_dir, expect, mmap=True)
        reranker, reader = models if models is not None else load_models(settings)
        return cls(
            embedder=embedder,
            index=index,
            retrieval=retrieval_settings(settings),
            reranker=reranker,
            reader=reader,
        )

    @property
    def index(self) -> Index:
        return self.retriever.index

    def enable_micro_batching(self, *, max_batch: int) -> None:
        """Encode concurrent questions together (the server does this; the CLI need not)."""
        self.use_embedder(MicroBatchingEmbedder(self.embedder, max_batch=max_batch))

    def use_embedder(self, embedder: Embedder) -> None:
        """Encode with `embedder` from now on (the same model, wrapped: one micro-batching
        embedder shared by every collection's service)."""
        self.embedder = embedder
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
        _ = retriever.navigation
        if self.retrieval_settings.heading_weight or self.retrieval_settings.document_weight:
            _ = retriever.headings
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
        clock = [time.perf_counter()]
        vector = retriever.embed_question(query.text)
        clock.append(time.perf_counter())
        passages = self.search(retriever, query, vector)
        clock.append(time.perf_counter())
        found = candidates(passages, limit=self.answer_settings.passages)
        similarities = self.sentence_similarities(retriever, found, vector)
        rarity = self.rarity(retriever, query.text)
        choice = choose(query.text, found, similarities, passages, rarity, self.answer_settings)
        models: dict[str, float] = {}  # each loaded model's probability that the answer is right
        if choice is not None and self.reader is not None:
            read = self.reader.read(query.text, passages)
            if read is not None:
                choice = self.reader_choice(retriever, query.text, passages, read, vector, rarity)
                models["reader"] = read.p_answer
        if choice is not None and self.reranker is not None:
            rank = choice.candidate.passage_rank
            score = next(p.scores.rerank for p in passages if p.rank == rank)
            if score is not None:
                models["reranker"] = score
        answer, conf = decide(choice, self.answer_settings, list(models.values()))
        parts = {} if choice is None else {"builtin": self.builtin_confidence(choice), **models}
        withheld = None if answer is not None or choice is None else answer_of(choice, conf)
        _trace(clock, answered=answer is not None)
        return AskResult(
            question=query.text,
            answer=self.placed(retriever, answer),
            passages=passages,
            answerable=answer is not None,
            confidence=conf,
            confidence_parts=parts,
            withheld=self.placed(retriever, withheld),
        )

    @staticmethod
    def placed(retriever: Retriever, answer: Answer | None) -> Answer | None:
        """`answer` with the page and the section it starts in."""
        if answer is None:
            return None
        doc = retriever.index.documents[answer.doc_id]
        return replace(answer, page=doc.page_at(answer.start), section=doc.section_at(answer.start))

    def search(self, retriever: Retriever, query: Query, vector: np.ndarray) -> list[Passage]:
        """k passages of distinct texts, each with the other sources of its text in
        `also_in` (qa.search.repeats): ranked first, then merged, with more passages
        fetched than k so that k remain."""
        return distinct_search(
            lambda n: self.ranked(retriever, replace(query, k=n), vector),
            query.k,
            available=len(retriever.index.chunks),
        )

    def ranked(self, retriever: Retriever, query: Query, vector: np.ndarray) -> list[Passage]:
        """The ranked passages; with a reranker, the top candidates in its order (retrieval
        fetches that many even when k is smaller)."""
        if self.reranker is None:
            return retriever.search(query, vector)
        depth = max(query.k, self.reranker.settings.candidates)
        found = retriever.search(replace(query, k=depth), vector)
        scores = self.reranker.scores(query.text, [p.chunk.text for p in found])
        return rerank(found, scores, query.k)

    def reader_choice(
        self,
        retriever: Retriever,
        question: str,
        passages: Sequence[Passage],
        read: ReadSpan,
        vector: np.ndarray,
        rarity: Mapping[str, float],
    ) -> Choice:
        """The reader's span as the short answer, in the sentence that holds it."""
        sentence = sentence_of(passages[read.passage], read.start, read.end)
        similarity = float(self.sentence_similarities(retriever, [sentence], vector)[0])
        short = ShortAnswer(read.text, read.start, read.end)
        return assess(question, sentence, similarity, passages, rarity, short)

    def builtin_confidence(self, choice: Choice) -> float:
        return round(confidence(choice.features, self.answer_settings.calibration), 4)

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
            reranker=None if self.reranker is None else self.reranker.name,
            reader=None if self.reader is None else self.reader.name,
        )
