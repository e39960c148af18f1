"""Chunk and sentence vectors pooled from one pass of the model over each document.

Chunks overlap (by default half of each chunk is its neighbour's), so encoding
every chunk on its own runs most of the text through the model twice. Instead
each document is cut into windows one chunk stride long (max tokens - overlap),
at sentence boundaries and without overlap, and every window is encoded once. A
chunk's vector is then the mean of the contextual token embeddings inside the
chunk, taken from the windows that cover it; so is each sentence's. Every token
of the text costs one pass, and the chunk table stays exactly as chunking made it.

Why stride-long windows and not the model's 254 tokens: on the SQuAD slice's
development half, vectors pooled from 254-token windows lost 0.06 dense hit@1
(a token that saw a long stretch of neighbouring text pulls its chunk toward
it), while stride-long windows matched or beat the chunks encoded on their own.

Embedders that cannot hand out token embeddings (test fakes) encode every
chunk's own text instead, as before.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from qa.chunking import ChunkSettings, TokenCounter, chunk_text
from qa.embedding import Embedder, Progress, encode_with_spans, unit_rows
from qa.types import Chunk, Span

#: How chunk vectors are computed; stored with the chunking settings in the manifest,
#: so an index whose vectors were made another way asks for a rebuild.
POOLING_VERSION = "stride-windows-1"

Key = tuple[str, int, int]  # (doc_id, start, end) in the document's text


@runtime_checkable
class TokenPooler(Protocol):
    """An embedder that pools its token embeddings over character spans of each text."""

    def span_sums(
        self,
        texts: Sequence[str],
        spans: Sequence[Sequence[tuple[int, int]]],
        *,
        batch_size: int = 32,
        progress: Progress | None = None,
    ) -> list[tuple[np.ndarray, np.ndarray]]: ...


def document_windows(text: str, *, count: TokenCounter, max_tokens: int) -> list[Span]:
    """Consecutive, non-overlapping stretches of `text` of at most `max_tokens` tokens,
    cut at sentence boundaries the way chunks are (a longer sentence at word ones)."""
    settings = ChunkSettings(max_tokens=max_tokens, overlap_tokens=0)
    return [Span(c.start, c.end) for c in chunk_text("", text, count=count, settings=settings)]


def embed_chunks(
    embedder: Embedder,
    texts: Mapping[str, str],
    chunks: Sequence[Chunk],
    sentence_spans: Sequence[Sequence[tuple[int, int]]],
    *,
    window_tokens: int,
    batch_size: int = 32,
    progress: Progress | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """A unit vector per chunk and, per chunk, one per sentence span (relative to the
    chunk's text), as `encode_with_spans` gives them. `texts` maps each chunk's doc_id
    to the document's full text; windows hold at most `window_tokens` tokens (and never
    more than the model reads)."""
    if not isinstance(embedder, TokenPooler):
        return encode_with_spans(
            embedder,
            [c.text for c in chunks],
            sentence_spans,
            batch_size=batch_size,
            progress=progress,
        )
    keys = _span_keys(chunks, sentence_spans)
    size = max(1, min(window_tokens, embedder.identity.max_tokens))
    windows, pieces = _windows_and_pieces(embedder, texts, keys, size)
    sums = embedder.span_sums(
        [texts[d][w.start : w.end] for d, w in windows],
        [[(a, b) for _, a, b in p] for p in pieces],
        batch_size=batch_size,
        progress=progress,
    )
    total = np.zeros((len(keys), embedder.identity.dimension), dtype=np.float32)
    for window_pieces, (window_sums, _) in zip(pieces, sums, strict=True):
        for (row, _, _), vector in zip(window_pieces, window_sums, strict=True):
            total[row] += vector
    vectors = unit_rows(total)
    rows = {key: i for i, key in enumerate(keys)}
    sentences = [
        vectors[[rows[(c.doc_id, c.start + a, c.start + b)] for a, b in spans]].reshape(
            len(spans), -1
        )
        for c, spans in zip(chunks, sentence_spans, strict=True)
    ]
    return vectors[: len(chunks)], sentences


def _span_keys(
    chunks: Sequence[Chunk], sentence_spans: Sequence[Sequence[tuple[int, int]]]
) -> list[Key]:
    """Every span to pool, in document offsets: the chunks first, in their order (a chunk
    and a sentence with the same span share a row), then each distinct sentence."""
    keys: list[Key] = [(c.doc_id, c.start, c.end) for c in chunks]
    seen = set(keys)
    for c, spans in zip(chunks, sentence_spans, strict=True):
        for a, b in spans:
            key = (c.doc_id, c.start + a, c.start + b)
            if key not in seen:
                seen.add(key)
                keys.append(key)
    return keys


def _windows_and_pieces(
    embedder: Embedder, texts: Mapping[str, str], keys: Sequence[Key], window_tokens: int
) -> tuple[list[tuple[str, Span]], list[list[tuple[int, int, int]]]]:
    """The windows of every document that has a span, and per window the pieces of
    spans it covers as (span row, start, end) relative to the window's text."""
    windows: list[tuple[str, Span]] = []
    pieces: list[list[tuple[int, int, int]]] = []
    by_doc: dict[str, list[tuple[int, Key]]] = {}
    for row, key in enumerate(keys):
        by_doc.setdefault(key[0], []).append((row, key))
    for doc_id, spans in by_doc.items():
        cut = document_windows(texts[doc_id], count=embedder.count_tokens, max_tokens=window_tokens)
        starts = [w.start for w in cut]
        mine: list[list[tuple[int, int, int]]] = [[] for _ in cut]
        for row, (_, a, b) in spans:
            # Windows tile the text between them, so a span overlaps a run of windows.
            for j in range(max(0, bisect_right(starts, a) - 1), len(cut)):
                w = cut[j]
                if w.start >= b:
                    break
                if w.end > a:
                    mine[j].append((row, max(a, w.start) - w.start, min(b, w.end) - w.start))
        for w, p in zip(cut, mine, strict=True):
            if p:
                windows.append((doc_id, w))
                pieces.append(p)
    return windows, pieces


def window_tokens(settings: ChunkSettings) -> int:
    """One chunk stride: with half-overlapping chunks, every chunk is two windows."""
    return settings.max_tokens - settings.overlap_tokens
