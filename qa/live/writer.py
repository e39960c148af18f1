"""The writer behind live ingestion: add, replace and delete documents while the service
answers questions.

One write, under a process lock and the index's file lock:

1. start from the index on disk (the live one when it is that version),
2. build a new Index with `build_index` (only the new document is embedded; dense and
   lexical halves stay in step because both are built there),
3. stage the document's file in the corpus folder, save the index (a new version
   folder and an atomic CURRENT swap), make it live with `swap_index`, then move the
   staged file into place.

A failure before the save leaves the disk, the corpus folder and the live index as
they were. Readers never wait: they keep the index they started with.

The corpus folder is mirrored (QA_SYNC_CORPUS, on by default) so that `qa index`,
which rebuilds the index from that folder, keeps what the API added and does not
bring back what it deleted. A document's corpus file is written so that `qa index`
reads back exactly the document the API indexed.

The HTTP edge (`qa.api.routes_write`) calls it; nothing here imports the web stack.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from qa.config import Settings
from qa.errors import CorpusSyncError, DocumentNotFoundError
from qa.ingest.chunking import ChunkSettings, chunk_settings
from qa.ingest.doc_rules import Prepared
from qa.ingest.indexing import build_index, expectation
from qa.ingest.originals import OriginalStore
from qa.live.corpus_mirror import CorpusMirror, Staged, storage_error
from qa.search.index import Index, read_manifest, same_version, write_lock
from qa.service import QAService
from qa.types import Document

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestResult:
    doc_id: str
    title: str
    chunks: int
    status: Literal["created", "replaced", "unchanged"]
    documents: int


@dataclass(frozen=True)
class DeleteResult:
    doc_id: str
    documents: int


class Ingestor:
    """Serialised writes to one service's index (and corpus folder)."""

    def __init__(
        self,
        service: QAService,
        *,
        index_dir: Path,
        chunking: ChunkSettings,
        batch_size: int = 32,
        mirror: CorpusMirror | None = None,
    ) -> None:
        self.service = service
        self.index_dir = index_dir
        self.chunking = chunking
        self.batch_size = batch_size
        self.mirror = mirror
        self._lock = threading.Lock()  # writers in this process queue here...

    @classmethod
    def from_settings(cls, service: QAService, settings: Settings) -> Ingestor:
        return cls(
            service,
            index_dir=settings.index_dir,
            chunking=chunk_settings(settings),
            batch_size=settings.batch_size,
            mirror=CorpusMirror(settings.corpus_dir) if settings.sync_corpus else None,
        )

    def add(self, prepared: Prepared) -> IngestResult:
        doc = prepared.document
        with self._lock, _index_lock(self.index_dir):  # ...other processes get a 409
            base = self._base()
            old = base.documents.get(doc.doc_id)
            staged = self.mirror.stage(doc.doc_id, prepared.file_bytes) if self.mirror else None
            try:
                if old is not None and old.content_hash == doc.content_hash:
                    status: Literal["created", "replaced", "unchanged"] = "unchanged"
                    new = base
                else:
                    status = "created" if old is None else "replaced"
                    new = self._build([*_others(base, doc.doc_id), doc], base)
                    self._keep_original(prepared.original)
                    self._save(new)
                    self._prune_originals(new)
            except BaseException:
                if staged:
                    staged.discard()
                raise
            self.service.swap_index(new)
            if staged:
                self._commit(staged)
        chunks = len(new.rows_by_document().get(doc.doc_id, []))
        return IngestResult(doc.doc_id, doc.title, chunks, status, len(new.documents))

    def delete(self, doc_id: str) -> DeleteResult:
        with self._lock, _index_lock(self.index_dir):
            base = self._base()
            if doc_id not in base.documents:
                raise DocumentNotFoundError(
                    f"no document with id {doc_id!r}: GET /documents lists the ids"
                )
            target = self.mirror.check_writable(doc_id) if self.mirror else None
            new = self._build(_others(base, doc_id), base)
            self._save(new)
            self._prune_originals(new)
            self.service.swap_index(new)
            if target is not None:
                self._remove(target)
        return DeleteResult(doc_id, len(new.documents))

    def _base(self) -> Index:
        """The version on disk: another process (`qa index`, another worker) may have
        saved since this one loaded, and a write must not undo its work."""
        expect = expectation(self.service.embedder, self.chunking)
        live = self.service.index
        same = same_version(read_manifest(self.index_dir), live.manifest)
        base = live if same else Index.load(self.index_dir, expect)
        expect.check(base.manifest, self.index_dir)
        return base

    def _build(self, documents: list[Document], base: Index) -> Index:
        index, _ = build_index(
            documents,
            embedder=self.service.embedder,
            settings=self.chunking,
            previous=base,
            batch_size=self.batch_size,
        )
        return index

    def _save(self, index: Index) -> None:
        try:
            index.save(self.index_dir)
        except OSError as exc:
            log.exception("saving the index in %s failed", self.index_dir)
            raise storage_error(exc, f"the index in {self.index_dir}") from exc

    def _keep_original(self, original: bytes | None) -> None:
        """An uploaded file is kept beside the index before the index names it."""
        if original is None:
            return
        try:
            OriginalStore(self.index_dir).put(original)
        except OSError as exc:
            raise storage_error(exc, f"the index folder {self.index_dir}") from exc

    def _prune_originals(self, index: Index) -> None:
        try:  # under the write lock: no other writer is between its put and its save
            OriginalStore(self.index_dir).prune({d.source_hash for d in index.documents.values()})
        except OSError:
            log.warning("could not prune the kept originals in %s", self.index_dir)

    @staticmethod
    def _remove(target: Path) -> None:
        try:
            CorpusMirror.remove(target)
        except OSError as exc:
            raise CorpusSyncError(
                f"the document is deleted from the index, but its file could not be removed "
                f"from the corpus folder ({exc.strerror}): delete {target} by hand, or "
                "`qa index` will bring it back"
            ) from exc

    def _commit(self, staged: Staged) -> None:
        try:
            staged.commit()
        except OSError as exc:
            staged.discard()
            raise CorpusSyncError(
                f"the document is indexed, but its file could not be written to the corpus "
                f"folder ({exc.strerror}): send it again, or `qa index` will drop it"
            ) from exc


def _others(index: Index, doc_id: str) -> list[Document]:
    return [d for d in index.documents.values() if d.doc_id != doc_id]


@contextmanager
def _index_lock(index_dir: Path) -> Iterator[None]:
    """The index's file lock; an index folder that cannot be written is a clear error."""
    with ExitStack() as stack:
        try:
            stack.enter_context(write_lock(index_dir))
        except OSError as exc:
            raise storage_error(exc, f"the index folder {index_dir}") from exc
        yield
