"""The corpus folder mirror: documents written over the API are kept as files there, so
that `qa index`, which rebuilds from that folder, keeps them (QA_SYNC_CORPUS).

Files are staged hidden beside their final place, fsynced, and renamed into place only
after the index that holds them is saved; removals wait likewise.
"""

from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path

from qa.errors import (
    CorpusSyncError,
    DocIdClashError,
    IndexWriteError,
    InvalidDocumentError,
    QAError,
    StorageFullError,
)
from qa.search.index import fsync_dir


class Staged:
    """A document file written next to its final place, not yet visible to `qa index`."""

    def __init__(self, tmp: Path, target: Path) -> None:
        self.tmp = tmp
        self.target = target

    def commit(self) -> None:
        os.replace(self.tmp, self.target)
        fsync_dir(self.target.parent)

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


class CorpusMirror:
    """Writes and removes document files in the corpus folder, atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _target(self, doc_id: str) -> Path:
        if not self.root.is_dir():
            raise CorpusSyncError(
                f"the corpus folder {self.root} does not exist, so an added document could "
                "not be kept for `qa index`: create it, point QA_CORPUS_DIR at it, or set "
                "QA_SYNC_CORPUS=false to keep API documents in the index only"
            )
        root = self.root.resolve()
        target = root.joinpath(*doc_id.split("/"))
        for parent in reversed(target.parents):
            if parent.is_relative_to(root) and parent.exists() and not parent.is_dir():
                raise DocIdClashError(
                    f"doc_id {doc_id!r} needs a folder where the corpus has the file "
                    f"{parent.relative_to(root).as_posix()!r}: choose another doc_id"
                )
        if target.is_dir():
            raise DocIdClashError(
                f"doc_id {doc_id!r} names a folder in the corpus: choose another doc_id"
            )
        if target.parent.exists() and not target.parent.resolve().is_relative_to(root):
            raise InvalidDocumentError(f"doc_id {doc_id!r} leads outside the corpus folder")
        return target

    def stage(self, doc_id: str, file_bytes: bytes | str) -> Staged:
        """Write the document's file beside its target, hidden, to be renamed on commit."""
        if isinstance(file_bytes, str):
            file_bytes = file_bytes.encode("utf-8")
        target = self._target(doc_id)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")  # hidden: skipped
            with tmp.open("wb") as fh:
                fh.write(file_bytes)
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise storage_error(exc, f"the corpus folder {self.root}", corpus=True) from exc
        return Staged(tmp, target)

    def check_writable(self, doc_id: str) -> Path | None:
        """The file to remove for `doc_id`, after checking that it can be removed."""
        target = self._target(doc_id)
        if not target.is_file():
            return None
        if not os.access(target.parent, os.W_OK):
            raise CorpusSyncError(
                f"cannot remove {doc_id!r} from the corpus folder {self.root} (not writable): "
                "make it writable or set QA_SYNC_CORPUS=false"
            )
        return target

    @staticmethod
    def remove(target: Path) -> None:
        target.unlink(missing_ok=True)
        fsync_dir(target.parent)


def storage_error(exc: OSError, where: str, *, corpus: bool = False) -> QAError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFullError(
            f"no space left to write {where}: free some disk space and try again; "
            "the previous index is still live and unchanged"
        )
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        if corpus:
            return CorpusSyncError(
                f"cannot write {where} ({exc.strerror}): make it writable or set "
                "QA_SYNC_CORPUS=false to keep API documents in the index only"
            )
        return IndexWriteError(f"cannot write {where} ({exc.strerror}): make it writable")
    return IndexWriteError(
        f"writing {where} failed ({exc.strerror or exc}): the previous index is still live "
        "and unchanged; the server log has details"
    )
