"""What a document added over the API may be: its id, metadata and text, checked, and the
exact corpus file that `qa index` would read it back from. Pure: no I/O, no web import."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import yaml

from qa.errors import (
    FileTooLargeError,
    InvalidDocumentError,
    UnreadableDocumentError,
    UnsupportedMediaTypeError,
)
from qa.ingest.corpus import (
    _FRONT_MATTER,
    MAX_METADATA_DEPTH,
    SUPPORTED_SUFFIXES,
    document_from,
    parse_document,
)
from qa.ingest.formats import FORMATS, TEXT_FORMATS, Extracted, format_of, supported_suffixes
from qa.types import Document

MAX_DOC_ID_CHARS = 200
MAX_SEGMENT_BYTES = 255  # NAME_MAX: the longest file name most file systems take
MAX_TITLE_CHARS = 500
MAX_TEXT_CHARS = 1_000_000
MAX_METADATA_KEYS = 64
# Unicode categories refused in ids: controls, invisible format characters (which can
# disguise a name, e.g. right-to-left overrides), lone surrogates, line separators.
_BAD_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

# The rules that a JSON Schema pattern can state (the rest are checked in code), so that
# clients and API fuzzers can generate valid ids.
_SEGMENT = r"[^/\\.\x00-\x1f\x7f-\x9f][^/\\\x00-\x1f\x7f-\x9f]*"
DOC_ID_PATTERN = rf"^(?:{_SEGMENT}/)*{_SEGMENT}\.(?:[mM][dD]|[tT][xX][tT])$"
DOC_ID_RULES = (
    "A relative path with '/' between folders, ending in .md or .txt, as `qa index` names "
    f"files in the corpus folder: at most {MAX_DOC_ID_CHARS} characters; no leading '/', no "
    "backslashes, no empty, '.' or '..' segments, no segment starting with '.' (hidden "
    "files are not indexed), no control or invisible characters."
)


def doc_id_problem(doc_id: str, *, any_format: bool = False) -> str | None:
    """Why `doc_id` cannot name a document, or None when it can. JSON documents are text
    (.md, .txt); an uploaded file may also be of another format (`any_format`)."""
    if not doc_id:
        return "doc_id is empty: give a file name such as notes/meeting.md"
    if len(doc_id) > MAX_DOC_ID_CHARS:
        return f"doc_id is {len(doc_id)} characters long: use at most {MAX_DOC_ID_CHARS}"
    bad = next((c for c in doc_id if unicodedata.category(c) in _BAD_CATEGORIES), None)
    if bad is not None:
        return f"doc_id contains the control or invisible character U+{ord(bad):04X}: remove it"
    if "\\" in doc_id:
        return "doc_id contains a backslash: separate folders with '/'"
    if doc_id.startswith("/"):
        return "doc_id is an absolute path: make it relative, e.g. notes/meeting.md"
    for segment in doc_id.split("/"):
        problem = _segment_problem(segment)
        if problem:
            return problem
    suffix = PurePosixPath(doc_id).suffix.lower()
    if any_format and suffix in FORMATS:
        return None
    if suffix not in SUPPORTED_SUFFIXES:
        return "doc_id must end in .md or .txt, like the files `qa index` reads"
    return None


def _segment_problem(segment: str) -> str | None:
    if segment == "":
        return "doc_id has an empty segment ('//' or a trailing '/'): remove it"
    if segment in (".", ".."):
        return f"doc_id has a '{segment}' segment: give the path without it"
    if segment.startswith("."):
        return f"doc_id segment {segment!r} starts with '.': `qa index` skips hidden files"
    if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
        return f"doc_id segment is longer than {MAX_SEGMENT_BYTES} bytes: shorten it"
    return None


def validate_doc_id(doc_id: str, *, any_format: bool = False) -> str:
    problem = doc_id_problem(doc_id, any_format=any_format)
    if problem:
        raise InvalidDocumentError(problem)
    return doc_id


def metadata_problem(value: Any, depth: int = 0) -> str | None:
    """Why `value` cannot be stored as metadata (JSON and YAML front matter), or None."""
    if depth > MAX_METADATA_DEPTH:
        return f"metadata is nested more than {MAX_METADATA_DEPTH} levels deep"
    if isinstance(value, float) and not math.isfinite(value):
        return "metadata numbers must be finite (no NaN or infinity)"
    if isinstance(value, list):
        return next((p for v in value if (p := metadata_problem(v, depth + 1))), None)
    if isinstance(value, dict):
        if depth == 0 and len(value) > MAX_METADATA_KEYS:
            return f"metadata has {len(value)} keys: use at most {MAX_METADATA_KEYS}"
        if depth == 0 and "title" in value:
            return "metadata has a 'title' key: send the title in the title field"
        return next((p for v in value.values() if (p := metadata_problem(v, depth + 1))), None)
    return None


@dataclass(frozen=True)
class Prepared:
    """A document and the exact file that `qa index` would read it back from: `file_text`
    for text, the uploaded bytes (`original`, kept as the document's original) otherwise."""

    document: Document
    file_text: str
    original: bytes | None = None

    @property
    def file_bytes(self) -> bytes:
        return self.original if self.original is not None else self.file_text.encode("utf-8")


def prepare_json(
    doc_id: str, text: str, *, title: str | None, metadata: Mapping[str, Any]
) -> Prepared:
    """The corpus file for a JSON document, and the Document parsed back from it: what the
    API indexes is then exactly what `qa index` reads from the folder."""
    validate_doc_id(doc_id)
    front: dict[str, Any] = {"title": title.strip()} if title and title.strip() else {}
    front.update(metadata)
    file_text = _with_front_matter(front, text)
    document = _parse(doc_id, file_text)
    if document.text != text or dict(document.metadata) != dict(metadata):
        raise InvalidDocumentError(
            "the metadata or text does not survive being stored as a Markdown file with YAML "
            "front matter: simplify the metadata values"
        )
    return Prepared(document, file_text)


def prepare_upload(doc_id: str, data: bytes) -> Prepared:
    """An uploaded .md or .txt file: its front matter gives the title and metadata."""
    validate_doc_id(doc_id)
    try:
        raw = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDocumentError(
            f"the file is not valid UTF-8 (byte {exc.start}): save it as UTF-8 and upload it again"
        ) from None
    document = _parse(doc_id, raw)
    problem = metadata_problem(dict(document.metadata))
    if problem:
        raise InvalidDocumentError(f"the file's front matter is not usable: {problem}")
    return Prepared(document, raw)


def _with_front_matter(front: Mapping[str, Any], text: str) -> str:
    if front:
        dumped = yaml.safe_dump(dict(front), allow_unicode=True, sort_keys=False, width=1 << 30)
        return f"---\n{dumped}---\n{text}"
    # Plain text reads back unchanged unless it starts like front matter or with a BOM.
    if _FRONT_MATTER.match(text) or text.startswith("\ufeff"):
        return f"---\n{{}}\n---\n{text}"
    return text


def _parse(doc_id: str, raw: str) -> Document:
    try:
        return parse_document(doc_id, raw)
    except ValueError as exc:
        raise InvalidDocumentError(f"the document cannot be indexed: {exc}") from None


def check_upload(doc_id: str, data: bytes, *, max_file_bytes: int) -> str:
    """The format of an uploaded file, after checking its id and size (415, 413)."""
    fmt = format_of(doc_id)
    if fmt is None:
        suffix = PurePosixPath(doc_id).suffix or "(none)"
        raise UnsupportedMediaTypeError(
            f"cannot read {suffix} files: upload one of {supported_suffixes()}"
        )
    validate_doc_id(doc_id, any_format=True)
    if len(data) > max_file_bytes:
        raise FileTooLargeError(
            f"the file is {len(data):,} bytes, over the limit of {max_file_bytes:,} "
            "(QA_MAX_FILE_BYTES)"
        )
    return fmt


def prepare_file(
    doc_id: str, data: bytes, *, max_file_bytes: int, extract: Callable[[bytes, str], Extracted]
) -> Prepared:
    """An uploaded file of any format: text as prepare_upload reads it; the others through
    `extract` (the bounded reader), whose ValueError is the reason the file is refused."""
    if check_upload(doc_id, data, max_file_bytes=max_file_bytes) in TEXT_FORMATS:
        return prepare_upload(doc_id, data)
    try:
        document = document_from(doc_id, extract(data, doc_id), data=data)
    except ValueError as exc:
        raise UnreadableDocumentError(f"the file cannot be indexed: {exc}") from None
    return Prepared(document, "", original=data)
