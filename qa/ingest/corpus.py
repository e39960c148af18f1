"""The only module that walks the corpus folder: files in a folder to Documents.

A document's id is its path relative to the corpus folder, with POSIX separators
and the extension kept (`reports/q3.pdf`). `.md` and `.txt` files are read as
text, with or without YAML front matter, byte for byte; `.pdf`, `.html`/`.htm` and
`.docx` are extracted by qa.ingest.formats (in a bounded child process). Anything else is
skipped, and so are empty, undecodable, damaged, too large or too slow files, each
with one reason: one bad file never stops the rest from being indexed.

A file whose bytes hash to the `source_hash` of a document already indexed is not
read again: the stored document (text, layout) is reused, so an unchanged PDF costs
a hash, not an extraction.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.errors import CorpusError
from qa.ingest.attachments import attachment_documents, known_attachments
from qa.ingest.formats import TEXT_FORMATS, Extracted, Limits, format_of, supported_suffixes
from qa.ingest.formats.ocr import parse_languages
from qa.ingest.formats.text import FRONT_MATTER as _FRONT_MATTER
from qa.ingest.formats.text import (
    MAX_METADATA_DEPTH,
    check_front_matter_shape,
    decode,
    parse_text,
    split_front_matter,
)
from qa.ingest.formats.worker import ExtractionWorker, Reader
from qa.types import Document

__all__ = [
    "_FRONT_MATTER",
    "MAX_METADATA_DEPTH",
    "SUPPORTED_SUFFIXES",
    "CorpusScan",
    "check_corpus_folder",
    "check_front_matter_shape",
    "content_hash",
    "document_from",
    "available_cores",
    "extraction_limits",
    "make_document",
    "parse_document",
    "read_document",
    "scan_corpus",
    "source_hash",
    "split_front_matter",
]

log = logging.getLogger(__name__)

#: The text suffixes, whose files a JSON document becomes (see qa.ingestion).
SUPPORTED_SUFFIXES = frozenset({".md", ".txt"})


@dataclass
class CorpusScan:
    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: doc_id -> reason, for every file that was not read (the CLI's summary lists them).
    skipped: dict[str, str] = field(default_factory=dict)
    reused: int = 0  # unchanged files whose stored document was kept without reading

    def skipped_summary(self) -> str:
        """One line listing every file not read and why, for the end of `qa index`."""
        if not self.skipped:
            return ""
        files = "; ".join(f"{doc_id} ({reason})" for doc_id, reason in self.skipped.items())
        return f"skipped {len(self.skipped)} file{'s' * (len(self.skipped) != 1)}: {files}"


def content_hash(text: str, metadata: Mapping[str, Any], title: str) -> str:
    """Hash of everything the index stores for a document, so an edit anywhere counts."""
    h = hashlib.sha256()
    for part in (title, repr(sorted(metadata.items())), text):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def source_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_document(
    doc_id: str, text: str, *, title: str | None = None, metadata: Mapping[str, Any] | None = None
) -> Document:
    """Build a Document; the title falls back to the metadata, then to the file name."""
    meta = dict(metadata or {})
    meta_title = meta.pop("title", None)
    resolved = (title or (str(meta_title) if meta_title is not None else "")).strip()
    if not resolved:
        resolved = Path(doc_id).stem.replace("-", " ").replace("_", " ").strip() or doc_id
    return Document(
        doc_id=doc_id,
        title=resolved,
        text=text,
        content_hash=content_hash(text, meta, resolved),
        metadata=meta,
    )


def document_from(doc_id: str, extracted: Extracted, *, data: bytes) -> Document:
    """The Document for what a format module read from `data`."""
    if not extracted.text.strip():
        raise ValueError("it has no text")
    doc = make_document(doc_id, extracted.text, title=extracted.title, metadata=extracted.metadata)
    return replace(
        doc,
        format=extracted.format,
        pages=extracted.pages,
        sections=extracted.sections,
        source_hash=source_hash(data),
    )


def parse_document(doc_id: str, raw: str) -> Document:
    """Parse the decoded content of one text file. Raises ValueError with a reason."""
    fmt = format_of(doc_id)
    extracted = parse_text(raw, fmt=fmt if fmt in TEXT_FORMATS else "text")
    return document_from(doc_id, extracted, data=raw.encode("utf-8"))


def read_document(
    data: bytes,
    doc_id: str,
    *,
    worker: Reader,
    known: Document | None = None,
    carried: list[tuple[str, bytes]] | None = None,
) -> tuple[Document, bool]:
    """The Document of one file's bytes, and whether it was reused from `known`. The
    files it carries (a mail's attachments) are added to `carried` when given."""
    digest = source_hash(data)
    fmt = format_of(doc_id)
    if known is not None and known.source_hash == digest and known.format == fmt:
        return known, True
    if fmt in TEXT_FORMATS:
        extracted = parse_text(decode(data), fmt=str(fmt))
    else:
        extracted = worker.extract(data, doc_id)
    if carried is not None:
        carried.extend(extracted.attachments)
    return document_from(doc_id, extracted, data=data), False


def extraction_limits(settings: Settings) -> Limits:
    return Limits(
        max_file_bytes=settings.max_file_bytes,
        timeout_s=settings.extract_timeout_s,
        ocr=settings.ocr,
        ocr_languages=parse_languages(settings.ocr_languages),
    )


def _candidate_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        rel_parts = path.relative_to(root).parts
        if any(part.startswith(".") for part in rel_parts):
            continue  # hidden files and folders (.git, editor swap files)
        if path.is_file():
            yield path


def _read_bytes(path: Path, limits: Limits) -> bytes:
    size = path.stat().st_size
    if size > limits.max_file_bytes:  # refuse before reading a file of any size
        raise ValueError(
            f"it is {size:,} bytes, over the limit of {limits.max_file_bytes:,} (QA_MAX_FILE_BYTES)"
        )
    return path.read_bytes()


def check_corpus_folder(root: Path) -> None:
    """Raise CorpusError unless `root` is a folder (before a model is loaded for nothing)."""
    if not root.exists():
        raise CorpusError(f"corpus folder {root} does not exist: create it or set QA_CORPUS_DIR")
    if not root.is_dir():
        raise CorpusError(f"corpus path {root} is not a folder")


def available_cores() -> int:
    """The CPUs this process may run on (a container's share, not the host's count)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def scan_corpus(
    root: Path,
    *,
    known: Mapping[str, Document] | None = None,
    limits: Limits | None = None,
    worker: ExtractionWorker | None = None,
    processes: int | None = None,
    readers: Sequence[Reader] | None = None,
) -> CorpusScan:
    """Read every supported document under `root`, collecting a reason for the rest.

    `known` (the documents of the index being updated) lets unchanged files be reused.
    Files are read by `processes` extraction children at once (default: one per core;
    each starts only when a file needs it), so OCR, the slow step, uses every core; with
    a `worker`, by that one child; with `readers` (RemoteReaders on Ray, for instance),
    by those, one file each at a time. The result is in file order either way. Only the
    readers made here are closed here.
    """
    check_corpus_folder(root)
    scan = CorpusScan()
    files = [(path, path.relative_to(root).as_posix()) for path in _candidate_files(root)]
    owned = worker is None and not readers
    if worker is not None:
        readers = [worker]
    elif not readers:
        count = max(1, min(processes or available_cores(), len(files)))
        readers = [ExtractionWorker(limits=limits or Limits()) for _ in range(count)]
    try:
        outcomes = _read_all(files, readers, known or {})
        for (_, doc_id), outcome in zip(files, outcomes, strict=True):
            if isinstance(outcome, str):
                scan.skipped[doc_id] = outcome
                continue
            doc, reused, reason, carried = outcome
            if reason:
                scan.skipped[doc_id] = reason
            scan.documents.append(doc)
            scan.reused += reused
            _scan_attachments(scan, doc, carried, readers[0], known or {})
    finally:
        if owned:
            for reader in readers:
                reader.close()
    scan.warnings = [f"skipped {doc_id}: {reason}" for doc_id, reason in scan.skipped.items()]
    for message in scan.warnings:
        log.warning(message)
    return scan


#: A file's outcome: its reason when skipped, else (document, reused, a kept-version note,
#: the files it carries: None when it was reused, and so are they).
_Outcome = str | tuple[Document, bool, str, tuple[tuple[str, bytes], ...] | None]


def _read_all(
    files: list[tuple[Path, str]], readers: Sequence[Reader], known: Mapping[str, Document]
) -> list[_Outcome]:
    if len(readers) == 1:
        return [_read_one(path, doc_id, readers[0], known) for path, doc_id in files]
    idle: queue.SimpleQueue[Reader] = queue.SimpleQueue()
    for reader in readers:
        idle.put(reader)

    def read(item: tuple[Path, str]) -> _Outcome:
        reader = idle.get()
        try:
            return _read_one(item[0], item[1], reader, known)
        finally:
            idle.put(reader)

    # Largest files first (a long scan started last would leave the other children idle
    # while it finishes); the outcomes come back in file order all the same.
    order = sorted(range(len(files)), key=lambda i: -_size(files[i][0]))
    with ThreadPoolExecutor(max_workers=len(readers), thread_name_prefix="qa-read") as pool:
        done = dict(zip(order, pool.map(read, [files[i] for i in order]), strict=True))
    return [done[i] for i in range(len(files))]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _read_one(path: Path, doc_id: str, worker: Reader, known: Mapping[str, Document]) -> _Outcome:
    if format_of(doc_id) is None:
        return f"only {supported_suffixes()} files are read"
    previous = known.get(doc_id)
    carried: list[tuple[str, bytes]] = []
    try:
        doc, reused = read_document(
            _read_bytes(path, worker.limits),
            doc_id,
            worker=worker,
            known=previous,
            carried=carried,
        )
    except (ValueError, OSError) as exc:
        if previous is None:
            return str(exc)
        # A file that read before and fails now (a time-out on a busy machine, a half-
        # copied file) keeps its indexed version rather than vanish from the index.
        return previous, True, f"{exc}; the version indexed before is kept", None
    return doc, reused, "", None if reused else tuple(carried)


def _scan_attachments(
    scan: CorpusScan,
    mail: Document,
    carried: tuple[tuple[str, bytes], ...] | None,
    worker: Reader,
    known: Mapping[str, Document],
) -> None:
    """A mail's attachments as documents of their own (see qa.ingest.attachments)."""
    if carried is None:  # the mail was reused: so are its attachments
        kept = known_attachments(mail, known)
        scan.documents.extend(kept)
        scan.reused += len(kept)
        return
    found = attachment_documents(mail, carried, extract=worker.extract, build=document_from)
    for doc_id, result in found:
        if isinstance(result, str):
            scan.skipped[doc_id] = result
        else:
            scan.documents.append(result)
