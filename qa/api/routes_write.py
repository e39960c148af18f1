"""The write routes: POST and DELETE /documents, behind the API key. They read and check
the body (JSON or a multipart file upload), then hand the work to `qa.live.writer` on a
worker thread, one write at a time."""

from __future__ import annotations

import dataclasses
from functools import partial
from pathlib import PurePosixPath
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from qa.api.schemas import (
    UPLOAD_SCHEMA,
    WRITE_ERRORS,
    DeleteOut,
    DocumentIn,
    IngestOut,
)
from qa.api.security import authorize_write
from qa.api.state import Resolver, Target, single_target
from qa.config import Settings
from qa.errors import BadRequestError, InvalidDocumentError, UnsupportedMediaTypeError
from qa.ingest.corpus import extraction_limits
from qa.ingest.doc_rules import MAX_DOC_ID_CHARS, Prepared, prepare_file, prepare_json
from qa.ingest.formats.worker import ExtractionWorker

# Declares the scheme in the OpenAPI document; the check itself is qa.api.security's.
BEARER = HTTPBearer(auto_error=False, description="The server's QA_API_KEY.")


def single_writer(settings: Settings) -> Resolver:
    """The write check of a server without collections: its one QA_API_KEY."""
    key = settings.api_key or None  # an empty QA_API_KEY means none, never "any key"

    def writer(request: Request, credentials: Annotated[Any, Depends(BEARER)]) -> Target:
        # The raw header, not `credentials`: a malformed one must get a 401 that says so.
        authorize_write(key, request.headers.get("authorization"))
        return single_target(request)

    return writer


def write_router(settings: Settings, resolve: Resolver | None = None) -> APIRouter:
    """POST and DELETE /documents, on the target `resolve` gives (and lets write)."""
    # A default, not Annotated: the dependency is a local, and annotations are strings.
    writable = Depends(resolve or single_writer(settings))
    # Uploaded PDF, HTML and Word files are read in a child process, bounded in time and
    # memory, so a hostile file cannot hang or crash the server.
    reader = ExtractionWorker(limits=extraction_limits(settings))

    router = APIRouter(responses=WRITE_ERRORS)

    @router.post(
        "/documents",
        status_code=201,
        response_model=IngestOut,
        responses={200: {"model": IngestOut, "description": "Replaced, or already identical"}},
        summary="Add or replace a document (needs the API key)",
        openapi_extra={"requestBody": _request_body()},
    )
    async def add_document(request: Request, target: Target = writable) -> JSONResponse:
        prepared = await _read_document(request, settings, reader)
        result = await target.write(lambda ing: ing.add(prepared))
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
        doc_id: Annotated[str, PathParam(max_length=1000)], target: Target = writable
    ) -> DeleteOut:
        result = await target.write(lambda ing: ing.delete(doc_id))
        return DeleteOut(doc_id=result.doc_id, deleted=True, documents=result.documents)

    return router


def _request_body() -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {"schema": DocumentIn.model_json_schema()},
            "multipart/form-data": {"schema": UPLOAD_SCHEMA},
        },
    }


async def _read_document(
    request: Request, settings: Settings, reader: ExtractionWorker
) -> Prepared:
    """The document in the body, parsed and checked; YAML and file reading run on a worker
    thread."""
    content_type = request.headers.get("content-type") or "application/json"
    media = content_type.split(";", 1)[0].strip().lower()
    if media == "multipart/form-data":
        doc_id, data = await _from_upload(request)
        return await anyio.to_thread.run_sync(
            partial(
                prepare_file,
                doc_id,
                data,
                max_file_bytes=settings.max_file_bytes,
                extract=reader.extract,
            )
        )
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


async def _from_upload(request: Request) -> tuple[str, bytes]:
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
                "file: attach the document as a file part named 'file' "
                "(.md, .txt, .pdf, .html, .htm or .docx)"
            )
        if given is not None and not isinstance(given, str):
            raise InvalidDocumentError("doc_id: send it as a text field, not a file")
        doc_id = given or PurePosixPath((upload.filename or "").replace("\\", "/")).name
        if not doc_id:
            raise InvalidDocumentError("doc_id: give a doc_id field or a file name")
        data = await upload.read()
    return doc_id, data
