"""The original files behind documents, for `GET /documents/{id}/original` and page images.

A document indexed from the corpus folder has its original there. A live upload is kept
here as well, beside the index (`<index>/originals/<sha256 of the bytes>`), whether or
not the corpus folder is mirrored: the corpus copy may be edited or removed later, and
the original must stay the file as it was indexed. Files are named by their hash, so
two documents with the same bytes share one file and a write is idempotent; files that
no current document names are pruned under the index's write lock.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from qa.ingest.attachments import SEPARATOR, attachment_bytes
from qa.ingest.formats import TEXT_FORMATS
from qa.search.index import read_documents, write_lock
from qa.storage import write_atomic
from qa.types import Document

FOLDER = "originals"
_DIGEST = re.compile(r"[0-9a-f]{64}")


class OriginalStore:
    """Content-addressed files under `<index_dir>/originals`."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.root = index_dir / FOLDER

    def put(self, data: bytes) -> str:
        """Keep `data` (durably, atomically); returns its SHA-256, the document's source hash."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.root / digest
        if target.is_file():
            return digest
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomic(target, data)
        return digest

    def get(self, digest: str) -> bytes | None:
        if not _DIGEST.fullmatch(digest):
            return None
        try:
            return (self.root / digest).read_bytes()
        except FileNotFoundError:
            return None

    def prune(self, keep: set[str]) -> int:
        """Remove kept files no document names any more (and unfinished writes). The
        caller holds the write lock. Returns how many were removed."""
        if not self.root.is_dir():
            return 0
        removed = 0
        for entry in self.root.iterdir():
            if entry.name not in keep:
                entry.unlink(missing_ok=True)
                removed += 1
        return removed

    def prune_to_index(self) -> int:
        """Prune to the documents of the current index version, under the write lock."""
        with write_lock(self.index_dir):
            keep = {d.source_hash for d in read_documents(self.index_dir).values()}
            return self.prune(keep)


def original_bytes(doc: Document, *, corpus_dir: Path, store: OriginalStore) -> bytes | None:
    """The file `doc` was indexed from: the kept upload, else the corpus file (for a mail
    attachment, the attachment inside the mail there) while its bytes still hash as they
    did; a text document without either is its own text. None
    when the original is gone (the corpus file changed since indexing: re-index it)."""
    kept = store.get(doc.source_hash) if doc.source_hash else None
    if kept is not None:
        return kept
    path = corpus_dir / doc.doc_id
    parent = doc.metadata.get("attached_to")
    if isinstance(parent, str) and doc.doc_id.startswith(parent + SEPARATOR):
        return _attachment(doc, corpus_dir / parent, doc.doc_id[len(parent) + 1 :])
    try:
        data = path.read_bytes() if path.is_file() else None
    except OSError:
        data = None
    if data is not None and hashlib.sha256(data).hexdigest() == doc.source_hash:
        return data
    if doc.format in TEXT_FORMATS:
        return doc.text.encode("utf-8")
    return None


def _attachment(doc: Document, mail: Path, name: str) -> bytes | None:
    """A mail attachment's bytes, from the mail in the corpus folder, while they hash as
    they did when indexed."""
    try:
        data = attachment_bytes(mail.read_bytes(), name) if mail.is_file() else None
    except (OSError, ValueError):
        data = None
    if data is not None and hashlib.sha256(data).hexdigest() == doc.source_hash:
        return data
    return None
