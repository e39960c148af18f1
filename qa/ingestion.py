"""Live ingestion: add, replace and delete documents while the service answers questions.

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

The HTTP edge (schemas and routes) is at the end of this module; `qa.api` installs it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import logging
import math
import os
import threading
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import partial
from importlib.util import find_spec
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal, TypeVar

import anyio
import yaml
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.datastructures import UploadFile

from qa.api import ErrorOut, get_service
from qa.chunking import ChunkSettings
from qa.config import Settings
from qa.corpus import _FRONT_MATTER, MAX_METADATA_DEPTH, SUPPORTED_SUFFIXES, parse_document
from qa.errors import (
    BadRequestError,
    CorpusSyncError,
    DocIdClashError,
    DocumentNotFoundError,
    IndexWriteError,
    InvalidDocumentError,
    QAError,
    StorageFullError,
    UnsupportedMediaTypeError,
)
from qa.index import Index, fsync_dir, read_manifest, write_lock
from qa.indexing import build_index, expectation
from qa.security import (
    WWW_AUTHENTICATE,
    BodyLimitMiddleware,
    ReadKeyMiddleware,
    UnauthorizedError,
    authorize_write,
)
from qa.service import QAService, chunk_settings
from qa.types import Document

log = logging.getLogger(__name__)

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


# ----- ids and document contents (pure) ----------------------------------------------------


def doc_id_problem(doc_id: str) -> str | None:
    """Why `doc_id` cannot name a document, or None when it can."""
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
    if PurePosixPath(doc_id).suffix.lower() not in SUPPORTED_SUFFIXES:
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


def validate_doc_id(doc_id: str) -> str:
    problem = doc_id_problem(doc_id)
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
    """A document and the exact file that `qa index` would read it back from."""

    document: Document
    file_text: str


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


# ----- the corpus folder mirror --------------------------------------------------------------


class _Staged:
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

    def stage(self, doc_id: str, file_text: str) -> _Staged:
        target = self._target(doc_id)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")  # hidden: skipped
            with tmp.open("wb") as fh:
                fh.write(file_text.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise _storage_error(exc, f"the corpus folder {self.root}", corpus=True) from exc
        return _Staged(tmp, target)

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


def _storage_error(exc: OSError, where: str, *, corpus: bool = False) -> QAError:
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


# ----- the writer ------------------------------------------------------------------------------


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
            staged = self.mirror.stage(doc.doc_id, prepared.file_text) if self.mirror else None
            try:
                if old is not None and old.content_hash == doc.content_hash:
                    status: Literal["created", "replaced", "unchanged"] = "unchanged"
                    new = base
                else:
                    status = "created" if old is None else "replaced"
                    new = self._build([*_others(base, doc.doc_id), doc], base)
                    self._save(new)
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
            self.service.swap_index(new)
            if target is not None:
                self._remove(target)
        return DeleteResult(doc_id, len(new.documents))

    def _base(self) -> Index:
        """The version on disk: another process (`qa index`, another worker) may have
        saved since this one loaded, and a write must not undo its work."""
        expect = expectation(self.service.embedder, self.chunking)
        live = self.service.index
        disk = read_manifest(self.index_dir)
        same = disk.created_at == live.manifest.created_at and dict(disk.files) == dict(
            live.manifest.files
        )
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
            raise _storage_error(exc, f"the index in {self.index_dir}") from exc

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

    def _commit(self, staged: _Staged) -> None:
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
            raise _storage_error(exc, f"the index folder {index_dir}") from exc
        yield


# ----- HTTP edge ---------------------------------------------------------------------------------


class DocumentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    doc_id: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_DOC_ID_CHARS,
            description=DOC_ID_RULES,
            examples=["notes/meeting-2024-05-02.md"],
            # In the schema only: the validator below gives clearer messages than a pattern.
            json_schema_extra={"pattern": DOC_ID_PATTERN},
        ),
    ]
    title: Annotated[
        str | None,
        Field(max_length=MAX_TITLE_CHARS, description="Defaults to the file name, tidied."),
    ] = None
    text: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_TEXT_CHARS,
            description="The document text; citations index into it exactly.",
        ),
    ]
    metadata: Annotated[
        dict[str, Any],
        Field(
            description=f"JSON values, at most {MAX_METADATA_KEYS} keys and "
            f"{MAX_METADATA_DEPTH} levels deep; no 'title' key (use title)."
        ),
    ] = {}

    @field_validator("doc_id")
    @classmethod
    def _doc_id(cls, value: str) -> str:
        problem = doc_id_problem(value)
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("text")
    @classmethod
    def _text(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is empty: send the document's text")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        problem = metadata_problem(value)
        if problem:
            raise ValueError(problem)
        return value


class IngestOut(BaseModel):
    doc_id: str
    title: str
    chunks: int = Field(description="How many passages the document was split into.")
    status: Literal["created", "replaced", "unchanged"]
    documents: int = Field(description="Documents in the index now.")


class DeleteOut(BaseModel):
    doc_id: str
    deleted: bool
    documents: int = Field(description="Documents in the index now.")


_UPLOAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["file"],
    "additionalProperties": False,
    "properties": {
        "file": {
            "type": "string",
            "format": "binary",
            "description": "A UTF-8 .md or .txt file; YAML front matter gives title and metadata.",
        },
        "doc_id": {
            "type": "string",
            "maxLength": MAX_DOC_ID_CHARS,
            "pattern": DOC_ID_PATTERN,
            "description": "Defaults to the file's name. " + DOC_ID_RULES,
        },
    },
}

_WRITE_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 413, 415, 422, 503, 507)
}

T = TypeVar("T")
# Declares the scheme in the OpenAPI document; the check itself is qa.security's.
_BEARER = HTTPBearer(auto_error=False, description="The server's QA_API_KEY.")


class _Writers:
    """One Ingestor per live service, and one write at a time per event loop (queued
    on the loop, so waiting writers hold no worker threads that readers need)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.ingestor: Ingestor | None = None
        self.limiter: anyio.CapacityLimiter | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def _limiter(self) -> anyio.CapacityLimiter:
        loop = asyncio.get_running_loop()
        if self.limiter is None or self.loop is not loop:
            self.limiter, self.loop = anyio.CapacityLimiter(1), loop
        return self.limiter

    async def run(self, request: Request, work: Callable[[Ingestor], T]) -> T:
        service = get_service(request)
        if self.ingestor is None or self.ingestor.service is not service:
            self.ingestor = Ingestor.from_settings(service, self.settings)
        ingestor = self.ingestor
        # Embedding and saving are CPU and disk work: never on the event loop.
        return await anyio.to_thread.run_sync(partial(work, ingestor), limiter=self._limiter())


def install_ingestion(app: FastAPI, settings: Settings) -> None:
    """POST and DELETE /documents, the API key and the request size limits."""
    key = settings.api_key or None  # an empty QA_API_KEY means none, never "any key"
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    if settings.require_key_for_reads and key:
        app.add_middleware(ReadKeyMiddleware, api_key=key)
    app.add_exception_handler(UnauthorizedError, _unauthorized)
    app.include_router(_router(settings, key))


async def _unauthorized(_: Request, exc: Exception) -> JSONResponse:
    message = exc.message if isinstance(exc, QAError) else "unauthorized"
    return JSONResponse(
        {"error": "unauthorized", "message": message},
        status_code=401,
        headers={"WWW-Authenticate": WWW_AUTHENTICATE},
    )


def _router(settings: Settings, key: str | None) -> APIRouter:
    writers = _Writers(settings)

    def writer(request: Request, credentials: Annotated[Any, Depends(_BEARER)]) -> None:
        # The raw header, not `credentials`: a malformed one must get a 401 that says so.
        authorize_write(key, request.headers.get("authorization"))

    router = APIRouter(dependencies=[Depends(writer)], responses=_WRITE_ERRORS)

    @router.post(
        "/documents",
        status_code=201,
        response_model=IngestOut,
        responses={200: {"model": IngestOut, "description": "Replaced, or already identical"}},
        summary="Add or replace a document (needs the API key)",
        openapi_extra={"requestBody": _request_body()},
    )
    async def add_document(request: Request) -> JSONResponse:
        prepared = await _read_document(request)
        result = await writers.run(request, lambda ing: ing.add(prepared))
        body = IngestOut(**dataclasses.asdict(result))
        return JSONResponse(
            body.model_dump(), status_code=201 if result.status == "created" else 200
        )

    @router.delete(
        "/documents/{doc_id:path}",
        response_model=DeleteOut,
        summary="Delete a document (needs the API key)",
    )
    async def delete_document(
        doc_id: Annotated[str, PathParam(max_length=1000)], request: Request
    ) -> DeleteOut:
        result = await writers.run(request, lambda ing: ing.delete(doc_id))
        return DeleteOut(doc_id=result.doc_id, deleted=True, documents=result.documents)

    return router


def _request_body() -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": DocumentIn.model_json_schema()},
            "multipart/form-data": {"schema": _UPLOAD_SCHEMA},
        },
    }


async def _read_document(request: Request) -> Prepared:
    """The document in the body, parsed and checked; YAML work runs on a worker thread."""
    content_type = request.headers.get("content-type") or "application/json"
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        return await _from_upload(request)
    if media == "application/json" or media.endswith("+json"):
        payload = _from_json(await request.body())
        return await anyio.to_thread.run_sync(
            partial(
                prepare_json,
                payload.doc_id,
                payload.text,
                title=payload.title,
                metadata=payload.metadata,
            )
        )
    raise UnsupportedMediaTypeError(
        f"cannot read a {media} body: send the document as application/json "
        '({"doc_id", "text", "title", "metadata"}) or upload a file as multipart/form-data'
    )


def _from_json(body: bytes) -> DocumentIn:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequestError(
            f"the request body is not valid UTF-8 (byte {exc.start}): send UTF-8 JSON such as "
            '{"doc_id": "notes/a.md", "text": "..."}'
        ) from None
    try:
        return DocumentIn.model_validate_json(body)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


MULTIPART = find_spec("python_multipart") is not None


async def _from_upload(request: Request) -> Prepared:
    if not MULTIPART:
        raise UnsupportedMediaTypeError(
            "this server cannot read file uploads (python-multipart is not installed): "
            "send the document as JSON instead"
        )
    async with request.form(max_files=1, max_fields=1, max_part_size=MAX_DOC_ID_CHARS * 4) as form:
        unknown = sorted(set(form.keys()) - {"file", "doc_id"})
        if unknown:
            raise InvalidDocumentError(
                f"unexpected form fields {unknown}: send only 'file' and, optionally, 'doc_id'"
            )
        upload = form.get("file")
        given = form.get("doc_id")
        if not isinstance(upload, UploadFile):
            raise InvalidDocumentError(
                "file: attach the document as a file part named 'file' (a .md or .txt file)"
            )
        if given is not None and not isinstance(given, str):
            raise InvalidDocumentError("doc_id: send it as a text field, not a file")
        doc_id = given or PurePosixPath((upload.filename or "").replace("\\", "/")).name
        if not doc_id:
            raise InvalidDocumentError("doc_id: give a doc_id field or a file name")
        data = await upload.read()
    return await anyio.to_thread.run_sync(prepare_upload, doc_id, data)
