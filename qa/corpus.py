"""The only module that reads documents: files in a folder to Documents.

A document's id is its path relative to the corpus folder, with POSIX separators
and the extension kept. `.md` and `.txt` files are read, with or without YAML
front matter; anything else is skipped with a warning, and so are empty or
undecodable files: one bad file never stops the rest from being indexed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from qa.errors import CorpusError
from qa.types import Document

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = frozenset({".md", ".txt"})
MAX_METADATA_DEPTH = 8
MAX_FRONT_MATTER_EVENTS = 10_000
# Front matter: a first line of exactly '---', YAML, then a line of '---' (or '...').
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?\r?\n)?(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)


@dataclass
class CorpusScan:
    documents: list[Document] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def content_hash(text: str, metadata: Mapping[str, Any], title: str) -> str:
    """Hash of everything the index stores for a document, so an edit anywhere counts."""
    h = hashlib.sha256()
    for part in (title, repr(sorted(metadata.items())), text):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()


def split_front_matter(raw: str) -> tuple[dict[str, Any], str]:
    """Return (metadata, body). The body is the rest of the file, byte for byte."""
    match = _FRONT_MATTER.match(raw)
    if not match:
        return {}, raw
    check_front_matter_shape(match.group(1) or "")
    try:
        loaded = yaml.safe_load(match.group(1) or "")
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML front matter: {exc}") from exc
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise ValueError("front matter must be a YAML mapping (key: value lines)")
    return {str(k): _plain(v) for k, v in loaded.items()}, raw[match.end() :]


def check_front_matter_shape(yaml_text: str) -> None:
    """Refuse YAML that would expand or nest without bound before it is loaded: aliases
    can make a few bytes stand for gigabytes of metadata, and deep nesting overflows
    the loader's stack. Raises ValueError."""
    depth = 0
    try:
        for count, event in enumerate(yaml.parse(yaml_text, Loader=yaml.SafeLoader)):
            if isinstance(event, yaml.AliasEvent):
                raise ValueError("front matter must not use YAML aliases (*name)")
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if depth > MAX_METADATA_DEPTH + 1 or count > MAX_FRONT_MATTER_EVENTS:
                raise ValueError("front matter is too large or too deeply nested")
    except yaml.YAMLError as exc:
        raise ValueError(f"invalid YAML front matter: {exc}") from exc


def _plain(value: Any) -> Any:
    """YAML turns 2020-01-08 into a date; keep metadata JSON-friendly."""
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


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


def parse_document(doc_id: str, raw: str) -> Document:
    """Parse the decoded content of one file. Raises ValueError with a reason."""
    metadata, body = split_front_matter(raw)
    if not body.strip():
        raise ValueError("it has no text")
    return make_document(doc_id, body, metadata=metadata)


def read_document(path: Path, doc_id: str) -> Document:
    data = path.read_bytes()
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"it is not valid UTF-8 (byte {exc.start})") from exc
    return parse_document(doc_id, raw)


def _candidate_files(root: Path) -> Iterator[Path]:
    for path in sorted(root.rglob("*")):
        rel_parts = path.relative_to(root).parts
        if any(part.startswith(".") for part in rel_parts):
            continue  # hidden files and folders (.git, editor swap files)
        if path.is_file():
            yield path


def scan_corpus(root: Path) -> CorpusScan:
    """Read every supported document under `root`, collecting warnings for the rest."""
    if not root.exists():
        raise CorpusError(f"corpus folder {root} does not exist: create it or set QA_CORPUS_DIR")
    if not root.is_dir():
        raise CorpusError(f"corpus path {root} is not a folder")
    scan = CorpusScan()
    for path in _candidate_files(root):
        doc_id = path.relative_to(root).as_posix()
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            scan.warnings.append(f"skipped {doc_id}: only .md and .txt files are read")
            continue
        try:
            scan.documents.append(read_document(path, doc_id))
        except (ValueError, OSError) as exc:
            scan.warnings.append(f"skipped {doc_id}: {exc}")
    for message in scan.warnings:
        log.warning(message)
    return scan
