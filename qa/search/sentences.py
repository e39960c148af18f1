"""Sentence vectors stored with the index, so choosing the answer sentence costs a few
dot products instead of a model call per sentence at question time.

A sentence is keyed by (doc_id, start, end) in its document, exactly as
`qa.answer.selection.candidates` finds it inside a chunk. Vectors are kept as float16:
half the memory, and the cosines move by less than 1e-3.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from qa.text import split_sentences
from qa.types import Chunk

Key = tuple[str, int, int]
_GRAIN = 32_768  # torch runs an elementwise op on fewer numbers on the calling thread
FILES = ("sentences.json", "sentences.npy")


def chunk_sentence_spans(chunks: Sequence[Chunk]) -> list[list[tuple[int, int]]]:
    """Per chunk, its sentences as spans relative to the chunk text."""
    return [[(s.start, s.end) for s in split_sentences(c.text)] for c in chunks]


class SentenceTable:
    def __init__(self, keys: list[Key], vectors: np.ndarray) -> None:
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} sentences but {len(vectors)} sentence vectors")
        self.keys = keys
        self.vectors = vectors.astype(np.float16, copy=False)
        self._rows = {k: i for i, k in enumerate(keys)}

    @classmethod
    def empty(cls, dimension: int) -> SentenceTable:
        return cls([], np.zeros((0, dimension), np.float16))

    @classmethod
    def from_chunks(
        cls,
        chunks: Sequence[Chunk],
        spans: Sequence[Sequence[tuple[int, int]]],
        vectors: Sequence[np.ndarray],
        dimension: int,
    ) -> SentenceTable:
        """One row per distinct sentence; overlapping chunks repeat sentences."""
        keys: list[Key] = []
        rows: list[np.ndarray] = []
        seen: set[Key] = set()
        for chunk, chunk_spans, chunk_vectors in zip(chunks, spans, vectors, strict=True):
            for (a, b), v in zip(chunk_spans, chunk_vectors, strict=True):
                key = (chunk.doc_id, chunk.start + a, chunk.start + b)
                if key not in seen:
                    seen.add(key)
                    keys.append(key)
                    rows.append(v)
        stacked = np.stack(rows) if rows else np.zeros((0, dimension), np.float32)
        return cls(keys, stacked)

    @classmethod
    def concat(cls, parts: Sequence[SentenceTable], dimension: int) -> SentenceTable:
        keys = [k for p in parts for k in p.keys]
        vectors = [p.vectors for p in parts if len(p.keys)]
        return cls(keys, np.concatenate(vectors) if vectors else np.zeros((0, dimension)))

    def by_document(self) -> dict[str, SentenceTable]:
        rows: dict[str, list[int]] = {}
        for i, key in enumerate(self.keys):
            rows.setdefault(key[0], []).append(i)
        return {
            d: SentenceTable([self.keys[i] for i in r], self.vectors[r]) for d, r in rows.items()
        }

    def rows_float32(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        """The vectors of `rows` as float32. torch widens float16 with the CPU's vector
        instructions, numpy one number at a time: for the 500 or so sentences of a
        reply's candidates, 0.06 ms against 0.35 ms, the same numbers (widening is
        exact). Slices of under 32,768 numbers (torch's grain size) are converted on
        this thread: split across torch's threads they were slower under load, and
        server threads must not wait on each other. torch is loaded with the encoder."""
        import torch  # deferred: reading an index alone does not need it

        picked = np.ascontiguousarray(self.vectors[np.asarray(rows, dtype=np.int64)])
        out = np.empty(picked.shape, dtype=np.float32)
        source, target = torch.from_numpy(picked), torch.from_numpy(out)
        step = max(1, _GRAIN // max(1, picked.shape[1]))
        for at in range(0, len(picked), step):
            target[at : at + step].copy_(source[at : at + step])
        return out

    def similarities(self, keys: Sequence[Key], query: np.ndarray) -> np.ndarray:
        """Cosine of each key's sentence with `query`; NaN where a key is not stored."""
        out = np.full(len(keys), np.nan, dtype=np.float32)
        rows = [(i, self._rows[k]) for i, k in enumerate(keys) if k in self._rows]
        if rows:
            at, stored = zip(*rows, strict=True)
            out[list(at)] = self.rows_float32(stored) @ query
        return out

    def save(self, folder: Path) -> None:
        (folder / "sentences.json").write_text(
            json.dumps([list(k) for k in self.keys], ensure_ascii=False, separators=(",", ":")),
            encoding="utf-8",
        )
        with (folder / "sentences.npy").open("wb") as fh:
            np.save(fh, self.vectors, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, *, mmap: bool = False) -> SentenceTable:
        keys = [
            (str(d), int(a), int(b))
            for d, a, b in json.loads((folder / "sentences.json").read_text("utf-8"))
        ]
        # mmap: shared read-only pages across worker processes, like the FAISS vectors.
        vectors = np.load(
            folder / "sentences.npy", allow_pickle=False, mmap_mode="r" if mmap else None
        )
        return cls(keys, vectors)
