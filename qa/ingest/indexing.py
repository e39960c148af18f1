"""`qa index`: corpus to index, embedding only what changed since the last build."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from qa.errors import IndexMismatchError, IndexNotFoundError
from qa.ingest.chunking import SPLITTER_VERSION, ChunkSettings, chunk_document
from qa.ingest.corpus import CorpusScan, scan_corpus
from qa.ingest.formats import EXTRACTION_VERSION, Limits
from qa.ingest.formats.worker import Reader
from qa.ingest.originals import OriginalStore
from qa.search.embedding import Embedder, Progress, check_chunk_size, encode_with_spans
from qa.search.fields import RETRIEVAL_TEXT_VERSION, encoder_text
from qa.search.index import (
    Expectation,
    Index,
    IndexSettings,
    read_documents,
    read_manifest,
    write_lock,
)
from qa.search.sentences import SentenceTable, chunk_sentence_spans
from qa.text import TOKENIZER_VERSION
from qa.types import Chunk, Document


@dataclass(frozen=True)
class IndexStats:
    documents: int
    chunks: int
    added: int
    updated: int
    removed: int
    unchanged: int
    embedded_chunks: int
    seconds: float

    def summary(self) -> str:
        return (
            f"indexed {self.documents} documents, {self.chunks} chunks in {self.seconds:.1f} s "
            f"({self.added} added, {self.updated} updated, {self.removed} removed, "
            f"{self.unchanged} unchanged; {self.embedded_chunks} chunks embedded)"
        )


def chunking_identity(settings: ChunkSettings) -> dict[str, Any]:
    return {
        "max_tokens": settings.max_tokens,
        "overlap_tokens": settings.overlap_tokens,
        "splitter_version": SPLITTER_VERSION,
        "lexical_tokenizer": TOKENIZER_VERSION,
        "extraction_version": EXTRACTION_VERSION,
        # What the encoder and BM25 read of a chunk (qa.search.fields): a change re-embeds.
        "retrieval_text": RETRIEVAL_TEXT_VERSION,
    }


def expectation(embedder: Embedder, settings: ChunkSettings) -> Expectation:
    return Expectation(model=embedder.identity.as_dict(), chunking=chunking_identity(settings))


def build_index(
    documents: Sequence[Document],
    *,
    embedder: Embedder,
    settings: ChunkSettings,
    previous: Index | None = None,
    batch_size: int = 32,
    progress: Progress | None = None,
    index_settings: IndexSettings | None = None,
) -> tuple[Index, IndexStats]:
    """A new index over `documents`, reusing the vectors of documents that did not change.

    `previous` must have been built with the same model and chunking settings.
    """
    started = time.perf_counter()
    check_chunk_size(embedder.identity, settings.max_tokens)
    old_docs = previous.documents if previous else {}
    ordered = sorted(documents, key=lambda d: d.doc_id)
    if len({d.doc_id for d in ordered}) != len(ordered):
        raise ValueError("two documents share one doc_id")

    fresh = [d for d in ordered if _changed(d, old_docs)]
    new_chunks = {
        d.doc_id: chunk_document(d, count=embedder.count_tokens, settings=settings) for d in fresh
    }
    flat = [c for d in fresh for c in new_chunks[d.doc_id]]
    spans = chunk_sentence_spans(flat)
    texts, shifted = _encoder_inputs(fresh, flat, spans)
    new_vectors, sentence_vectors = encode_with_spans(
        embedder, texts, shifted, batch_size=batch_size, progress=progress
    )
    dim = embedder.identity.dimension
    fresh_sentences = SentenceTable.from_chunks(flat, spans, sentence_vectors, dim)
    chunks, parts = _assemble(
        ordered, new_chunks, new_vectors, previous.rows_by_document() if previous else {}, previous
    )
    index = Index.create(
        vectors=np.concatenate(parts) if parts else np.zeros((0, dim), np.float32),
        chunks=chunks,
        documents={d.doc_id: d for d in ordered},
        model=embedder.identity.as_dict(),
        chunking=chunking_identity(settings),
        sentences=_sentences(ordered, set(new_chunks), fresh_sentences, previous, dim),
        settings=index_settings,
    )
    stats = _stats(ordered, fresh, old_docs, chunks=len(chunks), embedded=len(flat))
    return index, replace(stats, seconds=time.perf_counter() - started)


def _encoder_inputs(
    fresh: Sequence[Document], chunks: Sequence[Chunk], spans: Sequence[Sequence[tuple[int, int]]]
) -> tuple[list[str], list[list[tuple[int, int]]]]:
    """What the encoder reads of each chunk (its heading context, then its prose: see
    qa.search.fields) and the chunk's sentence spans shifted past the prefix."""
    by_id = {d.doc_id: d for d in fresh}
    texts: list[str] = []
    shifted: list[list[tuple[int, int]]] = []
    for chunk, chunk_spans in zip(chunks, spans, strict=True):
        text, offset = encoder_text(by_id[chunk.doc_id], chunk)
        texts.append(text)
        shifted.append([(a + offset, b + offset) for a, b in chunk_spans])
    return texts, shifted


def _sentences(
    ordered: Sequence[Document],
    fresh_ids: set[str],
    fresh: SentenceTable,
    previous: Index | None,
    dim: int,
) -> SentenceTable:
    """The sentence table in document order: this run's for the documents it embedded,
    the previous index's for the rest."""
    new = fresh.by_document()
    old = previous.sentences.by_document() if previous else {}
    tables = [t for d in ordered if (t := (new if d.doc_id in fresh_ids else old).get(d.doc_id))]
    return SentenceTable.concat(tables, dim)


def _stats(
    ordered: Sequence[Document],
    fresh: Sequence[Document],
    old_docs: Mapping[str, Document],
    *,
    chunks: int,
    embedded: int,
) -> IndexStats:
    current = {d.doc_id for d in ordered}
    return IndexStats(
        documents=len(ordered),
        chunks=chunks,
        added=sum(1 for d in fresh if d.doc_id not in old_docs),
        updated=sum(1 for d in fresh if d.doc_id in old_docs),
        removed=sum(1 for doc_id in old_docs if doc_id not in current),
        unchanged=len(ordered) - len(fresh),
        embedded_chunks=embedded,
        seconds=0.0,
    )


def _changed(doc: Document, old_docs: Mapping[str, Document]) -> bool:
    old = old_docs.get(doc.doc_id)
    return old is None or old.content_hash != doc.content_hash


def _assemble(
    ordered: Sequence[Document],
    new_chunks: Mapping[str, list[Chunk]],
    new_vectors: np.ndarray,
    old_rows: Mapping[str, list[int]],
    previous: Index | None,
) -> tuple[list[Chunk], list[np.ndarray]]:
    """Chunks and vector blocks in document order: new ones from this run, the rest reused."""
    chunks: list[Chunk] = []
    parts: list[np.ndarray] = []
    offset = 0
    for doc in ordered:
        if doc.doc_id in new_chunks:
            mine = new_chunks[doc.doc_id]
            chunks.extend(mine)
            parts.append(new_vectors[offset : offset + len(mine)])
            offset += len(mine)
        elif previous is not None:
            rows = old_rows.get(doc.doc_id, [])
            chunks.extend(previous.chunks[r] for r in rows)
            parts.append(previous.vectors(rows))
    return chunks, parts


def load_previous(index_dir: Path, expect: Expectation, *, rebuild: bool) -> Index | None:
    """The index to build on, None to start over; a mismatch asks for --rebuild."""
    if rebuild:
        return None
    try:
        return Index.load(index_dir, expect)
    except IndexNotFoundError:
        return None


def reusable_documents(index_dir: Path, *, rebuild: bool) -> dict[str, Document]:
    """The documents of the index being updated, for a corpus scan to reuse where a file's
    bytes are unchanged; none when starting over or when they were extracted otherwise."""
    if rebuild:
        return {}
    try:
        manifest = read_manifest(index_dir)
    except (IndexNotFoundError, IndexMismatchError):
        return {}
    if manifest.chunking.get("extraction_version") != EXTRACTION_VERSION:
        return {}
    return read_documents(index_dir)


def update_index(
    documents: Sequence[Document],
    *,
    index_dir: Path,
    embedder: Embedder,
    settings: ChunkSettings,
    rebuild: bool = False,
    batch_size: int = 32,
    progress: Progress | None = None,
    index_settings: IndexSettings | None = None,
) -> IndexStats:
    """Bring the index in `index_dir` up to date with `documents`, under the write lock."""
    with write_lock(index_dir):
        previous = load_previous(index_dir, expectation(embedder, settings), rebuild=rebuild)
        index, stats = build_index(
            documents,
            embedder=embedder,
            settings=settings,
            previous=previous,
            batch_size=batch_size,
            progress=progress,
            index_settings=index_settings,
        )
        index.save(index_dir)
    return stats


def index_corpus(
    corpus_dir: Path,
    *,
    index_dir: Path,
    embedder: Embedder,
    settings: ChunkSettings,
    limits: Limits,
    rebuild: bool = False,
    batch_size: int = 32,
    progress: Progress | None = None,
    index_settings: IndexSettings | None = None,
    readers: Sequence[Reader] | None = None,
) -> tuple[IndexStats, CorpusScan]:
    """`qa index`: scan the corpus folder, reusing the stored document of every file whose
    bytes did not change, then bring the index up to date. The scan's `skipped` says which
    files were not read and why. `readers` read the files when given (see scan_corpus), and
    are closed when the scan ends."""
    # Read outside the write lock: a stored document is a function of its file's bytes, so
    # one written meanwhile by another writer is as good as the one read here.
    known = reusable_documents(index_dir, rebuild=rebuild)
    try:
        scan = scan_corpus(corpus_dir, known=known, limits=limits, readers=readers)
    finally:
        for reader in readers or ():  # done: on Ray, their CPUs go to embedding next
            reader.close()
    stats = update_index(
        scan.documents,
        index_dir=index_dir,
        embedder=embedder,
        settings=settings,
        rebuild=rebuild,
        batch_size=batch_size,
        progress=progress,
        index_settings=index_settings,
    )
    store = OriginalStore(index_dir)
    if store.root.is_dir():  # uploads of documents this build removed
        store.prune_to_index()
    return stats, scan
