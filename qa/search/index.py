"""The only import of faiss: the on-disk index, saved atomically and checked on load.

Layout of an index folder::

    CURRENT             name of the live version folder (replaced atomically)
    v-<stamp>/          one complete version: manifest.json, vectors.faiss,
                        chunks.json, documents.json, lexical/ (BM25)
    .lock               held by the one process allowed to write

A save writes a new version folder, fsyncs it, then swaps CURRENT with
os.replace: a crash or a kill at any point leaves the previous version loadable.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from qa.config import Settings
from qa.errors import (
    IndexCorruptError,
    IndexMismatchError,
    IndexNotFoundError,
)
from qa.search.fields import prose
from qa.search.lexical import FILES as LEXICAL_FILES
from qa.search.lexical import LexicalIndex
from qa.search.sentences import FILES as SENTENCE_FILES
from qa.search.sentences import SentenceTable
from qa.storage import LOCK as LOCK
from qa.storage import file_fingerprint, write_atomic, write_json
from qa.storage import fsync_dir as fsync_dir
from qa.storage import write_lock as write_lock
from qa.types import Chunk, Document, PageRange, Section

FORMAT_VERSION = 1
CURRENT = "CURRENT"
_FILES = ("vectors.faiss", "chunks.json", "documents.json", *LEXICAL_FILES, *SENTENCE_FILES)
REBUILD_HINT = "run `qa index --rebuild`"


@dataclass(frozen=True)
class Manifest:
    model: Mapping[str, Any]
    chunking: Mapping[str, Any]
    documents: Mapping[str, str]  # doc_id -> content hash
    chunks: int
    index_type: str = "flat-ip"
    index_params: Mapping[str, int] = field(default_factory=dict)
    files: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    created_at: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "created_at": self.created_at,
            "model": dict(self.model),
            "chunking": dict(self.chunking),
            "index_type": self.index_type,
            "index_params": dict(self.index_params),
            "chunks": self.chunks,
            "documents": dict(self.documents),
            "files": {k: dict(v) for k, v in self.files.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Manifest:
        return cls(
            format_version=int(data["format_version"]),
            created_at=float(data.get("created_at", 0.0)),
            model=dict(data["model"]),
            chunking=dict(data["chunking"]),
            index_type=str(data["index_type"]),
            index_params=dict(data.get("index_params", {})),
            chunks=int(data["chunks"]),
            documents=dict(data["documents"]),
            files=dict(data["files"]),
        )


@dataclass(frozen=True)
class IndexSettings:
    """Which FAISS index to build. Exact search up to `ann_threshold` chunks; above it an
    inverted-file index, which benchmarks/bench_scale.py shows keeps recall@10 >= 0.95
    against exact search at a fraction of its latency."""

    ann_threshold: int = 100_000
    nprobe: int = 32

    def describe(self, n: int, dim: int) -> tuple[str, dict[str, int]]:
        if n < self.ann_threshold:
            return "flat-ip", {}
        # ~4 sqrt(N) lists is FAISS's usual advice; k-means needs ~40 points per list.
        nlist = max(1, min(int(4 * n**0.5), n // 40))
        return "ivf-flat", {"nlist": nlist, "nprobe": min(self.nprobe, nlist)}


def build_faiss(
    vectors: np.ndarray, dim: int, settings: IndexSettings
) -> tuple[faiss.Index, str, dict[str, int]]:
    kind, params = settings.describe(len(vectors), dim)
    data = np.ascontiguousarray(vectors, dtype=np.float32)
    if kind == "flat-ip":
        index: faiss.Index = faiss.IndexFlatIP(dim)  # inner product = cosine on unit vectors
    else:
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, params["nlist"], faiss.METRIC_INNER_PRODUCT)
        index.train(data)
        index.nprobe = params["nprobe"]
        index.make_direct_map()  # reconstruct() reuses vectors in incremental builds
    if len(data):
        index.add(data)
    return index, kind, params


@dataclass(frozen=True)
class Expectation:
    """What the running configuration needs an index to have been built with."""

    model: Mapping[str, Any]
    chunking: Mapping[str, Any]

    def check(self, manifest: Manifest, where: Path) -> None:
        for what, want, have in (
            ("model", self.model, manifest.model),
            ("chunking settings", self.chunking, manifest.chunking),
        ):
            if dict(want) != dict(have):
                diff = ", ".join(
                    f"{k}: index has {have.get(k)!r}, configured {want.get(k)!r}"
                    for k in sorted(set(want) | set(have))
                    if want.get(k) != have.get(k)
                )
                raise IndexMismatchError(
                    f"the index in {where} was built with other {what} ({diff}): {REBUILD_HINT}"
                )


class Index:
    """Vectors in FAISS and BM25 over the same rows, plus the table that maps each row
    back to a document span."""

    def __init__(
        self,
        *,
        vectors: faiss.Index,
        lexical: LexicalIndex,
        sentences: SentenceTable,
        chunks: list[Chunk],
        documents: Mapping[str, Document],
        manifest: Manifest,
    ) -> None:
        if vectors.ntotal != len(chunks):
            raise IndexCorruptError(
                f"the index holds {vectors.ntotal} vectors for {len(chunks)} chunks: "
                + REBUILD_HINT
            )
        if lexical.size != len(chunks):
            raise IndexCorruptError(
                f"the lexical index holds {lexical.size} rows for {len(chunks)} chunks: "
                + REBUILD_HINT
            )
        self.faiss = vectors
        self.lexical = lexical
        self.sentences = sentences
        self._doc_rows: dict[str, list[int]] | None = None
        self.chunks = chunks
        self.documents = dict(documents)
        self.manifest = manifest

    @classmethod
    def create(
        cls,
        *,
        vectors: np.ndarray,
        chunks: list[Chunk],
        documents: Mapping[str, Document],
        model: Mapping[str, Any],
        chunking: Mapping[str, Any],
        sentences: SentenceTable | None = None,
        settings: IndexSettings | None = None,
    ) -> Index:
        dim = int(model["dimension"])
        flat, kind, params = build_faiss(vectors, dim, settings or IndexSettings())
        manifest = Manifest(
            model=dict(model),
            chunking=dict(chunking),
            documents={d.doc_id: d.content_hash for d in documents.values()},
            chunks=len(chunks),
            index_type=kind,
            index_params=params,
        )
        lexical = LexicalIndex.build([prose(c.text) for c in chunks])
        return cls(
            vectors=flat,
            lexical=lexical,
            sentences=sentences or SentenceTable.empty(dim),
            chunks=chunks,
            documents=documents,
            manifest=manifest,
        )

    @property
    def dimension(self) -> int:
        return int(self.faiss.d)

    def search(
        self, queries: np.ndarray, k: int, *, allowed: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k (scores, rows) per query row; rows are -1 where fewer than k exist.

        `allowed` (row numbers) restricts the search itself, so a filter still finds k
        matches when k exist, rather than filtering a fixed top-k afterwards.
        """
        q = np.ascontiguousarray(queries, dtype=np.float32)
        k = min(k, len(self.chunks))
        if k < 1 or (allowed is not None and len(allowed) == 0):
            return np.zeros((len(q), 0), np.float32), np.zeros((len(q), 0), np.int64)
        if allowed is None:
            scores, rows = self.faiss.search(q, k)
        else:
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            params: Any
            if isinstance(self.faiss, faiss.IndexIVF):
                # Probe every list: a narrow filter must still find k matches when k exist.
                params = faiss.SearchParametersIVF(  # type: ignore[call-arg]
                    sel=selector, nprobe=self.faiss.nlist
                )
            else:
                params = faiss.SearchParameters(sel=selector)  # type: ignore[call-arg]
            scores, rows = self.faiss.search(q, k, params=params)
        return scores, rows

    def vectors(self, rows: list[int]) -> np.ndarray:
        if not rows:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # One call for all rows (IVF indexes keep a direct map for it): 60 rows in 5 us,
        # against 0.1 ms row by row.
        out: np.ndarray = self.faiss.reconstruct_batch(np.asarray(rows, dtype=np.int64))
        return out

    def rows_by_document(self) -> Mapping[str, list[int]]:
        """Each document's chunk rows, computed once: filtered searches ask on every query."""
        if self._doc_rows is None:
            rows: dict[str, list[int]] = {}
            for row, chunk in enumerate(self.chunks):
                rows.setdefault(chunk.doc_id, []).append(row)
            self._doc_rows = rows
        return self._doc_rows

    # ----- persistence -------------------------------------------------------------------

    def save(self, index_dir: Path) -> Path:
        """Write a new version and make it current atomically. Returns its folder."""
        index_dir.mkdir(parents=True, exist_ok=True)
        tmp = index_dir / f".tmp-{uuid.uuid4().hex}"
        tmp.mkdir()
        try:
            files = self._write_files(tmp)
            manifest = Manifest(
                **{**self.manifest.__dict__, "files": files, "created_at": time.time()}
            )
            write_json(tmp / "manifest.json", manifest.to_json())
            fsync_dir(tmp)
            final = index_dir / f"v-{time.time_ns()}-{uuid.uuid4().hex[:6]}"
            os.rename(tmp, final)
            write_atomic(index_dir / CURRENT, final.name.encode())
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self.manifest = manifest
        _prune(index_dir, keep={final.name})
        return final

    def _write_files(self, folder: Path) -> dict[str, dict[str, Any]]:
        faiss.write_index(self.faiss, str(folder / "vectors.faiss"))
        self.lexical.save(folder)
        self.sentences.save(folder)
        write_json(folder / "chunks.json", [[c.doc_id, c.start, c.end] for c in self.chunks])
        write_json(
            folder / "documents.json",
            [
                {
                    "doc_id": d.doc_id,
                    "title": d.title,
                    "metadata": dict(d.metadata),
                    "content_hash": d.content_hash,
                    "text": d.text,
                    "format": d.format,
                    "source_hash": d.source_hash,
                    "pages": [[p.page, p.start, p.end] for p in d.pages],
                    "sections": [[s.start, s.level, s.title] for s in d.sections],
                }
                for d in sorted(self.documents.values(), key=lambda d: d.doc_id)
            ],
        )
        for name in _FILES:
            with (folder / name).open("rb+") as fh:
                os.fsync(fh.fileno())
        return {name: file_fingerprint(folder / name) for name in _FILES}

    @classmethod
    def load(
        cls, index_dir: Path, expect: Expectation | None = None, *, mmap: bool = False
    ) -> Index:
        folder = current_version(index_dir)
        manifest = _read_manifest(folder)
        if expect is not None:
            expect.check(manifest, index_dir)
        for name in _FILES:
            _verify_file(folder / name, manifest.files.get(name))
        try:
            # mmap: the stored vectors stay in the page cache, read-only and shared by every
            # process that maps them. IO_FLAG_MMAP_IFC maps flat codes (IndexFlat, HNSW's
            # storage, IVF lists); IO_FLAG_MMAP maps only IVF lists, and both together fail.
            flags = faiss.IO_FLAG_MMAP_IFC if mmap else 0
            vectors = faiss.read_index(str(folder / "vectors.faiss"), flags)
            documents = _load_documents(folder / "documents.json")
            chunks = _load_chunks(folder / "chunks.json", documents)
            lexical = LexicalIndex.load(folder, len(chunks), mmap=mmap)
            sentences = SentenceTable.load(folder, mmap=mmap)
        except (RuntimeError, ValueError, KeyError, TypeError, OSError) as exc:
            raise IndexCorruptError(
                f"the index in {index_dir} is damaged ({exc}): " + REBUILD_HINT
            ) from exc
        return cls(
            vectors=vectors,
            lexical=lexical,
            sentences=sentences,
            chunks=chunks,
            documents=documents,
            manifest=manifest,
        )


def current_version(index_dir: Path) -> Path:
    pointer = index_dir / CURRENT
    if not pointer.is_file():
        raise IndexNotFoundError(
            f"no index in {index_dir}: run `qa index` to build it (or set QA_INDEX_DIR)"
        )
    name = pointer.read_text(encoding="utf-8").strip()
    folder = index_dir / name
    if not name.startswith("v-") or "/" in name or not folder.is_dir():
        raise IndexCorruptError(f"{pointer} names a missing version {name!r}: " + REBUILD_HINT)
    return folder


def read_documents(index_dir: Path) -> dict[str, Document]:
    """The current version's documents alone (checked against the manifest), for a corpus
    scan that reuses unchanged files without loading vectors."""
    folder = current_version(index_dir)
    manifest = _read_manifest(folder)
    _verify_file(folder / "documents.json", manifest.files.get("documents.json"))
    try:
        return _load_documents(folder / "documents.json")
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise IndexCorruptError(
            f"the index in {index_dir} is damaged ({exc}): " + REBUILD_HINT
        ) from exc


def read_manifest(index_dir: Path) -> Manifest:
    return _read_manifest(current_version(index_dir))


def same_version(a: Manifest, b: Manifest) -> bool:
    """Whether two manifests describe one saved version: saved at the same moment with
    the same files (what a writer and the workers check before reusing what they hold)."""
    return a.created_at == b.created_at and dict(a.files) == dict(b.files)


def _read_manifest(folder: Path) -> Manifest:
    try:
        manifest = Manifest.from_json(json.loads((folder / "manifest.json").read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(
            f"the manifest in {folder} is unreadable ({exc}): " + REBUILD_HINT
        ) from exc
    if manifest.format_version != FORMAT_VERSION:
        raise IndexMismatchError(
            f"the index in {folder.parent} has format {manifest.format_version}, this version "
            f"of qa reads format {FORMAT_VERSION}: " + REBUILD_HINT
        )
    return manifest


def _load_documents(path: Path) -> dict[str, Document]:
    rows = json.loads(path.read_text("utf-8"))
    return {
        r["doc_id"]: Document(
            doc_id=r["doc_id"],
            title=r["title"],
            text=r["text"],
            content_hash=r["content_hash"],
            metadata=r["metadata"],
            # Indexes from before other formats existed hold text documents only.
            format=r.get("format", "text"),
            source_hash=r.get("source_hash", ""),
            pages=tuple(PageRange(int(n), int(a), int(b)) for n, a, b in r.get("pages", ())),
            sections=tuple(Section(int(a), int(lv), str(t)) for a, lv, t in r.get("sections", ())),
        )
        for r in rows
    }


def _load_chunks(path: Path, documents: Mapping[str, Document]) -> list[Chunk]:
    chunks = []
    for doc_id, start, end in json.loads(path.read_text("utf-8")):
        text = documents[doc_id].text
        if not 0 <= start < end <= len(text):
            raise ValueError(f"chunk {doc_id}[{start}:{end}] lies outside its document")
        chunks.append(Chunk(doc_id=doc_id, start=start, end=end, text=text[start:end]))
    return chunks


def _verify_file(path: Path, expected: Mapping[str, Any] | None) -> None:
    if expected is None or not path.is_file():
        raise IndexCorruptError(f"index file {path} is missing: " + REBUILD_HINT)
    if path.stat().st_size != expected["size"]:
        raise IndexCorruptError(f"index file {path} is truncated or changed: " + REBUILD_HINT)
    if file_fingerprint(path)["sha256"] != expected["sha256"]:
        raise IndexCorruptError(f"index file {path} does not match its checksum: " + REBUILD_HINT)


def _prune(index_dir: Path, keep: set[str]) -> None:
    """Drop unfinished writes and old versions. Runs under the write lock."""
    for entry in index_dir.iterdir():
        if entry.name in keep or not entry.is_dir():
            continue
        if entry.name.startswith(("v-", ".tmp-")):
            shutil.rmtree(entry, ignore_errors=True)


def index_settings(settings: Settings) -> IndexSettings:
    return IndexSettings(ann_threshold=settings.ann_threshold, nprobe=settings.ivf_nprobe)
